using Akka.Actor;
using RlActors.Actors.Experiment;
using RlActors.Actors.Persistence;
using RlActors.Policies.Checkpoints;

namespace RlActors.Host;

/// <summary>
/// Records the experiment's life in the store as it happens: every completed step, finish and failure as journal
/// events, and every learner checkpoint in the checkpoint store (off the actor thread) followed by its
/// CheckpointSaved event. Everything else goes to the wrapped observer (files, progress).
/// </summary>
public sealed class PersistingObserver(IExperimentObserver inner, IActorRef journal, CheckpointStore store, string name, int keepLast) : IExperimentObserver
{
    private Task saving = Task.CompletedTask;

    /// <summary>Completes when every checkpoint handed over so far is stored.</summary>
    public Task Flushed => saving;

    /// <inheritdoc />
    public void Log(string line) => inner.Log(line);
    /// <inheritdoc />
    public void SftDone(double seconds) => inner.SftDone(seconds);
    /// <inheritdoc />
    public void Evaluated(string phase, long step, double accuracy, double stepAccuracy, int problems) => inner.Evaluated(phase, step, accuracy, stepAccuracy, problems);

    /// <inheritdoc />
    public void StepCompleted(StepReport report)
    {
        journal.Tell(new ExperimentJournal.Record(new StepCompleted(report.Step, report.PolicyVersion, report.Metrics, DateTime.UtcNow)));
        inner.StepCompleted(report);
    }

    /// <inheritdoc />
    public void CheckpointTaken(long step, TrainingCheckpoint checkpoint)
    {
        // Saving takes 0.2-1 s: never on the experiment's thread. Saves stay in order.
        saving = saving.ContinueWith(_ =>
        {
            string id = $"step-{step:D8}";
            var info = store.Save(name, id, step, checkpoint.PolicyVersion, checkpoint.Encode());
            journal.Tell(new ExperimentJournal.Record(new CheckpointSaved(step, id, info.Sha256, info.Size, DateTime.UtcNow)));
            if (keepLast > 0) store.Prune(name, keepLast);
            inner.Log($"[ckpt] step {step}: saved {id} ({info.Size / 1024.0:F0} KiB, sha256 {info.Sha256[..12]}...) to {store.Location}");
        }, TaskScheduler.Default);
    }

    /// <inheritdoc />
    public void Finished(byte[] finalWeights)
    {
        saving.Wait(TimeSpan.FromSeconds(30));
        journal.Tell(new ExperimentJournal.Record(new ExperimentFinished(DateTime.UtcNow)));
        inner.Finished(finalWeights);
    }

    /// <inheritdoc />
    public void Failed(string reason)
    {
        journal.Tell(new ExperimentJournal.Record(new ExperimentFailed(reason, DateTime.UtcNow)));
        inner.Failed(reason);
    }
}
