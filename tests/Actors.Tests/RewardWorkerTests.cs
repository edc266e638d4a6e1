using Akka.Actor;
using RlActors.Actors.Protocol;
using RlActors.Actors.Rewards;
using RlActors.Environments.Arithmetic;
using RlActors.Policies.Training;
using Xunit.Abstractions;
using static RlActors.Actors.Protocol.RewardProtocol;

namespace RlActors.Actors.Tests;

public sealed class RewardWorkerTests(ITestOutputHelper output) : ClusterTestKit(output)
{
    /// <summary>Longer than a fresh scoring takes, shorter than the worker's give-up timer (a component timeout + 5 s),
    /// so an answer within it comes from a live component, not from the worker giving up on a lost request.</summary>
    private static readonly TimeSpan Answer = TimeSpan.FromSeconds(4);

    private static readonly RewardSpecDto Outcome = new("outcome", null, 1.0, 5);
    private static readonly TaskSpec Task = Tiny.Task(dataSeed: 3);

    private static RewardSpecDto TestPlugin(string type, double timeoutSeconds = 5) =>
        new($"TestPlugins.{type}, TestPlugins", PluginPaths.TestPlugins, 1.0, timeoutSeconds);

    /// <summary>Per problem, one group: [reference solution, the same with a wrong answer].</summary>
    private static RolloutGroup[] RightAndWrong(params long[] problems)
    {
        var generator = Tiny.Generator(Task);
        return problems.Select(i =>
        {
            var p = generator.Get(i);
            var rows = Tiny.PadRows(ArithmeticLm.ReferenceIds(p), Tiny.WrongAnswerIds(p));
            return new RolloutGroup($"exp/1/0/{i}", i, ArithmeticLm.PromptIds(p), rows, rows.Select(r => new float[r.Length]).ToArray());
        }).ToArray();
    }

    private static ScoreSlot Score(RewardSpecDto[] rewards, RolloutGroup[] groups, int slot = 0) =>
        new("exp", 1, slot, 0, Task, rewards, groups);

    private IActorRef? Identify(ActorPath path)
    {
        var probe = CreateTestProbe();
        Sys.ActorSelection(path).Tell(new Identify(path.ToString()), probe);
        return probe.ExpectMsg<ActorIdentity>(TimeSpan.FromSeconds(3)).Subject;
    }

    [Fact]
    public void The_outcome_reward_scores_a_right_answer_1_and_a_wrong_one_0()
    {
        var worker = Sys.ActorOf(RewardWorkerActor.Props(), "reward");
        worker.Tell(Score([Outcome], RightAndWrong(0, 1, 2), slot: 5));
        var s = ExpectMsg<SlotScored>(TimeSpan.FromSeconds(15));
        Assert.Equal(("exp", 1L, 5), (s.Experiment, s.Step, s.Slot));
        Assert.All(s.Rewards, r => Assert.Equal([1f, 0f], r));
        Assert.Equal([1, 1, 1], s.Correct);
        Assert.Equal(0, s.Failures);
        Assert.Empty(s.FailedComponents);
    }

    [Theory]
    [InlineData("ThrowingReward", "throwing", 5.0)]
    [InlineData("HangingReward", "hanging", 0.3)]
    [InlineData("NaNReward", "nan", 5.0)]
    [InlineData("WrongLengthReward", "wrong-length", 5.0)]
    public void A_misbehaving_plugin_is_counted_and_named_while_the_other_rewards_still_score(string type, string name, double timeout)
    {
        var worker = Sys.ActorOf(RewardWorkerActor.Props(), "reward");
        var rewards = new[] { Outcome, TestPlugin(type, timeout) };
        worker.Tell(Score(rewards, RightAndWrong(0, 1)));
        var s = ExpectMsg<SlotScored>(TimeSpan.FromSeconds(15));
        Assert.Equal(2, s.Failures); // one per group
        Assert.Equal([name], s.FailedComponents);
        Assert.All(s.Rewards, r => Assert.Equal([1f, 0f], r)); // the outcome part, nothing from the failed one (no NaN)
        Assert.Equal([1, 1], s.Correct);

        // The misbehaving component fails itself after answering; its backoff supervisor starts a fresh instance.
        var component = worker.Path / $"reward-1-{name}" / "component";
        AwaitAssert(() => Assert.NotNull(Identify(component)), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(50));
        worker.Tell(Score(rewards, RightAndWrong(2), slot: 1));
        var again = ExpectMsg<SlotScored>(Answer + TimeSpan.FromSeconds(timeout));
        Assert.Equal((1, 1), (again.Slot, again.Failures));
        Assert.Equal([name], again.FailedComponents);
        Assert.Equal([1f, 0f], again.Rewards[0]);
    }

