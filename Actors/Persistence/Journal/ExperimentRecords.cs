using System.Data.Common;
using System.Runtime.Serialization;
using Microsoft.Data.Sqlite;

namespace RlActors.Actors.Persistence;

/// <summary>
/// Reads experiments' persisted events straight from the journal table that Akka.Persistence.Sql writes (default table
/// mapping of <see cref="PersistenceSetup.Hocon"/>: table <c>journal</c>, columns <c>persistence_id</c>,
/// <c>sequence_number</c>, <c>deleted</c>, <c>manifest</c>, <c>identifier</c>, <c>message</c>), decoding them with
/// <see cref="ExperimentEventSerializer.Decode"/>: the same events, in the same order, as the SQL read journal
/// (<see cref="ExperimentQueries"/>) returns, without starting an ActorSystem. Starting one and its read journal took
/// ~2.3 s of every <c>list</c>, <c>show</c> and <c>resume</c>; this takes milliseconds.
/// </summary>
public static class ExperimentRecords
{
    private const string Prefix = "experiment-";

    /// <summary>Names of every experiment that has persisted at least one event, sorted (ordinal); empty before the journal table exists.</summary>
    public static IReadOnlyList<string> ListNames(StoreLocation location)
    {
        ArgumentNullException.ThrowIfNull(location);
        using var connection = location.CreateConnection();
        connection.Open();
        if (!JournalExists(connection)) return [];
        using var command = Command(connection, "SELECT DISTINCT persistence_id FROM journal WHERE NOT deleted AND persistence_id LIKE @p",
            ("p", Prefix + "%"));
        using var reader = command.ExecuteReader();
        var names = new List<string>();
        while (reader.Read())
        {
            string id = reader.GetString(0);
            if (id.StartsWith(Prefix, StringComparison.Ordinal)) names.Add(id[Prefix.Length..]);
        }
        return names.Distinct().Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>Every event of experiment <paramref name="name"/>, by sequence number; empty when it has none.</summary>
    public static IReadOnlyList<(long SequenceNr, IExperimentEvent Event)> Events(StoreLocation location, string name)
    {
        ArgumentNullException.ThrowIfNull(location);
        ArgumentException.ThrowIfNullOrEmpty(name);
        string pid = ExperimentJournal.PersistenceIdFor(name);
        using var connection = location.CreateConnection();
        connection.Open();
        if (!JournalExists(connection)) return [];
        using var command = Command(connection, """
            SELECT sequence_number, manifest, identifier, message FROM journal
            WHERE persistence_id = @p AND NOT deleted ORDER BY sequence_number
            """, ("p", pid));
        using var reader = command.ExecuteReader();
        var events = new List<(long, IExperimentEvent)>();
        while (reader.Read())
        {
            long seq = Convert.ToInt64(reader.GetValue(0));
            string manifest = reader.IsDBNull(1) ? "" : reader.GetString(1);
            int? serializer = reader.IsDBNull(2) ? null : Convert.ToInt32(reader.GetValue(2));
            if (serializer != ExperimentEventSerializer.Id)
                throw new SerializationException($"event {seq} of {pid} was stored by serializer {serializer?.ToString() ?? "(none)"}, " +
                                                 $"not the experiment serializer ({ExperimentEventSerializer.Id})");
            var payload = (byte[])reader.GetValue(3);
            events.Add((seq, ExperimentEventSerializer.Decode(payload, manifest) as IExperimentEvent
                ?? throw new SerializationException($"event {seq} of {pid} ('{manifest}') is not an experiment event")));
        }
        return events;
    }

    /// <summary>The state of experiment <paramref name="name"/> folded from all its events; <see cref="ExperimentState.Empty"/> if unknown.</summary>
    public static ExperimentState State(StoreLocation location, string name) => ExperimentState.From(Events(location, name).Select(e => e.Event));

    private static bool JournalExists(DbConnection connection)
    {
        string sql = connection is SqliteConnection
            ? "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'journal'"
            : "SELECT CASE WHEN to_regclass('journal') IS NULL THEN 0 ELSE 1 END";
        using var command = Command(connection, sql);
        return Convert.ToInt64(command.ExecuteScalar()) > 0;
    }

    private static DbCommand Command(DbConnection connection, string sql, params (string Name, object Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (n, v) in parameters)
        {
            var p = command.CreateParameter();
            p.ParameterName = "@" + n;
            p.Value = v;
            command.Parameters.Add(p);
        }
        return command;
    }
}
