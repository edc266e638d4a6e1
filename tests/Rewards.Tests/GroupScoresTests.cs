using static RlActors.Rewards.Tests.TestGroups;

namespace RlActors.Rewards.Tests;

public class GroupScoresTests
{
    private static readonly RewardGroup G = Small(); // two samples, 24 tokens each; 2 and 1 parsed steps

    [Fact]
    public void Valid_scores_with_per_token_and_per_step_pass()
    {
        var scores = new GroupScores([1, 0], [new double[24], new double[24]], [[1, 1], [1]]);
        scores.Validate(G);
    }

    [Theory]
    [InlineData(double.NaN, "Sequence[1] (sample 1) is NaN.")]
    [InlineData(double.PositiveInfinity, "Sequence[1] (sample 1) is +∞.")]
    [InlineData(double.NegativeInfinity, "Sequence[1] (sample 1) is -∞.")]
    public void A_non_finite_sequence_score_is_named_by_its_sample(double bad, string message)
    {
        var e = Assert.Throws<RewardContractException>(() => new GroupScores([0.5, bad]).Validate(G));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void A_sequence_of_the_wrong_length_is_reported_with_both_counts()
    {
        var e = Assert.Throws<RewardContractException>(() => new GroupScores([1.0]).Validate(G));
        Assert.Equal("Sequence has 1 scores but the group has 2 samples.", e.Message);
        Assert.Throws<RewardContractException>(() => new GroupScores(null!).Validate(G));
    }

    [Fact]
    public void Per_token_scores_must_cover_every_completion_token_of_each_sample()
    {
        var shortRow = new GroupScores([0, 0], [new double[24], new double[23]]);
        Assert.Equal("PerToken[1] (sample 1) has 23 scores but the sample has 24 completion tokens.",
            Assert.Throws<RewardContractException>(() => shortRow.Validate(G)).Message);

        var missingSample = new GroupScores([0, 0], [new double[24]]);
        Assert.Equal("PerToken has 1 entries but the group has 2 samples.",
            Assert.Throws<RewardContractException>(() => missingSample.Validate(G)).Message);

        double[] withNaN = new double[24];
        withNaN[7] = double.NaN;
        var nan = new GroupScores([0, 0], [new double[24], withNaN]);
        Assert.Equal("PerToken[1][7] (sample 1, index 7) is NaN.",
            Assert.Throws<RewardContractException>(() => nan.Validate(G)).Message);
    }

    [Fact]
    public void Per_step_scores_must_have_one_score_per_parsed_step()
    {
        var wrong = new GroupScores([0, 0], PerStep: [[1, 1], [1, 0]]);
        Assert.Equal("PerStep[1] (sample 1) has 2 scores but the sample has 1 parsed steps.",
            Assert.Throws<RewardContractException>(() => wrong.Validate(G)).Message);

        var infinite = new GroupScores([0, 0], PerStep: [[1, double.PositiveInfinity], [1]]);
        Assert.Equal("PerStep[0][1] (sample 0, index 1) is +∞.",
            Assert.Throws<RewardContractException>(() => infinite.Validate(G)).Message);
    }
}