    [Fact]
    public void Requests_in_flight_when_a_component_fails_are_all_answered_without_waiting_for_their_timeout()
    {
        var worker = Sys.ActorOf(RewardWorkerActor.Props(), "reward");
        var rewards = new[] { Outcome, TestPlugin("ThrowingReward") };
        for (int slot = 0; slot < 5; slot++) worker.Tell(Score(rewards, RightAndWrong(slot), slot));
        var answers = Enumerable.Range(0, 5).Select(_ => ExpectMsg<SlotScored>(Answer)).ToList();
        Assert.Equal([0, 1, 2, 3, 4], answers.Select(a => a.Slot).Order());
        Assert.All(answers, a => Assert.Equal((1, "throwing"), (a.Failures, a.FailedComponents.Single())));
        Assert.All(answers, a => Assert.Equal([1f, 0f], a.Rewards[0]));
    }

    [Fact]
    public void The_example_plugin_loads_from_its_dll_and_penalises_length()
    {
        var worker = Sys.ActorOf(RewardWorkerActor.Props(), "reward");
        var groups = RightAndWrong(0, 1);
        worker.Tell(Score([new RewardSpecDto("MyLab.Rewards.LengthPenalty, MyLab.Rewards", PluginPaths.MyLabRewards, 1.0, 5)], groups));
        var s = ExpectMsg<SlotScored>(TimeSpan.FromSeconds(15));
        Assert.Equal(0, s.Failures);
        for (int g = 0; g < groups.Length; g++)
            for (int i = 0; i < 2; i++)
            {
                var row = groups[g].Completions[i];
                int end = Array.FindIndex(row, id => id is CharTokenizer.Eos or CharTokenizer.Pad);
                Assert.Equal(-(float)end / row.Length, s.Rewards[g][i], 5);
            }
    }

    [Fact]
    public void A_plugin_path_that_does_not_exist_on_the_worker_is_found_among_the_node_plugins_by_file_name()
    {
        var worker = Sys.ActorOf(RewardWorkerActor.Props([PluginPaths.MyLabRewards]), "reward");
        var spec = new RewardSpecDto("MyLab.Rewards.LengthPenalty, MyLab.Rewards", "/elsewhere/on/the/host/MyLab.Rewards.dll", 0.5, 5);
        worker.Tell(Score([Outcome, spec], RightAndWrong(0)));
        var s = ExpectMsg<SlotScored>(TimeSpan.FromSeconds(15));
        Assert.Equal(0, s.Failures);
        Assert.All(s.Rewards[0], r => Assert.InRange(r, -0.5f, 1f));
        Assert.True(s.Rewards[0][0] > 0.5f && s.Rewards[0][1] < 0f, $"rewards {string.Join(", ", s.Rewards[0])}");
    }

    [Fact]
    public void The_worker_registers_itself_in_the_mediator_at_its_documented_path()
    {
        JoinSelfAndAwaitUp();
        Sys.ActorOf(RewardWorkerActor.Props(), "reward");
        var mediator = Akka.Cluster.Tools.PublishSubscribe.DistributedPubSub.Get(Sys).Mediator;
        AwaitAssert(() =>
        {
            mediator.Tell(new Akka.Cluster.Tools.PublishSubscribe.Send(RewardWorkerActor.Path, Score([Outcome], RightAndWrong(0))));
            ExpectMsg<SlotScored>(TimeSpan.FromSeconds(2));
        }, TimeSpan.FromSeconds(10));
    }
}
