using System.Text;
using Akka.Hosting;

namespace RlActors.Actors.Persistence;

/// <summary>
/// Akka.Persistence.Sql configuration for experiment journals: the SQL journal, the SQL snapshot store and the SQL
/// read journal (Akka.Persistence.Query, e.g. to list persistence ids) on one database, tables created on first use
/// (<c>auto-initialize</c>), plus <see cref="ExperimentEventSerializer.Hocon"/>.
/// Check the store first (a corrupt SQLite file makes the journal retry initialisation forever), and put a SQLite file
/// in WAL mode before starting Akka: this only configures.
/// </summary>
public static class PersistenceSetup
{
    /// <summary>linq2db provider name of Microsoft.Data.Sqlite.</summary>
    public const string SqliteProvider = "SQLite.MS";

    /// <summary>linq2db provider name of PostgreSQL 15+ (Npgsql must be referenced by the application).</summary>
    public const string PostgresProvider = "PostgreSQL.15";

    /// <summary>Config path of the journal plugin.</summary>
    public const string JournalPluginId = "akka.persistence.journal.sql";

    /// <summary>Config path of the snapshot store plugin.</summary>
    public const string SnapshotPluginId = "akka.persistence.snapshot-store.sql";

    /// <summary>Config path of the read journal (<c>PersistenceQuery.Get(system).ReadJournalFor&lt;SqlReadJournal&gt;(…)</c>).</summary>
    public const string ReadJournalPluginId = "akka.persistence.query.journal.sql";

    /// <summary>
    /// HOCON making the SQL journal and snapshot store on (<paramref name="providerName"/>, <paramref name="connectionString"/>)
    /// the defaults, with tables created on first use, and registering <see cref="ExperimentEventSerializer"/>.
    /// </summary>
    /// <param name="providerName"><see cref="SqliteProvider"/> or <see cref="PostgresProvider"/> (any linq2db provider name is passed on).</param>
    /// <param name="connectionString">ADO.NET connection string, e.g. <c>Data Source=/path/experiments.db</c> or
    /// <c>Host=127.0.0.1;Port=5433;Username=postgres;Database=rl</c>.</param>
    public static string Hocon(string providerName, string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(providerName);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        string cs = Quote(connectionString), pn = Quote(providerName);
        var sb = new StringBuilder();
        sb.Append(ExperimentEventSerializer.Hocon);
        sb.Append($$"""
            akka.persistence {
              journal {
                plugin = "{{JournalPluginId}}"
                sql {
                  class = "Akka.Persistence.Sql.Journal.SqlWriteJournal, Akka.Persistence.Sql"
                  connection-string = {{cs}}
                  provider-name = {{pn}}
                  auto-initialize = on
                }
              }
              snapshot-store {
                plugin = "{{SnapshotPluginId}}"
                sql {
                  class = "Akka.Persistence.Sql.Snapshot.SqlSnapshotStore, Akka.Persistence.Sql"
                  connection-string = {{cs}}
                  provider-name = {{pn}}
                  auto-initialize = on
                }
              }
              query.journal.sql {
                class = "Akka.Persistence.Sql.Query.SqlReadJournalProvider, Akka.Persistence.Sql"
                connection-string = {{cs}}
                provider-name = {{pn}}
              }
            }

            """);
        return sb.ToString();
    }

    /// <summary>HOCON for a SQLite file at <paramref name="path"/> (see <see cref="Hocon(string, string)"/>).</summary>
    public static string SqliteHocon(string path) => Hocon(SqliteProvider, SqliteConnectionString(path));

    /// <summary>The Microsoft.Data.Sqlite connection string of a file.</summary>
    public static string SqliteConnectionString(string path) =>
        new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder { DataSource = Path.GetFullPath(path) }.ConnectionString;

    /// <summary>
    /// Adds the SQL journal, snapshot store, read journal and the experiment serializer to an Akka.Hosting builder
    /// (the same HOCON as <see cref="Hocon(string, string)"/>, prepended so it wins over defaults).
    /// </summary>
    public static AkkaConfigurationBuilder WithExperimentPersistence(this AkkaConfigurationBuilder builder, string providerName, string connectionString) =>
        builder.AddHocon(Hocon(providerName, connectionString), HoconAddMode.Prepend);

    /// <summary>A HOCON quoted string (JSON escapes).</summary>
    private static string Quote(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (char.IsControl(c)) sb.Append($"\\u{(int)c:x4}"); else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }
}
