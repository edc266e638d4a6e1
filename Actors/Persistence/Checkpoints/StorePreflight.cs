using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace RlActors.Actors.Persistence;

/// <summary>The store cannot be used: not a database, corrupt, locked by another process, or unreachable.</summary>
public sealed class StoreUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Checks a store before anything else (Akka.Persistence.Sql in particular) touches it, so a bad store gives a clear
/// error quickly instead of a journal that retries initialisation forever or a 30 s recovery timeout.
/// </summary>
public static class StorePreflight
{
    private static readonly byte[] SqliteHeader = "SQLite format 3\0"u8.ToArray();

    /// <summary>SQLite result codes (https://www.sqlite.org/rescode.html).</summary>
    private const int SqliteBusy = 5, SqliteLocked = 6, SqliteCorrupt = 11, SqliteNotADb = 26;

    /// <summary>
    /// SQLite: a missing file is created (with its folder) and switched to WAL; an existing file must have the
    /// SQLite header, pass <c>PRAGMA quick_check</c>, and not be write-locked by another process for longer than
    /// <paramref name="timeout"/>. PostgreSQL: a connection must open within <paramref name="timeout"/>.
    /// Throws <see cref="StoreUnavailableException"/> with a message meant for the user.
    /// </summary>
    public static void Check(StoreLocation location, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(location);
        if (timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout), "timeout must be positive");
        if (location.Kind == StoreKind.Sqlite) CheckSqlite(location.SqlitePath!, timeout);
        else CheckPostgres(location, timeout);
    }

    private static int TimeoutSeconds(TimeSpan timeout) => (int)Math.Clamp(Math.Ceiling(timeout.TotalSeconds), 1, int.MaxValue);

    private static void CheckSqlite(string path, TimeSpan timeout)
    {
        if (Directory.Exists(path)) throw new StoreUnavailableException($"{path} is a folder, not a SQLite database");
        if (File.Exists(path))
        {
            CheckHeader(path);
        }
        else
        {
            var dir = Path.GetDirectoryName(path);
            try
            {
                if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new StoreUnavailableException($"cannot create the folder for {path}: {e.Message}", e);
            }
        }

        var cs = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false, // leave no handle open behind the check
            DefaultTimeout = TimeoutSeconds(timeout),
        }.ConnectionString;
        var clock = Stopwatch.StartNew();
        try
        {
            using var connection = new SqliteConnection(cs);
            connection.Open();

            // A write lock held elsewhere (BEGIN EXCLUSIVE/IMMEDIATE, or a writer stuck mid-transaction): wait at most
            // the timeout (Microsoft.Data.Sqlite retries busy statements until the command timeout), then fail clearly.
            // In rollback-journal mode an exclusive lock also blocks this, in WAL mode only writers block it.
            Execute(connection, "BEGIN IMMEDIATE;");
            Execute(connection, "ROLLBACK;");

            var check = Scalar(connection, "PRAGMA quick_check;");
            if (!string.Equals(check, "ok", StringComparison.OrdinalIgnoreCase))
                throw new StoreUnavailableException($"{path} is corrupt (PRAGMA quick_check: {Truncate(check)})");

            if (!string.Equals(Scalar(connection, "PRAGMA journal_mode;"), "wal", StringComparison.OrdinalIgnoreCase))
            {
                var mode = Scalar(connection, "PRAGMA journal_mode=WAL;");
                if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
                    throw new StoreUnavailableException($"{path}: cannot switch to WAL journal mode (got '{mode}')");
            }
        }
        catch (SqliteException e) when (e.SqliteErrorCode is SqliteBusy or SqliteLocked)
        {
            throw new StoreUnavailableException(
                $"{path} is locked by another process (still locked after {clock.Elapsed.TotalSeconds:0.0} s); " +
                "is another run or resume using this store?", e);
        }
        catch (SqliteException e) when (e.SqliteErrorCode is SqliteNotADb)
        {
            throw new StoreUnavailableException($"{path} is not a SQLite database (corrupt header?)", e);
        }
        catch (SqliteException e) when (e.SqliteErrorCode is SqliteCorrupt)
        {
            throw new StoreUnavailableException($"{path} is corrupt ({e.Message})", e);
        }
        catch (SqliteException e)
        {
            throw new StoreUnavailableException($"cannot open {path}: {e.Message}", e);
        }
    }

    private static void CheckHeader(string path)
    {
        var header = new byte[SqliteHeader.Length];
        int read;
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (file.Length == 0) return; // SQLite treats an empty file as an empty database
            read = file.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StoreUnavailableException($"cannot read {path}: {e.Message}", e);
        }
        if (read < header.Length || !header.AsSpan().SequenceEqual(SqliteHeader))
            throw new StoreUnavailableException($"{path} is not a SQLite database (corrupt header?)");
    }

    private static void CheckPostgres(StoreLocation location, TimeSpan timeout)
    {
        var cs = new NpgsqlConnectionStringBuilder(location.ConnectionString)
        {
            Timeout = TimeoutSeconds(timeout),
            CommandTimeout = TimeoutSeconds(timeout),
            Pooling = false,
        }.ConnectionString;
        try
        {
            using var cts = new CancellationTokenSource(timeout + TimeSpan.FromSeconds(1));
            using var connection = new NpgsqlConnection(cs);
            connection.OpenAsync(cts.Token).GetAwaiter().GetResult();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT 1";
            command.ExecuteScalar();
        }
        catch (PostgresException e)
        {
            var why = e.SqlState switch
            {
                "3D000" => "the database does not exist",
                "28P01" or "28000" => $"authentication failed: {e.MessageText}",
                _ => e.MessageText,
            };
            throw new StoreUnavailableException($"cannot use PostgreSQL store {location.Display}: {why} ({e.SqlState})", e);
        }
        catch (Exception e) when (e is NpgsqlException or SocketException or TimeoutException or OperationCanceledException or IOException)
        {
            throw new StoreUnavailableException(
                $"cannot reach PostgreSQL store {location.Display} within {timeout.TotalSeconds:0.#} s: {Innermost(e).Message}", e);
        }
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static string Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToString(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) ?? "";
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }

    private static string Truncate(string s) => s.Length <= 200 ? s : s[..200] + "…";
}
