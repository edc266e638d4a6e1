using Akka.Actor;
using RlActors.Actors.Experiment;
using RlActors.Actors.Persistence;
using RlActors.Policies.Checkpoints;

namespace RlActors.Host;

/// <summary>
/// Records the experiment's life in the store as it happens: every completed step, finish and failure as journal
/// events, and every learner checkpoint in the checkpoint store (off the actor thread) followed by its
/// CheckpointSaved event (and CheckpointPruned for the older ones it deletes). Everything else goes to the wrapped observer (files, progress).
/// </summary>
public sealed class PersistingObserver(IExperimentObserver inner, IActorRef journal, CheckpointStore store, string name, int keepLast) : IExperimentObserver
{
    private readonly Lock gate = new();
    private readonly Dictionary<long, Exception> failedSaves = new();
    private Task saving = Task.CompletedTask;

    /// <summary>How long a checkpoint waits for the journal to catch up before it is reported as not saved.</summary>
    private static readonly TimeSpan JournalTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Completes when every checkpoint handed over so far is stored (or failed, with a warning).</summary>
    public Task Flushed { get { lock (gate) return saving; } }

    /// <inheritdoc />
    public void Log(string line) => inner.Log(line);
    /// <inheritdoc />
    public void SftDone(double seconds) => inner.SftDone(seconds);
    /// <inheritdoc />
    public void Evaluated(string phase, long step, double accuracy, double stepAccuracy, int problems)
    {
        journal.Tell(new ExperimentJournal.Record(new EvaluationRecorded(phase, step, Curves.GrpoEvalMetrics(accuracy, stepAccuracy, problems), DateTime.UtcNow)));
        inner.Evaluated(phase, step, accuracy, stepAccuracy, problems);
    }

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

    /// <summary>Runs <paramref name="work"/> after every save handed over before it, off the caller's thread.</summary>
    private void Then(Action work)
    {
        lock (gate) saving = saving.ContinueWith(_ => work(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    /// <inheritdoc />
    public void CheckpointTaken(long step, TrainingCheckpoint checkpoint)
    {
        // Saving takes 0.2-1 s: never on the experiment's thread. Saves stay in order. A failed save is reported and
        // remembered (a stop waits for its checkpoint and fails if that one could not be stored); the run goes on.
        Then(() =>
        {
            string id = $"step-{step:D8}";
            try
            {
                // The journal first: a resume rebuilds metrics.jsonl from the journal's steps up to the stored checkpoint,
                // so every StepCompleted up to this step must be durable before the checkpoint is. The journal persists in
                // mailbox order and answers GetState only after what came before it (those Records were enqueued on the
                // experiment's thread before this checkpoint was handed over). A SIGKILL between the two lost a step's line.
                journal.Ask<ExperimentState>(ExperimentJournal.GetState.Instance, JournalTimeout).Wait();
                var info = store.Save(name, id, step, checkpoint.PolicyVersion, checkpoint.WriteTo);
                journal.Tell(new ExperimentJournal.Record(new CheckpointSaved(step, id, info.Sha256, info.Size, DateTime.UtcNow)));
                inner.Log($"[ckpt] step {step}: saved {id} ({info.Size / 1024.0:F0} KiB, sha256 {info.Sha256[..12]}...) to {store.Location}");
            }
            catch (Exception e)
            {
                lock (gate) failedSaves[step] = e;
                inner.Log($"warning: the checkpoint of step {step} could not be saved to {store.Location}: {Cli.Describe(e)}");
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
    public void Finished(byte[] finalWeights)
    {
        Flushed.Wait(TimeSpan.FromSeconds(30));
        journal.Tell(new ExperimentJournal.Record(new ExperimentFinished(DateTime.UtcNow)));
        inner.Finished(finalWeights);
    }

    /// <inheritdoc />
    public void Failed(string reason)
    {
        journal.Tell(new ExperimentJournal.Record(new ExperimentFailed(reason, DateTime.UtcNow)));
        inner.Failed(reason);
    }

    /// <inheritdoc />
    /// <remarks>Waits (off the actor's thread) for the checkpoint of <paramref name="step"/> to be stored, then records the stop.
    /// When that checkpoint could not be stored the experiment is recorded as failed instead: the stop did not keep its promise.</remarks>
    public void Stopped(long step, string reason)
    {
        Then(() =>
        {
            Exception? failed;
            lock (gate) failedSaves.TryGetValue(step, out failed);
            if (failed is not null)
            {
                Failed($"stopped by {reason}, but the checkpoint of step {step} could not be saved ({failed.Message}); resume continues from an earlier checkpoint");
                return;
            }
            journal.Tell(new ExperimentJournal.Record(new ExperimentStopped(step, reason, DateTime.UtcNow)));
            inner.Stopped(step, reason);
        });
    }
}
