using Akka.Actor;
using RlActors.Actors.Experiment;

namespace RlActors.Actors.Persistence;

/// <summary>
/// The journal's record of one run of a host process, from its start or resume to the flush before the process exits:
/// owns the experiment's journal actor, records ExperimentStarted or ExperimentResumed (with the checkpoint resumed from
/// and the total steps), wraps the run's files in a <see cref="PersistingObserver"/>, and records a stop that timed out.
/// No console: the caller says what happened.
/// </summary>
public sealed class RunLifecycle
{
    /// <summary>How long a record of the run's start or resume may take before it counts as failed.</summary>
    public static readonly TimeSpan RecordTimeout = TimeSpan.FromSeconds(30);

    private readonly CheckpointStore store;
    private readonly string name;

    /// <summary>Starts the journal actor of experiment <paramref name="name"/> in <paramref name="system"/> (its recovery
    /// runs in the background; it needs no cluster).</summary>
    public RunLifecycle(ActorSystem system, CheckpointStore store, string name)
    {
        this.store = store;
        this.name = name;
        Journal = system.ActorOf(ExperimentJournal.Props(name), "journal");
    }

    /// <summary>The experiment's journal actor.</summary>
    public IActorRef Journal { get; }

    /// <summary>Records the start of a fresh run; the result is false when the journal already has a start (another host
    /// started the same name meanwhile): then nothing may run. A run must know this before anything runs.</summary>
    public async Task<bool> RecordStart(string configText, ulong seed, string codeVersion, long totalSteps)
    {
        var started = new ExperimentStarted(name, configText, ExperimentState.Sha256Hex(configText), seed, codeVersion, totalSteps, DateTime.UtcNow);
        return (await Journal.Ask<ExperimentJournal.Recorded>(new ExperimentJournal.Record(started), RecordTimeout).ConfigureAwait(false)).Applied;
    }

    /// <summary>
    /// Records a resume from <paramref name="fromStep"/> by <paramref name="host"/>, the stored checkpoint it resumes from and
    /// the run's total steps. All are sent at once, so the experiment's own events, sent after this call, come after them
    /// (the journal persists in the order it receives); the task completes when the resume and the total are durable.
    /// </summary>
    /// <remarks>A SIGKILL can fall between storing a checkpoint and journaling it: the store then has a checkpoint the
    /// journal does not list. Resuming from it records it (the journal ignores an id it knows), so the journal's checkpoint
    /// list and its pruning stay in step with the store.</remarks>
    public Task RecordResume(long fromStep, string host, CheckpointInfo? resumedFrom, long totalSteps)
    {
        var resumed = Journal.Ask<ExperimentJournal.Recorded>(new ExperimentJournal.Record(new ExperimentResumed(fromStep, host, DateTime.UtcNow)), RecordTimeout);
        if (resumedFrom is { } rf)
            Journal.Tell(new ExperimentJournal.Record(new CheckpointSaved(rf.Step, rf.CheckpointId, rf.Sha256, rf.Size, DateTime.UtcNow)));
        var total = Journal.Ask<ExperimentJournal.Recorded>(new ExperimentJournal.Record(new TotalStepsChanged(totalSteps, DateTime.UtcNow)), RecordTimeout);
        return Task.WhenAll(resumed, total);
    }

    /// <summary>The observer that records the run's steps, evaluations, checkpoints (keeping the last
    /// <paramref name="keepCheckpoints"/>), finish, failure and stop, and hands everything on to <paramref name="files"/>.</summary>
    public PersistingObserver Observer(IExperimentObserver files, int keepCheckpoints) => new(files, Journal, store, name, keepCheckpoints);

    /// <summary>A stop whose checkpoint was not stored within <paramref name="timeout"/>: recorded as failed (waiting at most
    /// 5 s for the journal), so that the experiment does not look as if it were still running.</summary>
    public async Task RecordStopTimedOut(TimeSpan timeout)
    {
        Journal.Tell(new ExperimentJournal.Record(new ExperimentFailed($"stopped, but the shutdown checkpoint was not stored within {timeout.TotalSeconds:F0} s", DateTime.UtcNow)));
        await Journal.Ask<ExperimentState>(ExperimentJournal.GetState.Instance, TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
    }

    /// <summary>Waits until every checkpoint <paramref name="observer"/> was handed is stored (at most 60 s) and every event
    /// recorded before is durable (the journal answers in order: once it replies, everything before is persisted).</summary>
    public async Task Flush(PersistingObserver observer)
    {
        await observer.Flushed.WaitAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        await Journal.Ask<ExperimentState>(ExperimentJournal.GetState.Instance, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
    }
}
