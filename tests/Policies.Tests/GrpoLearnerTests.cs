using RlActors.Policies.Grpo;
using RlActors.Policies.Lm;
using static RlActors.Policies.Tests.TestModels;

namespace RlActors.Policies.Tests;

public class GrpoLearnerTests
{
    private static readonly int[] Prompt = [20, 18, 5, 12, 7, 21];
    private static readonly int[] X = [14, 9, 1];
    private static readonly int[] Y = [6, 2, 1];

    /// <summary>Same prompt twice: X with advantage +1, Y with −1 (mask covers every token).</summary>
    private static GrpoBatch PlusXMinusY()
    {
        float[] mask = [1, 1, 1, 1, 1, 1];
        return new GrpoBatch([Prompt, Prompt], [X, Y], GrpoMath.PerToken([1f, -1f], mask, 3), mask);
    }

    [Fact]
    public void An_update_raises_the_log_prob_of_a_positive_advantage_sequence_and_lowers_a_negative_one()
    {
        using var policy = new TransformerLm(Tiny(), initSeed: 31);
        double x0 = SequenceLogProb(policy, Prompt, X), y0 = SequenceLogProb(policy, Prompt, Y);
        using var learner = new GrpoLearner(policy, new GrpoOptions { LearningRate = 1e-2, GroupSize = 2, PromptsPerStep = 1 }, Pad);
        var metrics = learner.Update(PlusXMinusY());

        double x1 = SequenceLogProb(policy, Prompt, X), y1 = SequenceLogProb(policy, Prompt, Y);
        Assert.True(x1 > x0 + 1e-3, $"log p(X) {x0} -> {x1}");
        Assert.True(y1 < y0 - 1e-3, $"log p(Y) {y0} -> {y1}");
        Assert.True(metrics[GrpoMetrics.GradNorm] > 0);
        Assert.Equal(3.0, metrics[GrpoMetrics.CompletionLength]);
        Assert.True(metrics[GrpoMetrics.Entropy] > 0);
    }

    [Fact]
    public void A_single_epoch_update_has_ratio_one_so_nothing_is_clipped()
    {
        using var policy = new TransformerLm(Tiny(), initSeed: 32);
        using var learner = new GrpoLearner(policy, new GrpoOptions { LearningRate = 0.1, GroupSize = 2, PromptsPerStep = 1 }, Pad);
        var metrics = learner.Update(PlusXMinusY());
        Assert.Equal(0.0, metrics[GrpoMetrics.ClipFrac]);
        Assert.Equal(0.0, metrics[GrpoMetrics.ApproxKl], 9);
        // At ratio 1 the token-mean loss is −mean(A) over the tokens: (3·(−1) + 3·(+1)) / 6 = 0.
        Assert.Equal(0.0, metrics[GrpoMetrics.Loss], 6);
    }

    [Fact]
    public void Several_epochs_at_a_large_learning_rate_push_ratios_outside_the_clip_range()
    {
        using var policy = new TransformerLm(Tiny(), initSeed: 33);
        var options = new GrpoOptions { LearningRate = 0.05, UpdateEpochs = 4, GroupSize = 2, PromptsPerStep = 1 };
        using var learner = new GrpoLearner(policy, options, Pad);
        var metrics = learner.Update(PlusXMinusY());
        Assert.True(metrics[GrpoMetrics.ClipFrac] > 0, $"clip_frac {metrics[GrpoMetrics.ClipFrac]}");
        Assert.True(metrics[GrpoMetrics.ApproxKl] > 0);
    }

    [Fact]
    public void A_kl_coefficient_creates_a_frozen_reference_and_reports_kl_ref()
    {
        using var policy = new TransformerLm(Tiny(), initSeed: 34);
        var options = new GrpoOptions { LearningRate = 0.05, UpdateEpochs = 3, KlCoef = 0.1, GroupSize = 2, PromptsPerStep = 1 };
        using var learner = new GrpoLearner(policy, options, Pad);
        Assert.NotNull(learner.Reference);
        var referenceBefore = Weights(learner.Reference!);
        Assert.Equal(Weights(policy), referenceBefore);

        var metrics = learner.Update(PlusXMinusY());
        Assert.True(metrics[GrpoMetrics.KlRef] > 0);
        Assert.Equal(referenceBefore, Weights(learner.Reference!));
        Assert.NotEqual(referenceBefore, Weights(policy));
    }

    [Fact]
    public void Restored_optimizer_state_makes_the_next_update_bitwise_identical()
    {
        var options = new GrpoOptions { LearningRate = 1e-2, GroupSize = 2, PromptsPerStep = 1 };
        using var policyA = new TransformerLm(Tiny(), initSeed: 35);
        using var learnerA = new GrpoLearner(policyA, options, Pad);
        learnerA.Update(PlusXMinusY());
        learnerA.Update(PlusXMinusY());
        byte[] optimizerState = learnerA.SaveOptimizer();

        using var policyB = new TransformerLm(Tiny(), initSeed: 99);
        policyB.CopyWeightsFrom(policyA);
        using var learnerB = new GrpoLearner(policyB, options, Pad);
        learnerB.LoadOptimizer(optimizerState);

        // Control: the same weights with a fresh optimizer take a different step, so the comparison can fail.
        using var policyC = new TransformerLm(Tiny(), initSeed: 98);
        policyC.CopyWeightsFrom(policyA);
        using var learnerC = new GrpoLearner(policyC, options, Pad);

        learnerA.Update(PlusXMinusY());
        learnerB.Update(PlusXMinusY());
        learnerC.Update(PlusXMinusY());
        Assert.Equal(Weights(policyA), Weights(policyB));
        Assert.NotEqual(Weights(policyA), Weights(policyC));
        Assert.Equal(learnerA.SaveOptimizer(), learnerB.SaveOptimizer());
    }

    [Fact]
    public void Update_rejects_advantages_of_the_wrong_size()
    {
        using var policy = new TransformerLm(Tiny(), initSeed: 36);
        using var learner = new GrpoLearner(policy, new GrpoOptions { GroupSize = 2, PromptsPerStep = 1 }, Pad);
        var batch = PlusXMinusY() with { TokenAdvantages = new float[5] };
        Assert.Throws<ArgumentException>(() => learner.Update(batch));
    }
}
