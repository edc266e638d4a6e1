using System.Data.Common;
using Akka.Configuration;
using Microsoft.Data.Sqlite;
using Npgsql;
using RlActors.Actors.Persistence;

namespace RlActors.Journal.Tests;

/// <summary>
/// The journal and snapshot stores the persistence tests run against: a SQLite file in a fresh temp folder always, and
/// the PostgreSQL database named by the environment variable <see cref="PostgresVariable"/> when it is set (those test
/// cases are only generated then: nothing silently passes without a database).
/// </summary>
public sealed class TestStore : IDisposable
{
    /// <summary>Environment variable holding an Npgsql connection string of a PostgreSQL database the tests may write to.</summary>
    public const string PostgresVariable = "RLACTORS_TEST_POSTGRES";

    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";

    private readonly string? _dir;

    private TestStore(string kind, string provider, string connectionString, string? dir)
    {
        Kind = kind;
        ProviderName = provider;
        ConnectionString = connectionString;
        _dir = dir;
    }

    public string Kind { get; }
    public string ProviderName { get; }
    public string ConnectionString { get; }

    /// <summary>The SQLite file (null for PostgreSQL).</summary>
    public string? SqlitePath => _dir is null ? null : Path.Combine(_dir, "experiments.db");

    public static string? PostgresConnectionString =>
        Environment.GetEnvironmentVariable(PostgresVariable) is { Length: > 0 } s ? s : null;

    /// <summary>The store kinds to run: SQLite, and PostgreSQL when <see cref="PostgresVariable"/> is set.</summary>
    public static TheoryData<string> Kinds
    {
        get
        {
            var d = new TheoryData<string> { Sqlite };
            if (PostgresConnectionString is not null) d.Add(Postgres);
            return d;
        }
    }

    public static TestStore Create(string kind)
    {
        switch (kind)
        {
            case Sqlite:
                string dir = Path.Combine(Path.GetTempPath(), "rlactors-journal-" + Guid.NewGuid().ToString("N"));
                Directory.CreateDirectory(dir);
                string path = Path.Combine(dir, "experiments.db");
                var store = new TestStore(kind, PersistenceSetup.SqliteProvider, PersistenceSetup.SqliteConnectionString(path), dir);
                using (var c = store.Open())
                {
                    using var cmd = c.CreateCommand();
                    cmd.CommandText = "PRAGMA journal_mode=WAL";
                    cmd.ExecuteScalar();
                }
                return store;
            case Postgres:
                return new TestStore(kind, PersistenceSetup.PostgresProvider,
                    PostgresConnectionString ?? throw new InvalidOperationException($"{PostgresVariable} is not set"), null);
            default:
                throw new ArgumentException($"unknown store kind '{kind}'", nameof(kind));
        }
    }

    /// <summary>The ActorSystem config: <see cref="PersistenceSetup.Hocon"/> plus test settings.</summary>
    public Config Config(string extraHocon = "") =>
        ConfigurationFactory.ParseString(extraHocon + "\nakka.loglevel = WARNING\n" + PersistenceSetup.Hocon(ProviderName, ConnectionString));

    /// <summary>An open ADO.NET connection to the store (to look at the tables as they are stored).</summary>
    public DbConnection Open()
    {
        DbConnection c = Kind == Sqlite ? new SqliteConnection(ConnectionString) : new NpgsqlConnection(ConnectionString);
        c.Open();
        return c;
    }

    /// <summary>Rows of a query, each as column name → value.</summary>
    public List<Dictionary<string, object?>> Query(string sql, params (string Name, object Value)[] parameters)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var p = cmd.CreateParameter();
            p.ParameterName = name;
            p.Value = value;
            cmd.Parameters.Add(p);
        }
        using var r = cmd.ExecuteReader();
        var rows = new List<Dictionary<string, object?>>();
        while (r.Read())
        {
            var row = new Dictionary<string, object?>();
            for (int i = 0; i < r.FieldCount; i++) row[r.GetName(i)] = r.IsDBNull(i) ? null : r.GetValue(i);
            rows.Add(row);
        }
        return rows;
    }

    public void Dispose()
    {
        if (_dir is null) return;
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { /* a pooled handle of another test; the temp folder is cleaned by the OS */ }
    }
}
