using RlActors.Rewards.Capo;
using static RlActors.Rewards.Tests.Capo.CapoTestData;
using static RlActors.Rewards.Tests.TestGroups;

namespace RlActors.Rewards.Tests.Capo;

public class CapoScoringTests
{
    // 7+5-3*2 = 18. Token spans: step 1 = 0-6, step 2 = 7-13, step 3 = 14-19 (e.g. "9*2=18\n").
    private static RewardGroup FourSamples() => Group(ThreeOps, 32,
        "7+5=12\n12-3=9\n9*2=18\nA:18",   // 0: correct
        "7+5=12\n12-3=8\n8*2=16\nA:16",   // 1: step 2 wrong
        "7+5=13\n13-3=10\n10*2=20\nA:20", // 2: step 1 wrong
        "7+5=12\n12-3=9\n9*2=19\nA:19");  // 3: step 3 wrong

    [Fact]
    public void A_group_is_voted_per_sample_and_the_stats_count_every_critique()
    {
        RewardGroup g = FourSamples();
        IReadOnlyList<Critique>[] critiques =
        [
            [Valid(), Valid(), Valid(1), Valid()],                                             // majority: none
            [Abstain(CritiqueStatus.Failed), Abstain(CritiqueStatus.Failed), Abstain(CritiqueStatus.TimedOut), Abstain(CritiqueStatus.Unparseable)], // fallback
            [Valid(1), Valid(1, 2), Abstain(CritiqueStatus.Unparseable), Abstain(CritiqueStatus.TimedOut)], // majority of 2: {1}
            [Valid(3), Valid(2, 3)],                                                           // 2 never arrived; majority {3}
        ];
        var (scores, stats) = CapoScoring.Score(g, critiques, new CapoOptions(), compareWithOracle: true);

        scores.Validate(g);
        Assert.Equal([1.0, 0.0, 0.0, 0.0], scores.Sequence);
        Assert.All(scores.PerToken![0], r => Assert.Equal(1.0, r));
        Assert.All(scores.PerToken![1], r => Assert.Equal(0.0, r)); // fallback: outcome only
        Assert.Equal([-1.0, 0.0, 0.0], [scores.PerToken![2][0], scores.PerToken[2][7], scores.PerToken[2][31]]);
        Assert.Equal(Enumerable.Range(14, 7), Enumerable.Range(0, 32).Where(t => scores.PerToken![3][t] < 0));
        Assert.Equal([1.0, 1.0, 1.0], scores.PerStep![0]);
        Assert.Equal([-1.0, 0.0, 0.0], scores.PerStep![2]);

        Assert.Equal(16, stats.Requested);
        Assert.Equal(8, stats.Valid);
        Assert.Equal(2, stats.Unparseable);
        Assert.Equal(4, stats.TimedOut); // 2 timed out + 2 never delivered
        Assert.Equal(2, stats.Failed);
        Assert.Equal(1, stats.Fallbacks);
        Assert.Equal(9, stats.StepsJudged);     // samples 0, 2, 3
        Assert.Equal(2, stats.StepsVotedWrong); // {1} and {3}
        Assert.Equal([4, 2, 2], stats.AgreementItems.Select(i => i.Sets.Count));
        // Voted {} vs {}, {1} vs {1}, {3} vs {3}: perfect against the oracle.
        Assert.Equal((2L, 0L, 0L), (stats.VsOracle!.TruePositives, stats.VsOracle.FalsePositives, stats.VsOracle.FalseNegatives));

        var (_, noOracle) = CapoScoring.Score(g, critiques, new CapoOptions(), compareWithOracle: false);
        Assert.Null(noOracle.VsOracle);
    }

    [Fact]
    public void The_vote_rule_and_threshold_come_from_the_options()
    {
        RewardGroup g = Group(ThreeOps, 32, "7+5=12\n12-3=8\n8*2=16\nA:16");
        IReadOnlyList<Critique>[] critiques = [[Valid(1, 2), Valid(2), Valid(2, 3), Valid()]];
        int[] Voted(CapoOptions o) => [.. CapoScoring.Score(g, critiques, o, false).Scores.PerStep![0]
            .Select((r, k) => (r, k)).Where(x => x.r < 0).Select(x => x.k + 1)];

        Assert.Equal([2], Voted(new CapoOptions()));
        Assert.Equal([1, 2, 3], Voted(new CapoOptions { Rule = VoteRule.Union }));
        Assert.Empty(Voted(new CapoOptions { Rule = VoteRule.Intersection }));
        Assert.Equal([1, 2, 3], Voted(new CapoOptions { Rule = VoteRule.Average, Tau = 0.25 }));
        Assert.Equal([2], Voted(new CapoOptions { Rule = VoteRule.Average, Tau = 0.5 }));
    }

