using System.Diagnostics;
using System.Security.Cryptography;
using RlActors.Actors.Workers;
using RlActors.Policies.Flow;
using static RlActors.Actors.Flow.FlowProtocol;
using static RlActors.Actors.Protocol.WorkerProtocol;

namespace RlActors.Actors.Flow;

/// <summary>
/// The branch-point trajectory explorer's work (role <c>explorer</c>, run by a <see cref="PullWorkerActor"/>): for an
/// <see cref="ExploreTask"/>, load the policy version it names and the task's reward model (both fetched from the experiment when
/// this node lacks them), run <see cref="FlowSampler.Explore"/> for every group, score the finals with the task's reward, and
/// return the sibling groups.
/// </summary>
public sealed class FlowExplorer : IWorkHandler
{
    // Torch state: touched only on the torch thread.
    private FlowVelocityModel? model;
    private FlowModelSpec? modelSpec;
    private FlowReward? reward;
    private IDisposable? rewardOwner;
    private string? rewardKey;
    // Set on the actor's thread.
    private long version = -1;
    private FlowWeights? pending;
    private byte[]? rewardModel;
    private string rewardModelSha = "";

    /// <inheritdoc />
    public string WorkKind => FlowPlan.ExploreWork;

    /// <inheritdoc />
    public bool Accepts(object message) => message is ExploreTask;

    /// <inheritdoc />
    public IEnumerable<object> Missing(object unit)
    {
        var t = (ExploreTask)unit;
        if (t.PolicyVersion != version) yield return new GetWeights(t.PolicyVersion);
        if (t.RewardModelSha256.Length > 0 && !string.Equals(t.RewardModelSha256, rewardModelSha, StringComparison.OrdinalIgnoreCase))
            yield return new GetRewardModel(t.RewardModelSha256);
    }

    /// <inheritdoc />
    public bool Supply(object message)
    {
        switch (message)
        {
            case FlowWeights w:
                pending = w;
                version = w.Version;
                return true;
            case RewardModel m:
                string sha = Convert.ToHexString(SHA256.HashData(m.Bytes)).ToLowerInvariant();
                if (sha != m.Sha256.ToLowerInvariant()) throw new InvalidDataException($"reward model {m.Sha256[..12]}... arrived with sha256 {sha[..12]}...");
                rewardModel = m.Bytes;
                rewardModelSha = sha;
                return true;
            default:
                return false;
        }
    }

    /// <inheritdoc />
    public object Work(object unit, string workerId)
    {
        var t = (ExploreTask)unit;
        var weights = pending;
        pending = null;
        if (weights is not null) LoadWeights(weights);
        string key = $"{t.TaskJson}#{t.RewardModelSha256}";
        if (rewardKey != key)
        {
            rewardOwner?.Dispose();
            (reward, rewardOwner) = FlowTaskSetup.Reward(FlowTaskOptions.FromJson(t.TaskJson), t.RewardModelSha256.Length > 0 ? rewardModel : null);
            rewardKey = key;
        }
        return Explore(model!, reward!, t, workerId);
    }

    private void LoadWeights(FlowWeights w)
    {
        if (model is null || modelSpec != w.Model)
        {
            model?.Dispose();
            model = w.Model.Create(0);
            model.eval();
            modelSpec = w.Model;
        }
        model.LoadWeights(w.Bytes);
    }

    /// <summary>The work of one task: explore and score every group with the given model and reward (call on the torch thread).</summary>
    public static ExploredGroups Explore(FlowVelocityModel model, FlowReward reward, ExploreTask task, string explorerId)
    {
        var watch = Stopwatch.StartNew();
        var groups = new FlowRolloutGroup[task.Groups.Length];
        for (int i = 0; i < groups.Length; i++)
        {
            var g = FlowSampler.Explore(model, task.Groups[i], task.Sampling, task.PolicyVersion);
            groups[i] = g.WithRewards(reward(g.Class, g.Finals));
        }
        return new ExploredGroups(task.Experiment, task.Step, task.Task, task.PolicyVersion, explorerId, groups, watch.Elapsed.TotalSeconds);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        model?.Dispose();
        rewardOwner?.Dispose();
    }
}
