using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace RlActors.Actors.Persistence;

/// <summary>The kind of database behind a <see cref="StoreLocation"/>.</summary>
public enum StoreKind
{
    /// <summary>An embedded SQLite file (the default: zero setup).</summary>
    Sqlite,
    /// <summary>A PostgreSQL server (for clusters: any node can resume).</summary>
    Postgres,
}

/// <summary>A <c>--store</c> value that cannot be understood.</summary>
public sealed class StoreLocationException(string message) : Exception(message);

/// <summary>
/// Where experiments are persisted, parsed from a <c>--store</c> value:
/// <c>sqlite:PATH</c> (relative paths resolved against a base directory), a PostgreSQL URI
/// (<c>postgresql://user:pass@host:port/db</c> or <c>postgres://…</c>), or an Npgsql connection string
/// (<c>Host=…;Port=…;Username=…;Database=…</c>).
/// </summary>
public sealed class StoreLocation
{
    /// <summary>The <c>--store</c> value used when none is given.</summary>
    public const string DefaultValue = "sqlite:runs/experiments.db";

    /// <summary>linq2db provider name of Microsoft.Data.Sqlite (for Akka.Persistence.Sql).</summary>
    public const string SqliteProviderName = "SQLite.MS";
    /// <summary>linq2db provider name for PostgreSQL 15+ (for Akka.Persistence.Sql).</summary>
    public const string PostgresProviderName = "PostgreSQL.15";

    private StoreLocation(StoreKind kind, string connectionString, string? sqlitePath, string display)
    {
        Kind = kind;
        ConnectionString = connectionString;
        SqlitePath = sqlitePath;
        Display = display;
    }

    /// <summary>SQLite or PostgreSQL.</summary>
    public StoreKind Kind { get; }

    /// <summary>ADO.NET connection string (Microsoft.Data.Sqlite or Npgsql); may contain a password.</summary>
    public string ConnectionString { get; }

    /// <summary>Absolute path of the SQLite file; null for PostgreSQL.</summary>
    public string? SqlitePath { get; }

    /// <summary>The location for messages and logs, without a password.</summary>
    public string Display { get; }

    /// <summary>linq2db provider name for Akka.Persistence.Sql: <c>SQLite.MS</c> or <c>PostgreSQL.15</c>.</summary>
    public string ProviderName => Kind == StoreKind.Sqlite ? SqliteProviderName : PostgresProviderName;

    /// <inheritdoc />
    public override string ToString() => Display;

    /// <summary>A new, closed connection to the store.</summary>
    public DbConnection CreateConnection() =>
        Kind == StoreKind.Sqlite ? new SqliteConnection(ConnectionString) : new NpgsqlConnection(ConnectionString);

    /// <summary>
    /// Parses a <c>--store</c> value. Relative SQLite paths are resolved against <paramref name="baseDirectory"/>
    /// (the current directory when null). Throws <see cref="StoreLocationException"/> naming the value when it is not understood.
    /// </summary>
    public static StoreLocation Parse(string? value, string? baseDirectory = null)
    {
        var text = value?.Trim() ?? "";
        if (text.Length == 0) throw Bad(value, "it is empty");

        if (text.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
            return ParseSqlite(value!, text["sqlite:".Length..], baseDirectory);
        if (text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase))
            return ParsePostgresUri(value!, text);
        if (text.Contains("://", StringComparison.Ordinal))
            throw Bad(value, "only sqlite:PATH and postgresql:// stores are supported");
        if (text.Contains('='))
            return ParseNpgsqlConnectionString(value!, text);
        throw Bad(value, "expected sqlite:PATH, postgresql://user:pass@host:port/db or Host=...;Database=...");
    }

    /// <summary>Like <see cref="Parse"/>, without throwing.</summary>
    public static bool TryParse(string? value, string? baseDirectory, out StoreLocation? location, out string? error)
    {
        try
        {
            location = Parse(value, baseDirectory);
            error = null;
            return true;
        }
        catch (StoreLocationException e)
        {
            location = null;
            error = e.Message;
            return false;
        }
    }

    /// <summary>A SQLite store at a file path (relative to <paramref name="baseDirectory"/>).</summary>
    public static StoreLocation Sqlite(string path, string? baseDirectory = null) => Parse("sqlite:" + path, baseDirectory);

    private static StoreLocation ParseSqlite(string original, string pathText, string? baseDirectory)
    {
        var path = pathText.Trim();
        if (path.Length == 0) throw Bad(original, "the SQLite path is empty (write sqlite:PATH)");
        if (path.StartsWith(':') || path.Contains('?', StringComparison.Ordinal) || path.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
            throw Bad(original, "in-memory databases and URI file names are not supported; give a file path");
        if (path.IndexOfAny(Path.GetInvalidPathChars()) >= 0) throw Bad(original, "the path contains invalid characters");
        if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal))
            path = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path.Length > 2 ? path[2..] : "");
        if (path.EndsWith('/') || path.EndsWith(Path.DirectorySeparatorChar))
            throw Bad(original, "the SQLite path names a folder, not a file");
        string full;
        try
        {
            full = Path.IsPathRooted(path)
                ? Path.GetFullPath(path)
                : Path.GetFullPath(Path.Combine(baseDirectory ?? Directory.GetCurrentDirectory(), path));
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw Bad(original, e.Message);
        }
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = full,
            Mode = SqliteOpenMode.ReadWriteCreate,
        };
        return new StoreLocation(StoreKind.Sqlite, builder.ConnectionString, full, "sqlite:" + full);
    }

    private static StoreLocation ParsePostgresUri(string original, string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
            throw Bad(original, "it is not a valid postgresql://user:pass@host:port/db URI");
        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length == 0) throw Bad(original, "the URI names no database (postgresql://user:pass@host:port/DATABASE)");
        if (database.Contains('/')) throw Bad(original, "the database name contains '/'");

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host.Trim('[', ']'),
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = database,
        };
        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':');
            builder.Username = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            if (colon >= 0) builder.Password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
        }
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            var key = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
            var val = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..]);
            try
            {
                builder[key] = val;
            }
            catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException or KeyNotFoundException)
            {
                throw Bad(original, $"unknown or invalid option '{key}' ({e.Message})");
            }
        }
        return Postgres(builder);
    }

    private static StoreLocation ParseNpgsqlConnectionString(string original, string text)
    {
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(text);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException or KeyNotFoundException)
        {
            throw Bad(original, $"it is not a valid Npgsql connection string ({e.Message})");
        }
        if (string.IsNullOrWhiteSpace(builder.Host)) throw Bad(original, "the connection string has no Host=");
        return Postgres(builder);
    }

    private static StoreLocation Postgres(NpgsqlConnectionStringBuilder builder)
    {
        var display = $"postgresql://{(string.IsNullOrEmpty(builder.Username) ? "" : builder.Username + "@")}{builder.Host}:{builder.Port}/{builder.Database}";
        return new StoreLocation(StoreKind.Postgres, builder.ConnectionString, null, display);
    }

    private static StoreLocationException Bad(string? value, string why) =>
        new($"invalid --store value '{Redact(value)}': {why}");

    // Never echo a password back in an error message.
    private static string Redact(string? value)
    {
        if (string.IsNullOrEmpty(value)) return value ?? "";
        var redacted = System.Text.RegularExpressions.Regex.Replace(value, @"(?i)(password|pwd)\s*=\s*[^;]*", "$1=***");
        return System.Text.RegularExpressions.Regex.Replace(redacted, @"(?i)^(postgres(?:ql)?://[^:/@]*:)[^@]*@", "$1***@");
    }
}
