using Akka.Actor;
using RlActors.Actors.Capo;
using RlActors.Actors.Protocol;
using RlActors.Actors.Rewards;
using RlActors.Environments.Arithmetic;
using RlActors.Policies.Training;
using RlActors.Rewards.Capo;
using RlActors.Rewards.Tests.Capo;
using Xunit.Abstractions;
using static RlActors.Actors.Protocol.RewardProtocol;

namespace RlActors.Actors.Tests;

/// <summary>capo.judge.use-n through the voter actors, against a real HTTP server on loopback.</summary>
public sealed class CapoUseNTests(ITestOutputHelper output) : ClusterTestKit(output)
{
    private static readonly TaskSpec Task = Tiny.Task(dataSeed: 5);

    private SlotScored ScoreOneResponse(LoopbackChatServer server, bool useN)
    {
        JoinSelfAndAwaitUp();
        Sys.ActorOf(VoterNodeActor.Props(2), "voter");
        var worker = Sys.ActorOf(RewardWorkerActor.Props(), "reward");
        var p = Tiny.Generator(Task).Get(0);
        var rows = Tiny.PadRows(ArithmeticLm.ReferenceIds(p));
        var group = new RolloutGroup($"exp/1/0/{p.Index}", p.Index, ArithmeticLm.PromptIds(p), rows, rows.Select(r => new float[r.Length]).ToArray());
        var settings = new CapoSettings
        {
            Critiques = 4, DeadlineSeconds = 10,
            Judge = new JudgeSpec { Type = "openai", OpenAi = new OpenAiJudgeOptions { BaseUrl = server.BaseUrl, Model = "judge", UseN = useN } },
        };
        // The voters' registration takes a moment to reach the mediator: ask again until every critique voted.
        SlotScored s = null!;
        AwaitAssert(() =>
        {
            worker.Tell(new ScoreSlot("exp", 1, 0, 0, Task, [new RewardSpecDto("capo", null, 1.0, 20, settings.ToJson())], [group]));
            s = ExpectMsg<SlotScored>(TimeSpan.FromSeconds(20));
            Assert.Equal(4, s.Counters![CapoMetrics.Valid]);
        }, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(200));
        return s;
    }

    private static LoopbackChatServer Server() => LoopbackChatServer.Answering(r =>
        LoopbackChatServer.Ok(LoopbackChatServer.Completion([.. Enumerable.Repeat("Step 1 is correct.\nWrong steps: none", r.N)])));

    [Fact]
    public async System.Threading.Tasks.Task With_use_n_the_critiques_of_a_response_are_one_request_with_n()
    {
        await using var server = Server();
        ScoreOneResponse(server, useN: true);
        var last = server.Requests[^1];
        Assert.Equal(4, last.N);
        Assert.All(server.Requests, r => Assert.Equal(4, r.N)); // never split into n = 1 requests
    }

    [Fact]
    public async System.Threading.Tasks.Task Without_use_n_each_critique_is_its_own_request_with_n_1()
    {
        await using var server = Server();
        ScoreOneResponse(server, useN: false);
        Assert.All(server.Requests, r => Assert.Equal(1, r.N));
        Assert.Equal(0, server.Requests.Count % 4);
    }
}
