using Akka.Actor;
using RlActors.Actors.Experiment;
using RlActors.Actors.Learning;
using RlActors.Actors.Protocol;
using RlActors.Policies.Ccl;
using RlActors.Policies.Checkpoints;

namespace RlActors.Actors.Ccl;

/// <summary>Everything a CCL experiment needs on the runtime.</summary>
/// <param name="Name">Experiment name.</param>
/// <param name="Options">The network, method and optimiser options.</param>
/// <param name="LoadData">Builds the data (called on the torch thread when the learner initialises; the learner disposes it).</param>
/// <param name="TotalSteps">SGD steps to run in all.</param>
/// <param name="StepsPerEpoch">SGD steps in one pass over the training data.</param>
/// <param name="Runtime">Scheduling (checkpoint-every and keep-checkpoints; a learner-only kind has no workers).</param>
public sealed record CclSettings(string Name, CclOptions Options, Func<CclData> LoadData, long TotalSteps, int StepsPerEpoch, RuntimeOptions Runtime)
{
    /// <summary>Continue from this learner checkpoint: steps 1..Step are taken as done.</summary>
    public TrainingCheckpoint? ResumeFrom { get; init; }
}

/// <summary>
/// The plan of a supervised counter-current learning experiment (or its baselines): learner-only, no work units, one SGD step
/// of the learner after another. At an epoch's end the learner evaluates on its own (validation and test splits); those
/// metrics go into the step's metrics too.
/// </summary>
public sealed class CclPlan(CclSettings settings) : IStepPlan
{
    /// <summary>Props of the coordinator of <paramref name="settings"/>.</summary>
    public static Props Props(CclSettings settings, IExperimentObserver observer) =>
        StepCoordinator.Props(new CclPlan(settings), observer, settings.ResumeFrom);

    /// <inheritdoc />
    public string Experiment => settings.Name;
    /// <inheritdoc />
    public long TotalSteps => settings.TotalSteps;
    /// <inheritdoc />
    public RuntimeOptions Runtime => settings.Runtime;
    /// <inheritdoc />
    public Props Learner { get; } = LearnerActor.Props(() => new CclLearnerCore(settings.Options, settings.LoadData));
    /// <inheritdoc />
    public string? WorkKind => null;
    /// <inheritdoc />
    public string AbandonedBeforeFirstStep => "the learner was still loading";
    /// <inheritdoc />
    public bool EvaluationInStepMetrics => true;

    /// <inheritdoc />
    public string StartLine(TrainingCheckpoint? r) => r is not null
        ? $"experiment {settings.Name}: resuming after step {r.Step} (weights sha256 {r.WeightsSha256[..12]}...)"
        : $"experiment {settings.Name}: building the model and loading the data on the learner";

    /// <inheritdoc />
    public string? ReadyLine(LearnerProtocol.Ready r) =>
        $"learner ready in {r.Seconds:F1} s: {settings.StepsPerEpoch} steps per epoch, {TotalSteps} steps in all";

    /// <summary>None: a learner-only kind.</summary>
    public IReadOnlyList<object> Units(long step, long samplingVersion) => [];

    /// <summary>The learner draws its own batches: nothing to combine.</summary>
    public object Combine(long step, IReadOnlyList<UnitOutcome> outcomes) => step;

    /// <inheritdoc />
    public Dictionary<string, double> StepMetrics(IReadOnlyDictionary<string, double> learner, IReadOnlyList<UnitOutcome> outcomes, StepFacts f) =>
        new(learner) { [RuntimeMetrics.StepSeconds] = f.WallSeconds };
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
