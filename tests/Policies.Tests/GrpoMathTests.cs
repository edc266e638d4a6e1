using RlActors.Policies.Grpo;
using static TorchSharp.torch;

namespace RlActors.Policies.Tests;

public class GrpoMathTests
{
    private static readonly GrpoOptions Clip02 = new() { ClipLow = 0.2, ClipHigh = 0.2 };

    private static Tensor Row(params float[] values) => tensor(values, new long[] { 1, values.Length });

    private static Tensor Grid(float[] values, int rows) => tensor(values, new long[] { rows, values.Length / rows });

    // ---- advantages ----

    [Fact]
    public void Advantages_use_the_sample_standard_deviation()
    {
        // mean 0.5; sample variance (4 * 0.25) / 3 = 1/3; std = sqrt(1/3); (1 - 0.5) / sqrt(1/3) = 0.8660254.
        var result = GrpoMath.Compute([1f, 0f, 0f, 1f], 4, normalizeStd: true, epsilon: 0);
        double a = 0.5 / Math.Sqrt(1.0 / 3.0);
        Assert.Equal(0.8660254, a, 6);
        Assert.Equal(new[] { a, -a, -a, a }, result.Advantages.Select(x => (double)x), new ToleranceComparer(1e-6));
        Assert.Equal(0, result.ZeroStdGroups);
    }

    [Fact]
    public void Advantages_add_epsilon_to_the_standard_deviation()
    {
        var result = GrpoMath.Compute([1f, 0f, 0f, 1f], 4, normalizeStd: true, epsilon: 0.1);
        double a = 0.5 / (Math.Sqrt(1.0 / 3.0) + 0.1);
        Assert.Equal(new[] { a, -a, -a, a }, result.Advantages.Select(x => (double)x), new ToleranceComparer(1e-6));
    }

    [Fact]
    public void Advantages_without_std_normalisation_are_the_centred_rewards()
    {
        var result = GrpoMath.Compute([1f, 0f, 0f, 1f], 4, normalizeStd: false, epsilon: 1e-6);
        Assert.Equal(new[] { 0.5f, -0.5f, -0.5f, 0.5f }, result.Advantages);
    }

    [Fact]
    public void An_all_equal_group_gets_zero_advantages_and_is_counted()
    {
        var result = GrpoMath.Compute([0.7f, 0.7f, 0.7f, 1f, 0f, 0f, 3f, 3f, 3f], 3, normalizeStd: true, epsilon: 1e-6);
        Assert.Equal(new[] { 0f, 0f, 0f }, result.Advantages[..3]);
        Assert.Equal(new[] { 0f, 0f, 0f }, result.Advantages[6..]);
        Assert.All(result.Advantages, a => Assert.False(float.IsNaN(a)));
        Assert.Equal(2, result.ZeroStdGroups);
    }

    [Fact]
    public void Groups_are_normalised_independently()
    {
        // Group 1: [1, 0, 10], mean 11/3. Group 2: [20, 30, 5], mean 55/3. Each uses its own mean and std.
        var result = GrpoMath.Compute([1f, 0f, 10f, 20f, 30f, 5f], 3, normalizeStd: true, epsilon: 0);
        double s1 = SampleStd(1, 0, 10), s2 = SampleStd(20, 30, 5);
        double[] expected = [(1 - 11.0 / 3) / s1, (0 - 11.0 / 3) / s1, (10 - 11.0 / 3) / s1,
            (20 - 55.0 / 3) / s2, (30 - 55.0 / 3) / s2, (5 - 55.0 / 3) / s2];
        Assert.Equal(expected, result.Advantages.Select(x => (double)x), new ToleranceComparer(1e-5));

        // Changing the second group leaves the first group's advantages unchanged.
        var changed = GrpoMath.Compute([1f, 0f, 10f, 100f, -7f, 0.5f], 3, normalizeStd: true, epsilon: 0);
        Assert.Equal(result.Advantages[..3], changed.Advantages[..3]);
        Assert.NotEqual(result.Advantages[3..], changed.Advantages[3..]);
    }

