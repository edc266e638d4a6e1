using System.Diagnostics;
using Microsoft.Data.Sqlite;
using RlActors.Actors.Persistence;

namespace RlActors.Persistence.Tests;

public sealed class StorePreflightTests : IDisposable
{
    private readonly TempDir _dir = TempDir.Create();

    public void Dispose() => _dir.Dispose();

    private StoreLocation Sqlite(string relative) => StoreLocation.Parse("sqlite:" + relative, _dir.Path);

    private static string RawConnection(string path) =>
        new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ConnectionString;

    private static string JournalMode(string path)
    {
        using var connection = new SqliteConnection(RawConnection(path));
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";
        return (string)command.ExecuteScalar()!;
    }

    [Fact]
    public void Missing_file_is_fine_its_folder_is_created_and_it_is_switched_to_wal()
    {
        var location = Sqlite("deep/er/experiments.db");
        Assert.False(Directory.Exists(Path.GetDirectoryName(location.SqlitePath)));

        StorePreflight.Check(location, TimeSpan.FromSeconds(2));

        Assert.True(File.Exists(location.SqlitePath));
        Assert.Equal("wal", JournalMode(location.SqlitePath!));
        StorePreflight.Check(location, TimeSpan.FromSeconds(2)); // and again, on the existing file
    }

    [Fact]
    public void Empty_file_is_an_empty_database()
    {
        var location = Sqlite("empty.db");
        File.WriteAllBytes(location.SqlitePath!, []);
        StorePreflight.Check(location, TimeSpan.FromSeconds(2));
        Assert.Equal("wal", JournalMode(location.SqlitePath!));
    }

    [Theory]
    [InlineData(4096)]
    [InlineData(5)]
    public void Corrupt_header_gives_a_clear_error_fast(int length)
    {
        var location = Sqlite("corrupt.db");
        var junk = new byte[length];
        new Random(1).NextBytes(junk);
        File.WriteAllBytes(location.SqlitePath!, junk);

        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<StoreUnavailableException>(() => StorePreflight.Check(location, TimeSpan.FromSeconds(30)));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.Equal($"{location.SqlitePath} is not a SQLite database (corrupt header?)", e.Message);
    }

    [Fact]
    public void Corrupt_pages_behind_a_valid_header_fail_the_quick_check()
    {
        var location = Sqlite("pages.db");
        var path = location.SqlitePath!;
        using (var connection = new SqliteConnection(RawConnection(path)))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = """
                PRAGMA page_size = 4096;
                CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB);
                CREATE INDEX t_payload ON t (payload);
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
                INSERT INTO t SELECT i, randomblob(300) FROM n;
                """;
            command.ExecuteNonQuery();
        }
        using (var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
        {
            Assert.True(file.Length > 8 * 4096);
            var garbage = new byte[4096];
            new Random(2).NextBytes(garbage);
            file.Position = 4096; // page 2 onwards: the table's root page
            file.Write(garbage);
            file.Position = 5 * 4096;
            file.Write(garbage);
        }

        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<StoreUnavailableException>(() => StorePreflight.Check(location, TimeSpan.FromSeconds(30)));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.StartsWith($"{path} is corrupt", e.Message);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Database_locked_by_another_connection_gives_a_clear_error_within_the_timeout(bool wal)
    {
        var location = Sqlite("locked.db");
        var path = location.SqlitePath!;
        if (wal) StorePreflight.Check(location, TimeSpan.FromSeconds(2));
        using var locker = new SqliteConnection(RawConnection(path));
        locker.Open();
        using (var command = locker.CreateCommand())
        {
            command.CommandText = "CREATE TABLE IF NOT EXISTS x (a INTEGER); BEGIN EXCLUSIVE; INSERT INTO x VALUES (1);";
            command.ExecuteNonQuery();
        }

        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<StoreUnavailableException>(() => StorePreflight.Check(location, TimeSpan.FromSeconds(1)));
        var elapsed = clock.Elapsed;
        Assert.True(elapsed >= TimeSpan.FromSeconds(0.9), $"gave up after {elapsed}, before the timeout");
        Assert.True(elapsed < TimeSpan.FromSeconds(4), $"took {elapsed}");
        Assert.StartsWith($"{path} is locked by another process", e.Message);

        using (var command = locker.CreateCommand())
        {
            command.CommandText = "ROLLBACK;";
            command.ExecuteNonQuery();
        }
        StorePreflight.Check(location, TimeSpan.FromSeconds(1)); // free again
    }

    [Fact]
    public void A_folder_where_the_file_should_be_is_refused()
    {
        var location = Sqlite("adir.db");
        Directory.CreateDirectory(location.SqlitePath!);
        var e = Assert.Throws<StoreUnavailableException>(() => StorePreflight.Check(location, TimeSpan.FromSeconds(1)));
        Assert.Contains("is a folder", e.Message);
    }

    [Fact]
    public void Unreachable_postgres_gives_a_clear_error_within_the_timeout()
    {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        var location = StoreLocation.Parse("postgresql://rl:pw@127.0.0.1:1/experiments");
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<StoreUnavailableException>(() => StorePreflight.Check(location, TimeSpan.FromSeconds(2)));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.StartsWith("cannot reach PostgreSQL store postgresql://rl@127.0.0.1:1/experiments", e.Message);
        Assert.DoesNotContain(":pw@", e.Message);
    }
}
