namespace RlActors.Rewards.Tests;

public class WeightedRewardTests
{
    [Fact]
    public void Combined_reward_is_the_weighted_sum_of_the_components()
    {
        CombinedScores c = WeightedReward.Combine(
        [
            new("outcome", 1.0, new GroupScores([1, 0, 1]), null),
            new("format", 0.5, new GroupScores([1, 1, 0]), null),
            new("length-penalty", -0.1, new GroupScores([0.5, 1, 0]), null),
        ], 3);

        Assert.Equal([1.45, 0.4, 1.0], c.Sequence.Select(v => Math.Round(v, 12)));
        Assert.Empty(c.FailedComponents);
        Assert.True(c.AllSucceeded);
        Assert.Null(c.PerToken);
    }

    [Fact]
    public void A_failed_component_contributes_nothing_and_the_rest_is_not_renormalised()
    {
        CombinedScores c = WeightedReward.Combine(
        [
            new("outcome", 1.0, new GroupScores([1, 0]), null),
            new("judge", 2.0, null, "reward 'judge' timed out after 10 s"),
            new("format", 0.5, new GroupScores([1, 1]), "failed anyway"), // a failure wins over scores
        ], 2);

        Assert.Equal([1.0, 0.0], c.Sequence);
        Assert.Equal(["judge", "format"], c.FailedComponents);
        Assert.False(c.AllSucceeded);
    }

    [Fact]
    public void Per_token_rewards_broadcast_the_sequence_score_of_components_without_them()
    {
        CombinedScores c = WeightedReward.Combine(
        [
            new("outcome", 1.0, new GroupScores([1, 0]), null),
            new("capo", 0.5, new GroupScores([0, 0], [[1, 0, -1], [0, 2, 0]]), null),
            new("broken", 9.0, null, "threw"),
        ], 2);

        Assert.NotNull(c.PerToken);
        Assert.Equal([1.5, 1.0, 0.5], c.PerToken[0]);
        Assert.Equal([0.0, 1.0, 0.0], c.PerToken[1]);
        Assert.Equal([1.0, 0.0], c.Sequence);
    }

    [Fact]
    public void Guarded_results_become_components_and_bad_inputs_are_refused()
    {
        var ok = ComponentResult.FromGuarded("a", 1, new GuardedResult(new GroupScores([1]), null, FailureKind.None));
        var failed = ComponentResult.FromGuarded("b", 1, new GuardedResult(null, "reward 'b' threw", FailureKind.Threw));
        Assert.True(ok.Succeeded);
        Assert.False(failed.Succeeded);
        Assert.Equal("reward 'b' threw", failed.Failure);

        Assert.Throws<ArgumentException>(() => WeightedReward.Combine([new("a", double.NaN, new GroupScores([1]), null)], 1));
        var e = Assert.Throws<RewardContractException>(() => WeightedReward.Combine([ok], 2));
        Assert.Contains("'a' has 1 sequence scores for 2 samples", e.Message);
    }
}
