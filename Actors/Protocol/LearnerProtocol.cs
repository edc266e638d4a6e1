using RlActors.Policies.Grpo;

namespace RlActors.Actors.Protocol;

/// <summary>Experiment ↔ its learner child (always in the same process: these messages are never serialized).</summary>
public static class LearnerProtocol
{
    /// <summary>Build the policy and run the SFT warm-up, or restore <paramref name="Resume"/> instead; reply <see cref="Ready"/>.</summary>
    public sealed record Initialize(Policies.Checkpoints.TrainingCheckpoint? Resume = null);

    /// <summary>The policy after SFT: version 0.</summary>
    public sealed record Ready(WeightsProtocol.PolicyWeights Weights, double SftSeconds);

    /// <summary>Run one GRPO update on groups ordered by slot; reply <see cref="Trained"/>.</summary>
    public sealed record Train(long Step, IReadOnlyList<ScoredGroup> Groups);

    /// <summary>The update of <paramref name="Step"/> produced policy version <paramref name="Weights"/>.Version.</summary>
    public sealed record Trained(long Step, WeightsProtocol.PolicyWeights Weights, IReadOnlyDictionary<string, double> Metrics, double Seconds);

    /// <summary>Snapshot everything the learner needs to continue exactly; reply <see cref="CheckpointTaken"/>.</summary>
    public sealed record TakeCheckpoint(long Step);

    /// <summary>The learner's state after <paramref name="Step"/> steps.</summary>
    public sealed record CheckpointTaken(long Step, Policies.Checkpoints.TrainingCheckpoint Checkpoint);

    /// <summary>Greedy evaluation on the held-out set; reply <see cref="Evaluated"/>.</summary>
    public sealed record Evaluate(string Phase, long Step);

    /// <summary>Held-out result.</summary>
    public sealed record Evaluated(string Phase, long Step, double Accuracy, double StepAccuracy, int Problems);
}
