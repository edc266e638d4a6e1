using System.Security.Cryptography;
using RlActors.Actors.Flow;
using RlActors.Environments.Flow2d;
using RlActors.Policies.Ccl;
using RlActors.Policies.Flow;
using Xunit.Abstractions;
using static RlActors.Actors.Flow.FlowProtocol;
using static RlActors.Actors.Protocol.WorkerProtocol;
using static RlActors.Actors.Protocol.WeightsProtocol;
using RlActors.Actors.Workers;

namespace RlActors.Actors.Tests;

/// <summary>
/// The explorer actor without a mediator: a probe plays the flow experiment and sends tasks directly (the explorer answers the
/// sender); the explorer's own pull requests go to a mediator where no experiment is registered and are lost.
/// </summary>
public sealed class FlowExplorerTests(ITestOutputHelper output) : ClusterTestKit(output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private static readonly FlowModelSpec Mlp = new() { Width = 16, Layers = 2, TimeFeatures = 8, ClassEmbedding = 8 };
    private static readonly FlowTaskOptions Early = new();

    private static FlowWeights Weights(FlowModelSpec spec, long version, long initSeed)
    {
        using var model = spec.Create(initSeed);
        return new FlowWeights(version, spec, model.SaveWeights());
    }

    private static ExploreTask Task(long version, FlowGroupSpec[] groups, string taskJson, string rewardSha = "") =>
        new("exp", version + 1, 0, version, groups, new FlowSamplingOptions { Steps = 6 }, taskJson, rewardSha);

    [Fact]
    public void An_explorer_returns_K_scored_siblings_that_share_their_prefix_exactly_and_differ_after_the_branch()
    {
        const int k = 5, branch = 2;
        var explorer = Sys.ActorOf(PullWorkerActor.Props("test/explorer-0", () => new FlowExplorer()), "explorer");
        var experiment = CreateTestProbe();
        var specs = new[] { new FlowGroupSpec(1, branch, k, 123, GroupId: 8), new FlowGroupSpec(3, FlowGroupSpec.FullSde, k, 124, GroupId: 9) };

        experiment.Send(explorer, Task(4, specs, Early.ToJson()));
        Assert.Equal(4, experiment.ExpectMsg<GetWeights>(Wait).Version);
        experiment.Reply(Weights(Mlp, 4, initSeed: 3));
        var result = experiment.ExpectMsg<ExploredGroups>(Wait);

        Assert.Equal(("exp", 5L, 0, 4L, "test/explorer-0"), (result.Experiment, result.Step, result.Task, result.PolicyVersion, result.ExplorerId));
        Assert.Equal([8L, 9L], result.Groups.Select(g => g.GroupId));
        var siblings = result.Groups[0];
        siblings.Validate();
        Assert.Equal((k, branch, 4L), (siblings.Members, siblings.BranchStep, siblings.PolicyVersion));
        Assert.Equal([branch], siblings.TrainedSteps);
        // The prefix: every sibling's state at the branch step is the same point; after it they differ.
        var first = siblings.States.AsSpan(0, 2).ToArray();
        for (int m = 1; m < k; m++) Assert.Equal(first, siblings.States.AsSpan(m * 2, 2).ToArray());
        Assert.Equal(k, Enumerable.Range(0, k).Select(m => (siblings.Next[2 * m], siblings.Next[2 * m + 1])).Distinct().Count());
        Assert.Equal(k, Enumerable.Range(0, k).Select(m => (siblings.Finals[2 * m], siblings.Finals[2 * m + 1])).Distinct().Count());
        // Scored with the task's reward.
        var task = new Flow2dTask(Early.Flow2dWithKind);
        Assert.Equal(task.Rewards(1, siblings.Finals), siblings.Rewards);
        var full = result.Groups[1];
        Assert.Equal((FlowGroupSpec.FullSde, 6), (full.BranchStep, full.StepsPerMember));
        Assert.Equal(task.Rewards(3, full.Finals), full.Rewards);
    }

    [Fact]
    public void The_same_task_gives_the_same_groups_the_weights_are_fetched_once_and_a_new_version_is_fetched_again()
    {
        var explorer = Sys.ActorOf(PullWorkerActor.Props("test/explorer-0", () => new FlowExplorer()), "explorer");
        var experiment = CreateTestProbe();
        var task = Task(0, [new FlowGroupSpec(0, 1, 4, 77, GroupId: 0)], Early.ToJson());

        experiment.Send(explorer, task);
        experiment.ExpectMsg<GetWeights>(Wait);
        experiment.Reply(Weights(Mlp, 0, initSeed: 1));
        var a = experiment.ExpectMsg<ExploredGroups>(Wait);
        experiment.Send(explorer, task);
        var b = experiment.ExpectMsg<ExploredGroups>(Wait); // version 0 is held: no GetWeights
        Deep.Equal(a.Groups, b.Groups);

        experiment.Send(explorer, task with { Step = 2, PolicyVersion = 1 });
        Assert.Equal(1, experiment.ExpectMsg<GetWeights>(Wait).Version);
        experiment.Reply(Weights(Mlp, 1, initSeed: 2));
        var c = experiment.ExpectMsg<ExploredGroups>(Wait);
        Assert.Equal(1, c.PolicyVersion);
        Assert.NotEqual(a.Groups[0].Finals, c.Groups[0].Finals);
    }

    [Fact]
    public void An_explorer_fetches_the_reward_model_a_task_names_and_scores_with_its_class_probabilities()
    {
        var rewardOptions = new FashionRewardModelOptions { Hidden = 8 };
        byte[] classifier;
        using (var net = new CclNetwork(rewardOptions.Architecture, 5)) classifier = net.SaveWeights();
        string sha = Convert.ToHexString(SHA256.HashData(classifier)).ToLowerInvariant();
        var fashion = new FlowTaskOptions { Kind = FlowTaskKind.Fashion, RewardModel = rewardOptions };
        var conv = new FlowModelSpec { Architecture = FlowArchitecture.Conv, Dim = 196, Classes = 10, Width = 4, Side = 14, TimeFeatures = 8, ClassEmbedding = 4 };
        var explorer = Sys.ActorOf(PullWorkerActor.Props("test/explorer-0", () => new FlowExplorer()), "explorer");
        var experiment = CreateTestProbe();

        experiment.Send(explorer, Task(0, [new FlowGroupSpec(7, 0, 3, 5, GroupId: 0)], fashion.ToJson(), sha));
        experiment.ExpectMsg<GetWeights>(Wait);
        experiment.Reply(Weights(conv, 0, initSeed: 1));
        Assert.Equal(sha, experiment.ExpectMsg<GetRewardModel>(Wait).Sha256);
        experiment.Reply(new RewardModel(sha, classifier));
        var g = Assert.Single(experiment.ExpectMsg<ExploredGroups>(Wait).Groups);

        Assert.Equal(3 * 196, g.Finals.Length);
        using var reward = new FashionClassifierReward(rewardOptions, classifier);
        Assert.Equal(reward.Reward(7, g.Finals), g.Rewards);
        Assert.All(g.Rewards, r => Assert.InRange(r, 0f, 1f));
    }
}
