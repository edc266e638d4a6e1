using Akka.Actor;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;

namespace RlActors.Actors.Persistence;

/// <summary>
/// Reads of the experiment journals through the SQL read journal (<see cref="PersistenceSetup.ReadJournalPluginId"/>),
/// for commands that look at experiments without starting their journal actors (<c>list</c>, rebuilding a metrics file).
/// The ActorSystem must be configured with <see cref="PersistenceSetup.Hocon"/>.
/// </summary>
public static class ExperimentQueries
{
    private const string Prefix = "experiment-";

    private static SqlReadJournal ReadJournal(ActorSystem system) =>
        PersistenceQuery.Get(system).ReadJournalFor<SqlReadJournal>(PersistenceSetup.ReadJournalPluginId);

    /// <summary>Names of every experiment that has persisted at least one event, sorted (ordinal).</summary>
    public static async Task<IReadOnlyList<string>> ListNamesAsync(ActorSystem system, CancellationToken cancellationToken = default)
    {
        var ids = await ReadJournal(system).CurrentPersistenceIds()
            .Where(id => id.StartsWith(Prefix, StringComparison.Ordinal))
            .RunWith(Sink.Seq<string>(), system.Materializer()).WaitAsync(cancellationToken);
        return ids.Select(id => id[Prefix.Length..]).Distinct().Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>Every persisted event of experiment <paramref name="name"/> with its sequence number, in order.</summary>
    public static async Task<IReadOnlyList<(long SequenceNr, IExperimentEvent Event)>> EventsAsync(ActorSystem system, string name,
        CancellationToken cancellationToken = default)
    {
        var envelopes = await ReadJournal(system).CurrentEventsByPersistenceId(ExperimentJournal.PersistenceIdFor(name), 0, long.MaxValue)
            .RunWith(Sink.Seq<EventEnvelope>(), system.Materializer()).WaitAsync(cancellationToken);
        return envelopes.Select(e => (e.SequenceNr, e.Event as IExperimentEvent
            ?? throw new InvalidOperationException($"event {e.SequenceNr} of {e.PersistenceId} is a {e.Event?.GetType().Name ?? "null"}, not an experiment event"))).ToList();
    }

    /// <summary>The state of experiment <paramref name="name"/> folded from all its events (no snapshot used); Empty if unknown.</summary>
    public static async Task<ExperimentState> StateAsync(ActorSystem system, string name, CancellationToken cancellationToken = default) =>
        ExperimentState.From((await EventsAsync(system, name, cancellationToken)).Select(x => x.Event));
}
