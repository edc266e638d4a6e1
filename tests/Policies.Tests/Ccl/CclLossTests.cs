using RlActors.Policies.Ccl;
using static TorchSharp.torch;

namespace RlActors.Policies.Tests.Ccl;

/// <summary>The layer losses on a two-example batch, against sums worked out by hand.</summary>
public class CclLossTests
{
    // Two examples of width 2: a = [[1, 0], [0, 2]], labels 0 and 1.
    private static Tensor A() => tensor(new float[] { 1, 0, 0, 2 }, [2, 2]);
    private static Tensor Labels() => tensor(new long[] { 0, 1 }, [2]);
    // Feedback rows c = [[1, 1], [0, 1]]: per example (batch variant) or per class (template variants).
    private static Tensor C() => tensor(new float[] { 1, 1, 0, 1 }, [2, 2]);

    [Fact]
    public void Batch_normalised_similarity_matches_a_hand_computation()
    {
        // Â = [[1, 0], [0, 1]]; Ĉ = [[1/√2, 1/√2], [0, 1]]; Â·Ĉᵀ = [[1/√2, 0], [1/√2, 1]].
        // Same-class indicator of labels (0, 1) is I. Squared errors: (1/√2 − 1)², 0, (1/√2)², 0; mean over 4; × 0.5.
        double r = 1 / Math.Sqrt(2);
        double expected = 0.5 * (Math.Pow(r - 1, 2) + r * r) / 4;
        using var ind = CclLoss.Indicator(Labels(), 2, CclSimilarity.BatchNormalised);
        Assert.Equal(new float[] { 1, 0, 0, 1 }, CclTestData.Values(ind));
        using var loss = CclLoss.LayerTerm(A(), C(), ind, CclSimilarity.BatchNormalised, 0.5, 0.5);
        Assert.Equal(expected, loss.item<float>(), 6);
    }

    [Fact]
    public void Same_class_indicator_is_one_for_every_pair_with_equal_labels()
    {
        using var ind = CclLoss.Indicator(tensor(new long[] { 2, 0, 2 }, [3]), 3, CclSimilarity.BatchNormalised);
        Assert.Equal(new float[] { 1, 0, 1, 0, 1, 0, 1, 0, 1 }, CclTestData.Values(ind));
    }

    [Fact]
    public void The_authors_class_template_loss_matches_a_hand_computation()
    {
        // A·Cᵀ = [[1, 0], [2, 2]] against one-hot labels [[1, 0], [0, 1]]: squared errors 0, 0, 4, 1 → mean 5/4.
        // × 0.5 × 256 / d (d = 2) = 80.
        using var ind = CclLoss.Indicator(Labels(), 2, CclSimilarity.ClassTemplate);
        using var loss = CclLoss.LayerTerm(A(), C(), ind, CclSimilarity.ClassTemplate, 0.5, 0.5);
        Assert.Equal(80.0, loss.item<float>(), 4);
    }

    [Fact]
    public void The_decorrelated_template_loss_adds_the_two_gram_terms()
    {
        // Similarity term as in the batch case: 0.5 · ((1/√2 − 1)² + 1/2) / 4.
        // Â·Âᵀ = I → 0. Ĉ·Ĉᵀ = [[1, 1/√2], [1/√2, 1]] → MSE against I = (1/2 + 1/2) / 4 = 0.25, × 0.5.
        double r = 1 / Math.Sqrt(2);
        double expected = 0.5 * (Math.Pow(r - 1, 2) + r * r) / 4 + 0.5 * 0.25;
        using var ind = CclLoss.Indicator(Labels(), 2, CclSimilarity.ClassTemplateDecorrelated);
        using var loss = CclLoss.LayerTerm(A(), C(), ind, CclSimilarity.ClassTemplateDecorrelated, 0.5, 0.5);
        Assert.Equal(expected, loss.item<float>(), 6);
    }

    [Fact]
    public void Classification_loss_is_the_layer_terms_plus_cross_entropy_at_the_output()
    {
        // One pair (a_0, c_0) and logits a_1 = [[2, 0], [0, 0]]: CE = (log(1 + e⁻²) + log 2) / 2.
        var acts = new[] { A(), tensor(new float[] { 2, 0, 0, 0 }, [2, 2]) };
        var signals = new[] { C(), eye(2) };
        var (total, terms) = CclLoss.Classification(acts, signals, Labels(), CclSimilarity.BatchNormalised, 0.5, 0.5);
        double r = 1 / Math.Sqrt(2);
        double ce = (Math.Log(1 + Math.Exp(-2)) + Math.Log(2)) / 2;
        Assert.Equal(2, terms.Count);
        Assert.Equal(0.5 * (Math.Pow(r - 1, 2) + r * r) / 4, terms[0].item<float>(), 6);
        Assert.Equal(ce, terms[1].item<float>(), 6);
        Assert.Equal(terms[0].item<float>() + terms[1].item<float>(), total.item<float>(), 6);
    }

    [Fact]
    public void Autoencoder_loss_is_the_sum_of_per_pair_mse()
    {
        // MSE(a, c) = (0 + 1 + 0 + 1) / 4 = 0.5 for pair 0; the output pair (c, c) adds 0.
        var (total, terms) = CclLoss.Autoencoder([A(), C()], [C(), C()]);
        Assert.Equal(0.5, terms[0].item<float>(), 6);
        Assert.Equal(0.0, terms[1].item<float>(), 6);
        Assert.Equal(0.5, total.item<float>(), 6);
    }

    [Fact]
    public void Feature_decorrelation_is_zero_for_uncorrelated_features_and_counts_copied_ones()
    {
        // Columns (1, −1, 1, −1) and (1, 1, −1, −1) are uncorrelated over the 4 rows: 0. A third column copying the first
        // has correlation 1 with it (twice, above and below the diagonal) and 0 with the second: 2 / 3 features.
        var x = tensor(new float[] { 1, 1, -1, 1, 1, -1, -1, -1 }, [4, 2]);
        Assert.Equal(0.0, CclLoss.FeatureDecorrelation(x).item<float>(), 5);
        var copied = cat([x, x.narrow(1, 0, 1)], 1);
        Assert.Equal(2.0 / 3, CclLoss.FeatureDecorrelation(copied).item<float>(), 5);
        // The autoencoder adds it on hidden pairs only: [a_0, a_1, a_2] with a_1 = copied, all matching their signals.
        var (_, terms) = CclLoss.Autoencoder([x, copied, x], [x, copied, x], decorrelationWeight: 0.5);
        Assert.Equal(3, terms.Count);
        Assert.Equal(0.0, terms[0].item<float>(), 5);
        Assert.Equal(0.5 * 2 * 2.0 / 3, terms[1].item<float>(), 5);
        Assert.Equal(0.0, terms[2].item<float>(), 5);
    }
}