    [Fact]
    public void A_fallback_keeps_the_verifier_penalty_on_a_missing_answer()
    {
        // Without a valid critique there are no step penalties, but the rule verifier still sees the missing answer.
        RewardGroup g = Group(ThreeOps, 16, "7+5=12\n12-3=9\n9…", "…"); // stopped mid-answer; padding first
        var (scores, stats) = CapoScoring.Score(g, [[], [Abstain(CritiqueStatus.Failed)]], new CapoOptions(), true);
        Assert.Equal(2, stats.Fallbacks);
        Assert.Equal(0, stats.StepsJudged);
        Assert.Equal(Enumerable.Range(14, 2), Enumerable.Range(0, 16).Where(t => scores.PerToken![0][t] < 0));
        Assert.Equal([0], Enumerable.Range(0, 16).Where(t => scores.PerToken![1][t] < 0));
        Assert.Equal(8, stats.Requested);
        Assert.Equal(7, stats.TimedOut);
        Assert.Equal((0L, 0L, 0L), (stats.VsOracle!.TruePositives, stats.VsOracle.FalsePositives, stats.VsOracle.FalseNegatives));
        scores.Validate(g);
    }

    [Fact]
    public void A_valid_critique_naming_a_step_the_sample_lacks_abstains_as_unparseable()
    {
        RewardGroup g = Group(ThreeOps, 32, "7+5=12\nA:12");
        var (_, stats) = CapoScoring.Score(g, [[Valid(3), Valid(1)]], new CapoOptions { Critiques = 2 }, false);
        Assert.Equal((1, 1, 0), (stats.Valid, stats.Unparseable, stats.Fallbacks));
        Assert.Equal(1, stats.StepsVotedWrong);
    }

    [Fact]
    public void Critiques_must_come_one_list_per_sample()
    {
        var e = Assert.Throws<ArgumentException>(() => CapoScoring.Score(FourSamples(), [[Valid()]], new CapoOptions(), false));
        Assert.Contains("1 samples but the group has 4", e.Message);
    }

    [Fact]
    public async Task The_in_process_reward_asks_the_judge_votes_and_reports_counters()
    {
        var reward = new CapoReward(new OracleJudge(), new CapoOptions { Critiques = 3 });
        Assert.Equal("capo", reward.Name);
        RewardGroup g = FourSamples();

        GroupScores scores = await reward.ScoreAsync(g, default);
        scores.Validate(g);
        Assert.Equal([1.0, 0.0, 0.0, 0.0], scores.Sequence);
        Assert.Equal(Enumerable.Range(7, 7), Enumerable.Range(0, 32).Where(t => scores.PerToken![1][t] < 0));
        Assert.Equal(Enumerable.Range(0, 7), Enumerable.Range(0, 32).Where(t => scores.PerToken![2][t] < 0));
        Assert.Equal(12.0, scores.Counters![CapoMetrics.Requested]);
        Assert.Equal(12.0, scores.Counters[CapoMetrics.Valid]);
        Assert.Equal(12, reward.LastStats!.Valid);
        Assert.Equal(1.0, reward.LastStats.VsOracle!.F1);

        await reward.ScoreAsync(g, default);
        Dictionary<string, double> taken = reward.TakeCounters();
        Assert.Equal(24.0, taken[CapoMetrics.Requested]);
        Assert.Empty(reward.TakeCounters());
        Dictionary<string, double> metrics = RewardCounters.ToMetrics(taken);
        Assert.Equal(3.0 / 12, metrics[CapoMetrics.WrongStepFraction], 12);
        Assert.Equal(1.0, metrics[CapoMetrics.PrmF1], 12);
    }

    [Fact]
    public async Task A_judge_that_throws_or_miscounts_gives_failed_critiques_and_outcome_only_scores()
    {
        RewardGroup g = FourSamples();
        GroupScores thrown = await new CapoReward(new BrokenJudge(throws: true), new CapoOptions()).ScoreAsync(g, default);
        Assert.Equal([1.0, 0.0, 0.0, 0.0], thrown.Sequence);
        Assert.Equal(16.0, thrown.Counters![CapoMetrics.Failed]);
        Assert.Equal(4.0, thrown.Counters[CapoMetrics.Fallbacks]);

        GroupScores miscounted = await new CapoReward(new BrokenJudge(throws: false), new CapoOptions()).ScoreAsync(g, default);
        Assert.Equal(4.0, miscounted.Counters![CapoMetrics.Valid]);
        Assert.Equal(12.0, miscounted.Counters[CapoMetrics.Failed]);
    }

    [Fact]
    public async Task Cancelling_the_reward_cancels_it()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        var reward = new CapoReward(new OracleJudge(), new CapoOptions());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reward.ScoreAsync(FourSamples(), cts.Token));
    }

    private sealed class BrokenJudge(bool throws) : IGenPrmJudge
    {
        public string Name => "broken";

        public Task<IReadOnlyList<Critique>> CritiqueAsync(CritiqueRequest request, int count, int firstIndex, CancellationToken ct) =>
            throws
                ? throw new InvalidOperationException("boom")
                : Task.FromResult<IReadOnlyList<Critique>>([Critique.Valid()]);
    }
}
