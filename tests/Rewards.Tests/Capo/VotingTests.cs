using RlActors.Rewards.Capo;

namespace RlActors.Rewards.Tests.Capo;

public class CapoVotingTests
{
    // The paper's overview example: four critiques of one response.
    private static readonly int[][] Paper = [[1, 3], [1, 2, 3], [1, 3], [2, 3]];

    [Fact]
    public void The_papers_example_votes_as_expected_under_each_rule()
    {
        Assert.Equal([1, 2, 3], Voting.Vote(Paper, VoteRule.Union, 0.5));
        Assert.Equal([3], Voting.Vote(Paper, VoteRule.Intersection, 0.5));
        Assert.Equal([1, 3], Voting.Vote(Paper, VoteRule.Majority, 0.5)); // step 2 has 2 of 4: a tie is not a majority
        Assert.Equal([1, 2, 3], Voting.Vote(Paper, VoteRule.Average, 0.5)); // 2 of 4 reaches τ = 0.5
        Assert.Equal([1, 3], Voting.Vote(Paper, VoteRule.Average, 0.75));
        Assert.Equal([3], Voting.Vote(Paper, VoteRule.Average, 1.0));
    }

    [Fact]
    public void One_critique_is_its_own_vote_under_every_rule()
    {
        foreach (VoteRule rule in Enum.GetValues<VoteRule>())
        {
            Assert.Equal([2, 4], Voting.Vote([[4, 2, 2]], rule, 0.5));
            Assert.Empty(Voting.Vote([[]], rule, 0.5));
        }
    }

    [Fact]
    public void Majority_needs_more_than_half_and_average_counts_the_threshold_inclusively()
    {
        int[][] three = [[1], [1, 2], []];
        Assert.Equal([1], Voting.Vote(three, VoteRule.Majority, 0.5));     // 2 of 3
        Assert.Equal([1], Voting.Vote(three, VoteRule.Average, 2.0 / 3)); // 2/3 ≥ 2/3
        Assert.Equal([1, 2], Voting.Vote(three, VoteRule.Average, 1.0 / 3));
        Assert.Empty(Voting.Vote(three, VoteRule.Intersection, 0.5));
        Assert.Equal([1, 2], Voting.Vote(three, VoteRule.Union, 0.5));
    }

