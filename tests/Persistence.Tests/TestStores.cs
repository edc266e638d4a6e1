using System.Data.Common;
using Microsoft.Data.Sqlite;
using RlActors.Actors.Persistence;

namespace RlActors.Persistence.Tests;

/// <summary>
/// The databases the store tests run against: SQLite always; PostgreSQL only when RLACTORS_TEST_POSTGRES holds a
/// connection string (URI or Npgsql form). Without it the PostgreSQL cases are not generated at all.
/// </summary>
public static class TestStores
{
    public const string PostgresVariable = "RLACTORS_TEST_POSTGRES";

    public static string? PostgresConnection =>
        Environment.GetEnvironmentVariable(PostgresVariable) is { Length: > 0 } value ? value : null;

    /// <summary>Theory data: "sqlite", plus "postgres" when the variable is set.</summary>
    public static TheoryData<string> Available
    {
        get
        {
            var data = new TheoryData<string> { "sqlite" };
            if (PostgresConnection is not null) data.Add("postgres");
            return data;
        }
    }

    /// <summary>A fresh store of the given kind; SQLite gets its own temporary file, PostgreSQL the shared test database.</summary>
    public static TestStore Create(string kind, int chunkSize = CheckpointStore.DefaultChunkSize, TimeProvider? clock = null)
    {
        if (kind == "sqlite")
        {
            var dir = TempDir.Create();
            var location = StoreLocation.Parse("sqlite:store/experiments.db", dir.Path);
            StorePreflight.Check(location, TimeSpan.FromSeconds(5)); // as the host does before opening a store
            return new TestStore(location, new CheckpointStore(location, chunkSize, clock), dir);
        }
        if (kind == "postgres")
        {
            var location = StoreLocation.Parse(PostgresConnection
                ?? throw new InvalidOperationException($"{PostgresVariable} is not set"));
            return new TestStore(location, new CheckpointStore(location, chunkSize, clock), null);
        }
        throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
    }

    /// <summary>A name no other test (or earlier run against the same PostgreSQL database) uses.</summary>
    public static string NewExperiment() => "exp-" + Guid.NewGuid().ToString("N")[..12];
}

public sealed class TestStore(StoreLocation location, CheckpointStore store, TempDir? dir) : IDisposable
{
    public StoreLocation Location { get; } = location;
    public CheckpointStore Store { get; } = store;

    /// <summary>Runs SQL straight against the database (to corrupt or tamper with rows), with @name parameters.</summary>
    public int Execute(string sql, params (string Name, object Value)[] parameters)
    {
        using var connection = Location.CreateConnection();
        connection.Open();
        using var command = Command(connection, sql, parameters);
        return command.ExecuteNonQuery();
    }

    public object? Scalar(string sql, params (string Name, object Value)[] parameters)
    {
        using var connection = Location.CreateConnection();
        connection.Open();
        using var command = Command(connection, sql, parameters);
        return command.ExecuteScalar();
    }

    public byte[] ReadChunk(string experiment, string checkpointId, int idx) =>
        (byte[])Scalar("SELECT data FROM rl_checkpoint_chunks WHERE experiment = @e AND checkpoint_id = @c AND idx = @i",
            ("e", experiment), ("c", checkpointId), ("i", idx))!;

    private static DbCommand Command(DbConnection connection, string sql, (string Name, object Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var p = command.CreateParameter();
            p.ParameterName = "@" + name;
            p.Value = value;
            command.Parameters.Add(p);
        }
        return command;
    }

    public void Dispose()
    {
        if (dir is null) return;
        SqliteConnection.ClearAllPools(); // idle pooled handles only
        dir.Dispose();
    }
}

public sealed class TempDir : IDisposable
{
    private TempDir(string path) => Path = path;

    public string Path { get; }

    public static TempDir Create()
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "rlactors-persistence-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return new TempDir(path);
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>A clock the test moves by hand.</summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;
    public override DateTimeOffset GetUtcNow() => Now;
    public void Advance(TimeSpan by) => Now += by;
}
