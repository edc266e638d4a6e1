using RlActors.Rewards.Capo;

namespace RlActors.Rewards.Tests.Capo;

/// <summary>Critiques that do not vote carry a reason kind, counted per step; an unreachable judge is named.</summary>
public sealed class JudgeFailureTests
{
    private static readonly CapoSettings OpenAi = new()
    {
        Judge = new JudgeSpec { Type = "openai", OpenAi = new OpenAiJudgeOptions { BaseUrl = "http://127.0.0.1:9/v1", Model = "m" } },
    };

    private static int ClosedPort() => LoopbackChatServer.ClosedPort();

    [Fact]
    public async Task A_judge_with_nothing_listening_gives_connect_critiques_and_the_check_names_the_reason()
    {
        var options = new OpenAiJudgeOptions { BaseUrl = $"http://127.0.0.1:{ClosedPort()}/v1", Model = "m", MaxRetries = 0, TimeoutSeconds = 5 };
        using var judge = new OpenAiJudge(options);
        var request = CapoTestData.Request(CapoTestData.ThreeOps, "7+5=12\n12-3=9\n9*2=18\nA:18");
        var critiques = await judge.CritiqueAsync(request, 2, 0, CancellationToken.None);
        Assert.All(critiques, c => Assert.Equal(CritiqueFailure.Connect, c.ReasonKind));
        string? problem = await judge.CheckReachableAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.NotNull(problem);
        Assert.Contains("refused", problem, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task The_check_passes_when_the_server_answers()
    {
        await using var server = LoopbackChatServer.Answering(_ => LoopbackChatServer.Ok("{\"object\":\"list\",\"data\":[]}"));
        using var judge = new OpenAiJudge(new OpenAiJudgeOptions { BaseUrl = server.BaseUrl, Model = "m" });
        Assert.Null(await judge.CheckReachableAsync(TimeSpan.FromSeconds(5), CancellationToken.None));
        Assert.Equal("/v1/models", Assert.Single(server.Requests).Path);
    }

    [Fact]
    public void Every_critique_that_does_not_vote_is_counted_by_its_reason_kind()
    {
        var group = TestGroups.Small();
        IReadOnlyList<Critique>[] critiques =
        [
            [Critique.Valid(), Critique.Abstain(CritiqueStatus.TimedOut, CritiqueFailure.Timeout, "no reply within 60 s"),
             Critique.Abstain(CritiqueStatus.Unparseable, "no conclusion listing the wrong steps")],
            [Critique.Abstain(CritiqueStatus.Failed, CritiqueFailure.Connect, "request failed: Connection refused")], // 2 never came back
        ];
        var (_, stats) = CapoScoring.Score(group, critiques, new CapoOptions { Critiques = 3 }, compareWithOracle: false);
        var counters = CapoMetrics.Counters(stats);
        Assert.Equal([("deadline", 2), ("connect", 1), ("timeout", 1), ("unparseable", 1)], CapoMetrics.Reasons(counters));
        Assert.DoesNotContain(RewardCounters.ToMetrics(counters).Keys, k => k.Contains("why", StringComparison.Ordinal)); // hidden counters

        var line = new JudgeWatch(OpenAi).Check(7, counters);
        Assert.NotNull(line);
        Assert.Equal("step 7: 5 of 6 critiques did not vote (deadline 2, connect 1, timeout 1, unparseable 1); judge openai at http://127.0.0.1:9/v1 (model m): "
            + "more than capo.max-failed-fraction = 0.5, and capo.on-judge-failure = \"stop\"",
            new JudgeWatch(OpenAi with { OnJudgeFailure = "stop" }).Check(7, counters)!.Line);
        Assert.True(new JudgeWatch(OpenAi with { OnJudgeFailure = "stop" }).Check(7, counters)!.Stop);
        Assert.StartsWith("WARNING: step 7: 5 of 6", line.Line);
        Assert.False(line.Stop);
        var below = new JudgeWatch(OpenAi with { MaxFailedFraction = 0.9, OnJudgeFailure = "stop" }).Check(7, counters)!;
        Assert.False(below.Stop);
        Assert.StartsWith("step 7: 5 of 6 critiques did not vote (deadline 2", below.Line);
    }

    [Fact]
    public void A_step_where_every_critique_voted_logs_nothing()
    {
        var (_, stats) = CapoScoring.Score(TestGroups.Small(), [[Critique.Valid(), Critique.Valid()], [Critique.Valid(), Critique.Valid()]], new CapoOptions { Critiques = 2 }, false);
        Assert.Null(new JudgeWatch(OpenAi).Check(1, CapoMetrics.Counters(stats)));
    }
}