    [Fact]
    public void Voting_needs_at_least_one_critique_and_a_threshold_in_range()
    {
        Assert.Throws<ArgumentException>(() => Voting.Vote([], VoteRule.Majority, 0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => Voting.Vote(Paper, VoteRule.Average, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Voting.Vote(Paper, VoteRule.Average, 1.5));
    }

    [Theory]
    [InlineData("union", VoteRule.Union)]
    [InlineData("intersection", VoteRule.Intersection)]
    [InlineData(" Majority ", VoteRule.Majority)]
    [InlineData("AVERAGE", VoteRule.Average)]
    public void Rule_names_parse(string text, VoteRule rule)
    {
        Assert.Equal(rule, Voting.ParseRule(text));
        Assert.Equal(rule, Voting.ParseRule(Voting.Name(rule)));
    }

    [Fact]
    public void An_unknown_rule_name_is_rejected_naming_the_value_and_the_choices()
    {
        var e = Assert.Throws<ArgumentException>(() => Voting.ParseRule("mean"));
        Assert.Contains("'mean'", e.Message);
        Assert.Contains("union, intersection, majority, average", e.Message);
    }

    [Fact]
    public void Fleiss_kappa_matches_a_hand_computed_case()
    {
        // Response A: 2 steps, 3 critiques [1], [1], [] -> step 1: 2 wrong 1 right (P = 1/3); step 2: all right (P = 1).
        // Response B: 1 step, 2 critiques [1], [] -> P = 0.  Response C: one critique only, ignored.
        // P̄ = 4/9; p = 3 wrong of 8 ratings; P̄e = (3/8)² + (5/8)² = 17/32; κ = (4/9 - 17/32) / (1 - 17/32) = -5/27.
        double kappa = VoteStatistics.FleissKappa(
        [
            (2, [[1], [1], []]),
            (1, [[1], []]),
            (3, [[1, 2, 3]]),
        ]);
        Assert.Equal(-5.0 / 27, kappa, 12);
    }

    [Fact]
    public void The_vote_agreement_metric_is_the_kappa_of_all_groups_of_a_step_merged_by_summing_counters()
    {
        // The hand-computed case above, split over two groups as two slots would score it: the metric of the summed
        // counters is the kappa of the union (-5/27), not a mean of per-group kappas.
        static CapoGroupStats Stats(params (int, IReadOnlyList<int[]>)[] items) =>
            new(0, 0, 0, 0, 0, 0, 0, 0, items, null);
        var sums = new Dictionary<string, double>();
        foreach (var stats in new[] { Stats((2, [[1], [1], []])), Stats((1, [[1], []]), (3, [[1, 2, 3]])) })
            foreach (var (k, v) in CapoMetrics.Counters(stats)) sums[k] = sums.GetValueOrDefault(k) + v;
        var metrics = new Dictionary<string, double>();
        CapoMetrics.Derive(sums, metrics);
        Assert.Equal(-5.0 / 27, metrics[CapoMetrics.VoteAgreement], 12);

        // 4 steps, 3 critiques flagging {1,3}, {1,3,4}, {1}: wrong counts 3, 0, 2, 1; P̄ = 2/3, p = 1/2, κ = 1/3.
        var one = new Dictionary<string, double>();
        CapoMetrics.Derive(CapoMetrics.Counters(Stats((4, [[1, 3], [1, 3, 4], [1]]))), one);
        Assert.Equal(1.0 / 3, one[CapoMetrics.VoteAgreement], 12);
        Assert.Equal(1.0 / 3, VoteStatistics.FleissKappa([(4, [[1, 3], [1, 3, 4], [1]])]), 12);

        // No step rated twice: no metric rather than a made-up 0.
        var none = new Dictionary<string, double>();
        CapoMetrics.Derive(CapoMetrics.Counters(Stats((3, [[1]]))), none);
        Assert.False(none.ContainsKey(CapoMetrics.VoteAgreement));
    }

    [Fact]
    public void Fleiss_kappa_is_one_for_complete_agreement_and_zero_without_two_raters()
    {
        Assert.Equal(1.0, VoteStatistics.FleissKappa([(2, [[1], [1], [1]])]), 12);  // agreement on both categories
        Assert.Equal(1.0, VoteStatistics.FleissKappa([(3, [[], [], []])]));          // everyone says all correct
        Assert.Equal(0.0, VoteStatistics.FleissKappa([(3, [[1]]), (0, [[], []])])); // nobody to agree with
        Assert.Equal(0.0, VoteStatistics.FleissKappa([]));
        // Independent coin-flip raters land near zero; systematic disagreement goes negative.
        Assert.True(VoteStatistics.FleissKappa([(2, [[1], [2]])]) < 0);
    }

    [Fact]
    public void Confusion_counts_steps_and_gives_precision_recall_and_F1()
    {
        var c = new PrmConfusion();
        c.Add([1, 3], [1, 2]); // TP 1, FP 1 (3), FN 1 (2)
        c.Add([], []);
        c.Add([2], []);        // FP
        c.Add([], [3]);        // FN
        c.Add([4, 4], [4]);    // TP, duplicates ignored
        Assert.Equal((2L, 2L, 2L), (c.TruePositives, c.FalsePositives, c.FalseNegatives));
        Assert.Equal(0.5, c.Precision, 12);
        Assert.Equal(0.5, c.Recall, 12);
        Assert.Equal(0.5, c.F1, 12);

        var other = new PrmConfusion();
        other.Add([1], [1]);
        c.Add(other);
        Assert.Equal(3, c.TruePositives);
        Assert.Equal(3.0 / 5, c.Precision, 12);
    }

    [Fact]
    public void Confusion_defines_the_zero_denominator_cases()
    {
        var empty = new PrmConfusion();
        Assert.Equal((1.0, 1.0, 1.0), (empty.Precision, empty.Recall, empty.F1)); // nothing to find, nothing flagged

        var missedAll = new PrmConfusion();
        missedAll.Add([], [1, 2]);
        Assert.Equal((1.0, 0.0, 0.0), (missedAll.Precision, missedAll.Recall, missedAll.F1));

        var onlyFalseAlarms = new PrmConfusion();
        onlyFalseAlarms.Add([1], []);
        Assert.Equal((0.0, 1.0, 0.0), (onlyFalseAlarms.Precision, onlyFalseAlarms.Recall, onlyFalseAlarms.F1));
    }
}
