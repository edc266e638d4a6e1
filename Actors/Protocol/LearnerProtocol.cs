using RlActors.Policies.Grpo;

namespace RlActors.Actors.Protocol;

/// <summary>Experiment ↔ its learner child (always in the same process: these messages are never serialized).</summary>
public static class LearnerProtocol
{
    /// <summary>Build the policy and run the SFT warm-up; reply <see cref="Ready"/>.</summary>
    public sealed record Initialize;

    /// <summary>The policy after SFT: version 0.</summary>
    public sealed record Ready(WeightsProtocol.PolicyWeights Weights, double SftSeconds);

    /// <summary>Run one GRPO update on groups ordered by slot; reply <see cref="Trained"/>.</summary>
    public sealed record Train(long Step, IReadOnlyList<ScoredGroup> Groups);

    /// <summary>The update of <paramref name="Step"/> produced policy version <paramref name="Weights"/>.Version.</summary>
    public sealed record Trained(long Step, WeightsProtocol.PolicyWeights Weights, IReadOnlyDictionary<string, double> Metrics, double Seconds);

    /// <summary>Greedy evaluation on the held-out set; reply <see cref="Evaluated"/>.</summary>
    public sealed record Evaluate(string Phase, long Step);

    /// <summary>Held-out result.</summary>
    public sealed record Evaluated(string Phase, long Step, double Accuracy, double StepAccuracy, int Problems);
}
