using Akka.Actor;
using Akka.Event;
using Akka.Persistence;

namespace RlActors.Actors.Persistence;

/// <summary>
/// The persisted record of one experiment: a persistent actor (persistence id <c>experiment-{name}</c>) that persists
/// <see cref="IExperimentEvent"/>s, keeps an <see cref="ExperimentState"/> built by <see cref="ExperimentState.Apply"/>,
/// snapshots it every <see cref="Settings.SnapshotEvery"/> events and answers. It decides nothing else.
/// </summary>
public static class ExperimentJournal
{
    /// <summary>
    /// Persist <paramref name="Event"/>. Reply: <see cref="Recorded"/> once it is durable; <c>Recorded(…, Applied: false)</c>
    /// without persisting when the event would not change the state (a step at or below the current step, a second start,
    /// a known checkpoint id…); <see cref="Status.Failure"/> when the event is invalid for this experiment (a start with
    /// another name). If the journal fails the write, the actor stops (Akka's rule for persist failures): watch it.
    /// </summary>
    public sealed record Record(IExperimentEvent Event);

    /// <summary>Answer to <see cref="Record"/>.</summary>
    /// <param name="SequenceNr">The event's sequence number; when not applied, the last sequence number persisted so far.</param>
    /// <param name="Applied">False when the event changed nothing and was not persisted.</param>
    public sealed record Recorded(long SequenceNr, bool Applied);

    /// <summary>Ask for the current <see cref="ExperimentState"/> (the reply is the state itself).</summary>
    public sealed record GetState
    {
        /// <summary>The one instance.</summary>
        public static GetState Instance { get; } = new();
    }

    /// <summary>Journal actor settings.</summary>
    public sealed record Settings
    {
        /// <summary>Save a snapshot after every this many persisted events (0: never). The two latest snapshots are kept.</summary>
        public int SnapshotEvery { get; init; } = 100;
        /// <summary>Start recovery from the latest snapshot (true) or replay every event (false, e.g. when a snapshot cannot be read).</summary>
        public bool RecoverFromSnapshot { get; init; } = true;
        /// <summary>Journal plugin id; null for akka.persistence.journal.plugin.</summary>
        public string? JournalPluginId { get; init; }
        /// <summary>Snapshot store plugin id; null for akka.persistence.snapshot-store.plugin.</summary>
        public string? SnapshotPluginId { get; init; }
    }

    /// <summary>The persistence id of experiment <paramref name="experimentName"/>.</summary>
    public static string PersistenceIdFor(string experimentName) => "experiment-" + experimentName;

    /// <summary>Props of the journal actor of <paramref name="experimentName"/>.</summary>
    public static Props Props(string experimentName, Settings? settings = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(experimentName);
        var s = settings ?? new Settings();
        if (s.SnapshotEvery < 0) throw new ArgumentOutOfRangeException(nameof(settings), s.SnapshotEvery, "SnapshotEvery must be >= 0");
        return Akka.Actor.Props.Create(() => new ExperimentJournalActor(experimentName, s));
    }
}

/// <summary>The actor behind <see cref="ExperimentJournal"/>: persists, applies, snapshots and replies.</summary>
public sealed class ExperimentJournalActor : ReceivePersistentActor
{
    private readonly string _name;
    private readonly ExperimentJournal.Settings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private ExperimentState _state = ExperimentState.Empty;

    /// <summary>Use <see cref="ExperimentJournal.Props"/>.</summary>
    public ExperimentJournalActor(string name, ExperimentJournal.Settings settings)
    {
        _name = name;
        _settings = settings;
        PersistenceId = ExperimentJournal.PersistenceIdFor(name);
        if (settings.JournalPluginId is not null) JournalPluginId = settings.JournalPluginId;
        if (settings.SnapshotPluginId is not null) SnapshotPluginId = settings.SnapshotPluginId;

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is ExperimentState s) _state = s;
            else _log.Warning("ignoring a snapshot of unexpected type {0} for {1}", offer.Snapshot?.GetType().Name ?? "null", PersistenceId);
        });
        Recover<IExperimentEvent>(e => _state = _state.Apply(e));

        Command<ExperimentJournal.Record>(OnRecord);
        Command<ExperimentJournal.GetState>(_ => Sender.Tell(_state));
        Command<SaveSnapshotSuccess>(ok =>
        {
            long keepFrom = ok.Metadata.SequenceNr - _settings.SnapshotEvery;
            if (keepFrom > 1) DeleteSnapshots(new SnapshotSelectionCriteria(keepFrom - 1));
        });
        Command<SaveSnapshotFailure>(f => _log.Warning(f.Cause, "snapshot of {0} at {1} failed (recovery replays more events)", PersistenceId, f.Metadata.SequenceNr));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(f => _log.Warning(f.Cause, "deleting old snapshots of {0} failed", PersistenceId));
    }

    /// <inheritdoc />
    public override string PersistenceId { get; }

    /// <inheritdoc />
    public override Recovery Recovery => _settings.RecoverFromSnapshot ? Recovery.Default : new Recovery(SnapshotSelectionCriteria.None);

    private void OnRecord(ExperimentJournal.Record record)
    {
        var e = record.Event;
        if (e is ExperimentStarted s && s.Name != _name)
        {
            Sender.Tell(new Status.Failure(new ArgumentException($"experiment '{_name}' cannot record a start of '{s.Name}'")));
            return;
        }
        ExperimentState next;
        try { next = _state.Apply(e); }
        catch (Exception ex) { Sender.Tell(new Status.Failure(ex)); return; }
        if (ReferenceEquals(next, _state))
        {
            Sender.Tell(new ExperimentJournal.Recorded(LastSequenceNr, Applied: false));
            return;
        }
        Persist(e, persisted =>
        {
            _state = _state.Apply(persisted);
            Sender.Tell(new ExperimentJournal.Recorded(LastSequenceNr, Applied: true));
            if (_settings.SnapshotEvery > 0 && LastSequenceNr % _settings.SnapshotEvery == 0) SaveSnapshot(_state);
        });
    }

    /// <inheritdoc />
    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        _log.Error(reason, "recovery of {0} failed{1}", PersistenceId, message is null ? "" : $" at {message.GetType().Name}");
        base.OnRecoveryFailure(reason, message);
    }

    /// <inheritdoc />
    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        _log.Error(cause, "{0} rejected event {1} ({2}); nothing was stored", PersistenceId, sequenceNr, @event.GetType().Name);
        Sender.Tell(new Status.Failure(new InvalidOperationException($"the journal rejected event {sequenceNr} of {PersistenceId}: {cause.Message}", cause)));
    }
}
