using RlActors.Actors.Experiment;
using RlActors.Policies.Checkpoints;

namespace RlActors.Actors.Protocol;

/// <summary>
/// An experiment coordinator ↔ its learner child, for every kind (always in the same process: these messages are never
/// serialized). The learner (<see cref="Learning.LearnerActor"/>) answers one request at a time, in order, doing the work of
/// its kind's <see cref="Learning.ILearnerCore"/> on the torch thread. Metrics are named values; evaluations are reports.
/// </summary>
public static class LearnerProtocol
{
    /// <summary>Build the model and run the kind's setup (SFT warm-up, reward model and pretraining, data loading), or restore
    /// <paramref name="Resume"/> instead; reply <see cref="Ready"/> (and <see cref="Progress"/> lines while setting up).</summary>
    public sealed record Initialize(TrainingCheckpoint? Resume = null);

    /// <summary>A line of setup progress, sent to the parent while the learner initialises.</summary>
    public sealed record Progress(string Line);

    /// <summary>The learner is ready after <paramref name="Step"/> steps.</summary>
    /// <param name="Step">Steps done (the checkpoint's on a resume, 0 for a fresh run); also the policy version.</param>
    /// <param name="Weights">The weights workers sample with, version <paramref name="Step"/> (null for a learner-only kind).</param>
    /// <param name="Setup">What a fresh run's setup reported (e.g. the SFT phase and the evaluation after it); null on a resume.</param>
    /// <param name="Seconds">Time taken to set up or restore.</param>
    /// <param name="Resource">What else workers may fetch from the coordinator (e.g. a flow task's reward model), or null.</param>
    public sealed record Ready(long Step, IVersionedWeights? Weights, Learning.LearnerSetup? Setup, double Seconds, object? Resource = null);

    /// <summary>Train step <paramref name="Step"/> on <paramref name="Batch"/> (the step's work results combined in plan order);
    /// evaluate afterwards, as <paramref name="EvaluatePhase"/>, when it is not null; reply <see cref="Trained"/>.</summary>
    public sealed record Train(long Step, object Batch, string? EvaluatePhase = null);

    /// <summary>The update of <paramref name="Step"/>: the new weights (version <paramref name="Step"/>), its metrics, the
    /// evaluation after it if one was asked for (or the kind takes one on its own, as at an epoch's end), and the time the
    /// update took (without the evaluation).</summary>
    public sealed record Trained(long Step, IVersionedWeights? Weights, IReadOnlyDictionary<string, double> Metrics, EvalReport? Evaluation, double Seconds);

    /// <summary>Snapshot everything the learner needs to continue exactly; reply <see cref="CheckpointTaken"/>.</summary>
    public sealed record TakeCheckpoint(long Step);

    /// <summary>The learner's state after <paramref name="Step"/> steps.</summary>
    public sealed record CheckpointTaken(long Step, TrainingCheckpoint Checkpoint);

    /// <summary>The run is over after <paramref name="Step"/>: reply <see cref="Concluded"/>.</summary>
    public sealed record Conclude(long Step);

    /// <summary>The final state: the model's weights (the bytes whose sha256 a checkpoint reports), the final evaluation if the
    /// kind takes one, and what else the kind hands its plan at the end (e.g. samples for pictures).</summary>
    public sealed record Concluded(long Step, byte[] Weights, EvalReport? Evaluation, object? Extra);
}
