using Akka.Actor;
using RlActors.Policies.Checkpoints;

namespace RlActors.Actors.Supervised;

/// <summary>
/// A supervised experiment (<see cref="SupervisedExperimentActor"/>) ↔ its learner child, e.g. <see cref="CclLearnerActor"/>
/// (always in the same process: these messages are never serialized). The learner owns the model, the optimiser and the
/// data; it answers one request at a time, in order.
/// </summary>
public static class SupervisedProtocol
{
    /// <summary>Build the model and load the data, then restore <paramref name="Resume"/> when given; reply <see cref="Ready"/>.</summary>
    public sealed record Initialize(TrainingCheckpoint? Resume = null);

    /// <summary>The learner is ready after <paramref name="Step"/> completed steps (0 for a fresh run).</summary>
    /// <param name="Step">Steps already taken (the checkpoint's step on a resume).</param>
    /// <param name="StepsPerEpoch">SGD steps in one pass over the training data.</param>
    /// <param name="Seconds">Time taken to build, load and restore.</param>
    public sealed record Ready(long Step, int StepsPerEpoch, double Seconds);

    /// <summary>Take SGD step <paramref name="Step"/> (the one after the learner's last) on the next batch; reply <see cref="StepTrained"/>.</summary>
    public sealed record TrainStep(long Step);

    /// <summary>The step was taken.</summary>
    /// <param name="Step">Its number.</param>
    /// <param name="Metrics">Training metrics of the step (see <see cref="SupervisedMetrics"/> and the model's own names).</param>
    /// <param name="Evaluation">When the step ended an epoch (every epoch has <see cref="Ready.StepsPerEpoch"/> steps): the held-out
    /// metrics measured right after it; otherwise null.</param>
    public sealed record StepTrained(long Step, IReadOnlyDictionary<string, double> Metrics, IReadOnlyDictionary<string, double>? Evaluation);

    /// <summary>Snapshot everything needed to continue exactly; reply <see cref="CheckpointTaken"/>.</summary>
    public sealed record TakeCheckpoint(long Step);

    /// <summary>The learner's state after <paramref name="Step"/> steps.</summary>
    public sealed record CheckpointTaken(long Step, TrainingCheckpoint Checkpoint);

    /// <summary>The run is over after <paramref name="Step"/>: evaluate when asked, and reply <see cref="Concluded"/> with the final weights.</summary>
    public sealed record Conclude(long Step, bool Evaluate);

    /// <summary>The final state.</summary>
    /// <param name="Step">The last step.</param>
    /// <param name="Evaluation">Held-out metrics, when asked for.</param>
    /// <param name="Weights">The model's weights (the bytes whose sha256 a checkpoint reports as weights_sha256).</param>
    public sealed record Concluded(long Step, IReadOnlyDictionary<string, double>? Evaluation, byte[] Weights);
}

/// <summary>Fixed metric names of supervised experiments, in addition to the model's training metrics (e.g. <c>loss</c>,
/// <c>train_accuracy</c> or <c>reconstruction_mse</c> of <see cref="Policies.Ccl.CclMetrics"/>).</summary>
public static class SupervisedMetrics
{
    /// <summary>Epochs completed after the step (fractional within an epoch).</summary>
    public const string Epoch = "epoch";
    /// <summary>Classification accuracy on the test set (at an epoch's end).</summary>
    public const string TestAccuracy = "test_accuracy";
    /// <summary>Mean cross-entropy on the test set (at an epoch's end).</summary>
    public const string TestLoss = "test_loss";
    /// <summary>Classification accuracy on the validation split (at an epoch's end; absent without a validation split).</summary>
    public const string ValidationAccuracy = "validation_accuracy";
    /// <summary>Mean cross-entropy on the validation split.</summary>
    public const string ValidationLoss = "validation_loss";
    /// <summary>Autoencoder: reconstruction MSE per element on the test set (at an epoch's end).</summary>
    public const string TestReconstructionMse = "test_reconstruction_mse";
    /// <summary>Autoencoder: reconstruction MSE per element on the validation split.</summary>
    public const string ValidationReconstructionMse = "validation_reconstruction_mse";
}

/// <summary>Everything a <see cref="SupervisedExperimentActor"/> needs.</summary>
/// <param name="Name">Experiment name.</param>
/// <param name="Learner">Props of the learner child; it must speak <see cref="SupervisedProtocol"/>.</param>
/// <param name="TotalSteps">SGD steps to run in all.</param>
public sealed record SupervisedSettings(string Name, Props Learner, long TotalSteps)
{
    /// <summary>Checkpoint after every this many epochs; the last step and a stop are always checkpointed (0: only those).</summary>
    public int CheckpointEveryEpochs { get; init; }
    /// <summary>Continue from this learner checkpoint: steps 1..Step are taken as done.</summary>
    public TrainingCheckpoint? ResumeFrom { get; init; }
}