    [Fact]
    public void Rewards_that_are_not_whole_groups_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => GrpoMath.Compute([1f, 0f, 1f], 2, true, 1e-6));
    }

    private static double SampleStd(params double[] xs)
    {
        double m = xs.Average();
        return Math.Sqrt(xs.Sum(x => (x - m) * (x - m)) / (xs.Length - 1));
    }

    // ---- per-token spreading ----

    [Fact]
    public void Per_token_advantages_are_the_sequence_advantage_where_the_mask_is_one()
    {
        float[] mask = [1, 1, 0, 1, 0, 0, 1, 1, 1];
        var result = GrpoMath.PerToken([2f, -1f, 0.5f], mask, 3);
        Assert.Equal(new[] { 2f, 2f, 0f, -1f, 0f, 0f, 0.5f, 0.5f, 0.5f }, result);
    }

    [Fact]
    public void Per_token_rejects_a_mask_of_the_wrong_size()
    {
        Assert.Throws<ArgumentException>(() => GrpoMath.PerToken([1f, 2f], new float[5], 3));
    }

    // ---- the clipped loss ----

    /// <summary>One token with old probability 0.5 and new probability 0.5·ratio, advantage <paramref name="a"/>.</summary>
    private static (double Loss, GrpoLossStats Stats, double Grad) OneToken(double ratio, float a, GrpoOptions o, float? refLogp = null)
    {
        using var scope = NewDisposeScope();
        float old = MathF.Log(0.5f);
        var logp = Row((float)(old + Math.Log(ratio))).requires_grad_(true);
        var (loss, stats) = GrpoMath.Loss(logp, Row(old), refLogp is null ? null : Row(refLogp.Value), Row(a), Row(1f), o);
        loss.backward();
        return (loss.item<float>(), stats, logp.grad!.item<float>());
    }

    [Theory]
    // ratio, advantage, expected loss, expected clip_frac
    [InlineData(1.1, 1f, -1.1, 0.0)]    // inside the range: -A·ρ
    [InlineData(0.9, -1f, 0.9, 0.0)]    // inside the range: -A·ρ
    [InlineData(1.5, 1f, -1.2, 1.0)]    // above, positive advantage: the clipped ratio 1.2 bounds the gain
    [InlineData(0.5, 1f, -0.5, 1.0)]    // below, positive advantage: pessimistic max keeps the unclipped -0.5
    [InlineData(0.5, -1f, 0.8, 1.0)]    // below, negative advantage: clipped ratio 0.8 -> loss 0.8
    [InlineData(1.5, -1f, 1.5, 1.0)]    // above, negative advantage: pessimistic max keeps the unclipped 1.5
    [InlineData(1.5, 2f, -2.4, 1.0)]    // the advantage scales the clipped value: -2 · 1.2
    public void Clipped_loss_matches_the_hand_computation(double ratio, float advantage, double expectedLoss, double expectedClipFrac)
    {
        var (loss, stats, _) = OneToken(ratio, advantage, Clip02);
        Assert.Equal(expectedLoss, loss, 5);
        Assert.Equal(expectedClipFrac, stats.ClipFrac, 6);
        Assert.Equal(0, stats.KlRef);
    }

    [Fact]
    public void Asymmetric_clip_ranges_are_applied_on_their_own_side()
    {
        var o = new GrpoOptions { ClipLow = 0.2, ClipHigh = 0.28 };
        Assert.Equal(-1.25, OneToken(1.25, 1f, o).Loss, 5); // inside the upper range 1.28
        Assert.Equal(0.0, OneToken(1.25, 1f, o).Stats.ClipFrac);
        Assert.Equal(-1.28, OneToken(1.5, 1f, o).Loss, 5);
        Assert.Equal(0.8, OneToken(0.5, -1f, o).Loss, 5);
    }

    [Theory]
    [InlineData(1f)]
    [InlineData(-1f)]
    [InlineData(0.37f)]
    public void Gradient_of_the_loss_with_respect_to_logp_is_minus_the_advantage_at_ratio_one(float advantage)
    {
        var (_, _, grad) = OneToken(1.0, advantage, Clip02);
        Assert.Equal(-advantage, grad, 6);
    }

    [Fact]
    public void Gradient_inside_the_clip_range_is_minus_advantage_times_ratio()
    {
        Assert.Equal(-1.1, OneToken(1.1, 1f, Clip02).Grad, 5);
    }

    [Theory]
    [InlineData(1.5, 1f)]
    [InlineData(0.5, -1f)]
    public void A_clipped_token_gives_no_gradient(double ratio, float advantage)
    {
        Assert.Equal(0.0, OneToken(ratio, advantage, Clip02).Grad);
    }

    [Theory]
    [InlineData(0.5, 1f)]
    [InlineData(1.5, -1f)]
    public void A_ratio_outside_the_range_on_the_pessimistic_side_keeps_its_gradient(double ratio, float advantage)
    {
        Assert.Equal(-advantage * ratio, OneToken(ratio, advantage, Clip02).Grad, 5);
    }

    [Fact]
    public void Approx_kl_is_the_k3_estimate_of_kl_old_to_new()
    {
        // logRatio r = ln 1.1: k3 = exp(-r) + r - 1.
        double r = Math.Log(1.1);
        var stats = OneToken(1.1, 1f, Clip02).Stats;
        Assert.Equal(Math.Exp(-r) + r - 1, stats.ApproxKl, 6);
        Assert.True(stats.ApproxKl > 0);
        Assert.Equal(0.0, OneToken(1.0, 1f, Clip02).Stats.ApproxKl);
    }

    [Fact]
    public void Kl_to_reference_adds_kl_coef_times_k3()
    {
        // Ratio 1 and zero advantage: the policy term is 0 and the loss is β·k3 with d = ref − logp = ln 0.25 − ln 0.5.
        var o = Clip02 with { KlCoef = 0.1 };
        float refLogp = MathF.Log(0.25f);
        var (loss, stats, grad) = OneToken(1.0, 0f, o, refLogp);
        double d = Math.Log(0.5);
        double k3 = Math.Exp(d) - d - 1; // 0.5 + ln 2 − 1 = 0.1931
        Assert.Equal(0.1 * k3, loss, 6);
        Assert.Equal(k3, stats.KlRef, 6);
        // d k3 / d logp = 1 − exp(d): the penalty pulls logp towards the reference.
        Assert.Equal(0.1 * (1 - Math.Exp(d)), grad, 6);
    }

    [Fact]
    public void Kl_term_is_ignored_when_kl_coef_is_zero()
    {
        var (loss, stats, _) = OneToken(1.0, 0f, Clip02, MathF.Log(0.25f));
        Assert.Equal(0.0, loss);
        Assert.Equal(0.0, stats.KlRef);
    }

    [Fact]
    public void Token_mean_and_sequence_mean_differ_on_unequal_masks()
    {
        // Ratio 1 everywhere, so the per-token loss is −A: [[1, 2, 3], [4, x, x]] with the x masked out (huge, so a leak shows).
        float[] adv = [-1, -2, -3, -4, -1000, 1000];
        float[] mask = [1, 1, 1, 1, 0, 0];
        float[] zeros = new float[6];
        using var scope = NewDisposeScope();
        var token = GrpoMath.Loss(Grid(zeros, 2), Grid(zeros, 2), null, Grid(adv, 2), Grid(mask, 2),
            Clip02 with { Aggregation = LossAggregation.TokenMean });
        var sequence = GrpoMath.Loss(Grid(zeros, 2), Grid(zeros, 2), null, Grid(adv, 2), Grid(mask, 2),
            Clip02 with { Aggregation = LossAggregation.SequenceMean });
        Assert.Equal(2.5, token.Loss.item<float>(), 6);    // (1 + 2 + 3 + 4) / 4
        Assert.Equal(3.0, sequence.Loss.item<float>(), 6); // ((1 + 2 + 3) / 3 + 4 / 1) / 2
    }

    [Fact]
    public void Clip_frac_counts_only_unmasked_tokens()
    {
        // Two unmasked tokens (one outside the range), one masked token outside the range.
        using var scope = NewDisposeScope();
        float old = MathF.Log(0.5f);
        var logp = Row(old + MathF.Log(1.5f), old, old + MathF.Log(1.5f));
        var (_, stats) = GrpoMath.Loss(logp, Row(old, old, old), null, Row(1f, 1f, 1f), Row(1f, 1f, 0f), Clip02);
        Assert.Equal(0.5, stats.ClipFrac, 6);
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(double obj) => 0;
    }
}
