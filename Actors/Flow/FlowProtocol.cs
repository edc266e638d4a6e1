using RlActors.Actors.Protocol;
using RlActors.Policies.Checkpoints;
using RlActors.Policies.Flow;

namespace RlActors.Actors.Flow;

/// <summary>
/// Explorer actors (role <c>explorer</c>) ↔ a flow experiment (<see cref="FlowPlan"/>, registered in the pub-sub
/// mediator at <c>/user/experiment</c>). Explorers pull (<see cref="WorkerProtocol.RequestWork"/> with work kind "explore"): each has at most one request outstanding.
/// A task names the policy version to sample with; an explorer without it asks for it with
/// <see cref="WorkerProtocol.GetWeights"/> (answered by <see cref="FlowWeights"/> or <see cref="WorkerProtocol.WeightsUnavailable"/>),
/// and an explorer without the task's reward model asks for it with <see cref="GetRewardModel"/>. The end of the
/// experiment is <see cref="WorkerProtocol.NoMoreWork"/>. Every message here crosses node boundaries.
/// </summary>
public static class FlowProtocol
{
    /// <summary>
    /// One task: explore every group spec with policy version <paramref name="PolicyVersion"/> (run the ODE to the spec's branch
    /// step, draw its K SDE siblings there, finish each with the ODE; or K full SDE rollouts for Flow-GRPO), score the finals
    /// with the task's reward, and return the groups. A group depends only on its spec and the weights, so the result does not
    /// depend on which explorer ran it.
    /// </summary>
    /// <param name="Experiment">Experiment name.</param>
    /// <param name="Step">RL step the groups are for.</param>
    /// <param name="Task">Index of the task within the step.</param>
    /// <param name="PolicyVersion">Version of the weights to sample with (Step − 1).</param>
    /// <param name="Groups">The groups' specs (class, branch step, K, seed, group id: the plan's index).</param>
    /// <param name="Sampling">Grid, noise level and log-prob reduction.</param>
    /// <param name="TaskJson">The task (<see cref="FlowTaskOptions.ToJson"/>): the explorer builds the reward from it.</param>
    /// <param name="RewardModelSha256">SHA-256 of the reward model's weights the task needs (Fashion-MNIST), or "" (2-D tasks).</param>
    public sealed record ExploreTask(string Experiment, long Step, int Task, long PolicyVersion, FlowGroupSpec[] Groups,
        FlowSamplingOptions Sampling, string TaskJson, string RewardModelSha256) : IWorkUnit
    {
        int IWorkUnit.Unit => Task;
    }

    /// <summary>The scored groups of one task, in the task's order.</summary>
    /// <param name="Experiment">Experiment name.</param>
    /// <param name="Step">RL step.</param>
    /// <param name="Task">Index of the task within the step.</param>
    /// <param name="PolicyVersion">Version the groups were sampled with.</param>
    /// <param name="ExplorerId">Who explored them.</param>
    /// <param name="Groups">Sibling groups (or full-SDE groups) with their rewards.</param>
    /// <param name="Seconds">Time spent exploring and scoring.</param>
    public sealed record ExploredGroups(string Experiment, long Step, int Task, long PolicyVersion, string ExplorerId,
        FlowRolloutGroup[] Groups, double Seconds) : IUnitResult
    {
        int IUnitResult.Unit => Task;
        string IUnitResult.WorkerId => ExplorerId;
        int IUnitResult.Items => Groups.Length;
    }

    /// <summary>Policy weights of one version and the model's shape. <paramref name="Remote"/>: set (and <paramref name="Bytes"/>
    /// empty) when the bytes wait on the sender's weight server (see <see cref="Protocol.WeightsProtocol.PolicyWeights"/>).</summary>
    public sealed record FlowWeights(long Version, FlowModelSpec Model, byte[] Bytes, Runtime.Weights.WeightsRef? Remote = null) : IVersionedWeights
    {
        /// <inheritdoc />
        public IVersionedWeights WithBytes(byte[] bytes) => this with { Bytes = bytes, Remote = null };
    }

    /// <summary>Ask for the reward model whose weights have this SHA-256 (hex).</summary>
    public sealed record GetRewardModel(string Sha256) : IRlMessage;

    /// <summary>The reward model's weights.</summary>
    public sealed record RewardModel(string Sha256, byte[] Bytes) : IRlMessage;
}

/// <summary>ODE samples of a model for pictures: <paramref name="PerClass"/> samples of every class, class-major.</summary>
/// <param name="Label">What model drew them, e.g. "pretrained" or "after 200 steps".</param>
/// <param name="Classes">Number of classes.</param>
/// <param name="PerClass">Samples per class.</param>
/// <param name="Dim">Values per sample.</param>
/// <param name="Values">Classes · PerClass · Dim values.</param>
/// <param name="MeanReward">Mean reward of these samples.</param>
public sealed record FlowSamples(string Label, int Classes, int PerClass, int Dim, float[] Values, double MeanReward);

/// <summary>Fixed metric names of flow runs in addition to <see cref="FlowMetrics"/> and <see cref="Experiment.RuntimeMetrics"/>.</summary>
public static class FlowRunMetrics
{
    /// <summary>Mean reward of deterministic ODE samples (flow.eval-steps Euler steps) of a fixed evaluation set: eval.jsonl,
    /// and metrics.jsonl on the steps that were evaluated.</summary>
    public const string OdeReward = "ode_reward";
    /// <summary>Distinct explorers (host:port/explorer-i) whose groups the step trained on.</summary>
    public const string Explorers = "explorers";
    /// <summary>Longest time an explorer spent on one of the step's tasks.</summary>
    public const string ExploreSeconds = "explore_s";
}
