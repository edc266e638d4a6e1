using Akka.Actor;
using RlActors.Actors.Experiment;
using RlActors.Policies.Checkpoints;

namespace RlActors.Actors.Persistence;

/// <summary>
/// Records the experiment's life in the store as it happens: every completed step, finish and failure as journal
/// events, and every learner checkpoint in the checkpoint store followed by its CheckpointSaved event (and
/// CheckpointPruned for the older ones it deletes). Everything else goes to the wrapped observer (files, progress).
/// </summary>
/// <remarks>
/// The coordinator calls an observer on its own thread, so no callback here waits: saving a checkpoint, and the
/// finish and stop that must come after it, are queued on one chain of tasks off the actor's thread and the callback
/// returns at once. <see cref="Flushed"/> is that chain's end, for the process to await outside the actor.
/// </remarks>
public sealed class PersistingObserver(IExperimentObserver inner, IActorRef journal, CheckpointStore store, string name, int keepLast) : IExperimentObserver
{
    private readonly Lock gate = new();
    private readonly Dictionary<long, Exception> failedSaves = new();
    private Task saving = Task.CompletedTask;

    /// <summary>How long a checkpoint waits for the journal to catch up before it is reported as not saved.</summary>
    private static readonly TimeSpan JournalTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How long the end of a run waits for the checkpoints handed over before it is recorded as finished anyway.</summary>
    private static readonly TimeSpan FinishTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Completes when every checkpoint handed over so far is stored (or failed, with a warning), and the finish or
    /// stop handed over after them is recorded.</summary>
    public Task Flushed { get { lock (gate) return saving; } }

    /// <inheritdoc />
    public void Log(string line) => inner.Log(line);
    /// <inheritdoc />
    public void PhaseDone(string phase, double seconds) => inner.PhaseDone(phase, seconds);

    /// <inheritdoc />
    public void Evaluation(EvalReport report)
    {
        journal.Tell(new ExperimentJournal.Record(new EvaluationRecorded(report.Phase, report.Step, report.Metrics, DateTime.UtcNow)));
        inner.Evaluation(report);
    }

    /// <inheritdoc />
    public void StepCompleted(StepReport report)
    {
        journal.Tell(new ExperimentJournal.Record(new StepCompleted(report.Step, report.PolicyVersion, report.Metrics, DateTime.UtcNow)));
        inner.StepCompleted(report);
    }

    /// <summary>
    /// Queues <paramref name="work"/> on the thread pool after everything queued before it (after at most
    /// <paramref name="waitAtMost"/> of waiting for it, when given) and returns at once. Earlier work reports its own failures.
    /// </summary>
    private void Then(Func<Task> work, TimeSpan? waitAtMost = null)
    {
        lock (gate)
        {
            var before = saving;
            saving = Task.Run(async () =>
            {
                try { await (waitAtMost is { } limit ? before.WaitAsync(limit) : before).ConfigureAwait(false); }
                catch (Exception) { } // a timeout goes on; a failure of earlier work was reported by it
                try { await work().ConfigureAwait(false); }
                catch (Exception e) { inner.Log($"warning: recording the run in {store.Location} failed: {Describe(e)}"); }
            });
        }
    }

    /// <inheritdoc />
    public void CheckpointTaken(long step, TrainingCheckpoint checkpoint)
    {
        // Saving takes 0.2-1 s: never on the experiment's thread. Saves stay in order. A failed save is reported and
        // remembered (a stop waits for its checkpoint and fails if that one could not be stored); the run goes on.
        Then(async () =>
        {
            string id = $"step-{step:D8}";
            try
            {
                // The journal first: a resume rebuilds metrics.jsonl from the journal's steps up to the stored checkpoint,
                // so every StepCompleted up to this step must be durable before the checkpoint is. The journal persists in
                // mailbox order and answers GetState only after what came before it (those Records were enqueued on the
                // experiment's thread before this checkpoint was handed over). A SIGKILL between the two lost a step's line.
                await journal.Ask<ExperimentState>(ExperimentJournal.GetState.Instance, JournalTimeout).ConfigureAwait(false);
                var info = store.Save(name, id, step, checkpoint.PolicyVersion, checkpoint.WriteTo);
                journal.Tell(new ExperimentJournal.Record(new CheckpointSaved(step, id, info.Sha256, info.Size, DateTime.UtcNow)));
                inner.Log($"[ckpt] step {step}: saved {id} ({info.Size / 1024.0:F0} KiB, sha256 {info.Sha256[..12]}...) to {store.Location}");
            }
            catch (Exception e)
            {
                lock (gate) failedSaves[step] = e;
                inner.Log($"warning: the checkpoint of step {step} could not be saved to {store.Location}: {Describe(e)}");
                return;
            }
            try
            {
                if (keepLast > 0)
                    foreach (var pruned in store.Prune(name, keepLast))
                        journal.Tell(new ExperimentJournal.Record(new CheckpointPruned(pruned, DateTime.UtcNow)));
            }
            catch (Exception e) { inner.Log($"warning: pruning old checkpoints of '{name}' failed: {e.Message}"); }
        });
    }

    /// <inheritdoc />
    /// <remarks>Returns at once; the finish is recorded (and the wrapped observer hears it) once the final checkpoint is
    /// stored, or after <see cref="FinishTimeout"/> of waiting for it.</remarks>
    public void Finished(byte[] finalWeights) => Then(() =>
    {
        journal.Tell(new ExperimentJournal.Record(new ExperimentFinished(DateTime.UtcNow)));
        inner.Finished(finalWeights);
        return Task.CompletedTask;
    }, FinishTimeout);

    /// <inheritdoc />
    public void Failed(string reason)
    {
        journal.Tell(new ExperimentJournal.Record(new ExperimentFailed(reason, DateTime.UtcNow)));
        inner.Failed(reason);
    }

    /// <inheritdoc />
    /// <remarks>Returns at once; once the checkpoint of <paramref name="step"/> is stored, the stop is recorded.
    /// When that checkpoint could not be stored the experiment is recorded as failed instead: the stop did not keep its promise.</remarks>
    public void Stopped(long step, string reason) => Then(() =>
    {
        Exception? failed;
        lock (gate) failedSaves.TryGetValue(step, out failed);
        if (failed is not null)
            Failed($"stopped by {reason}, but the checkpoint of step {step} could not be saved ({failed.Message}); resume continues from an earlier checkpoint");
        else
        {
            journal.Tell(new ExperimentJournal.Record(new ExperimentStopped(step, reason, DateTime.UtcNow)));
            inner.Stopped(step, reason);
        }
        return Task.CompletedTask;
    });

    /// <summary>A failure as one line: this project's own exceptions carry messages written for users; anything else keeps its type name.</summary>
    private static string Describe(Exception e) =>
        e.GetType().Namespace?.StartsWith("RlActors", StringComparison.Ordinal) == true ? e.Message : $"{e.GetType().Name}: {e.Message}";
}
