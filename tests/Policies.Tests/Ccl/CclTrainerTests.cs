using RlActors.Policies.Ccl;
using RlActors.Policies.Checkpoints;

namespace RlActors.Policies.Tests.Ccl;

public class CclTrainerTests
{
    private static CclOptions Small(CclMethod method, double momentum = 0.9, CclSimilarity similarity = CclSimilarity.BatchNormalised) => new()
    {
        Seed = 4,
        Architecture = CclArchitecture.Mlp(784, 32, 16, 10),
        Method = method,
        Similarity = similarity,
        BatchSize = 32,
        ForwardLearningRate = 0.1,
        FeedbackLearningRate = 0.1,
        Momentum = momentum,
        WarmupSteps = 3,
    };

    [Theory]
    [InlineData(CclMethod.Ccl, CclSimilarity.BatchNormalised)]
    [InlineData(CclMethod.Ccl, CclSimilarity.ClassTemplateDecorrelated)]
    [InlineData(CclMethod.CclFrozenFeedback, CclSimilarity.ClassTemplate)]
    [InlineData(CclMethod.Backprop, CclSimilarity.BatchNormalised)]
    [InlineData(CclMethod.OutputOnly, CclSimilarity.BatchNormalised)]
    public void Save_then_load_then_continue_gives_bitwise_the_weights_of_not_stopping(CclMethod method, CclSimilarity similarity)
    {
        // 100 rows in batches of 32: 4 steps per epoch, so 6 + 5 steps cross two epoch boundaries.
        using var data = CclTestData.RandomData(100);
        var options = Small(method, similarity: similarity);
        byte[] state;
        float[] expected;
        List<double> expectedLosses;
        using (var straight = new CclTrainer(options, data))
        {
            for (int i = 0; i < 6; i++) straight.Step();
            state = straight.SaveState();
            expectedLosses = Enumerable.Range(0, 5).Select(_ => straight.Step().Loss).ToList();
            expected = CclTestData.Weights(straight.Network);
        }

        using var resumed = new CclTrainer(options, data);
        resumed.Step(); // moves weights and cursor away from the saved state first
        resumed.LoadState(state);
        Assert.Equal(6, resumed.Steps);
        Assert.Equal(1, resumed.Epoch);
        var losses = Enumerable.Range(0, 5).Select(_ => resumed.Step().Loss).ToList();
        Assert.Equal(expectedLosses, losses);
        Assert.Equal(expected, CclTestData.Weights(resumed.Network));
    }

    [Fact]
    public void A_batch_normalised_autoencoder_resumes_bitwise_with_its_running_statistics()
    {
        // The running means and variances are buffers, not parameters: they must travel in the state, or evaluation
        // after a resume would use fresh statistics.
        using var data = CclTestData.LowRankData(100, width: 20, rank: 4);
        var options = new CclOptions
        {
            Seed = 3, Task = CclTask.Autoencoder, Architecture = CclArchitecture.Mlp(20, 16, 8, 16, 20) with { Normalisation = CclNormalisation.Batch },
            BatchSize = 32, ForwardLearningRate = 0.5, FeedbackLearningRate = 0.5,
        };
        byte[] state;
        List<double> expectedLosses;
        double expectedEval;
        using (var straight = new CclTrainer(options, data))
        {
            for (int i = 0; i < 6; i++) straight.Step();
            state = straight.SaveState();
            expectedLosses = Enumerable.Range(0, 5).Select(_ => straight.Step().Loss).ToList();
            expectedEval = straight.Evaluate(CclSplit.Test).Loss;
        }
        using (var net = new CclNetwork(options.Architecture, 1))
            Assert.Equal(16, net.buffers().Count()); // 4 layers × (mean, variance) × (forward, feedback)

        using var fresh = new CclTrainer(options, data);
        double untrainedEval = fresh.Evaluate(CclSplit.Test).Loss;
        using var resumed = new CclTrainer(options, data);
        resumed.Step();
        resumed.LoadState(state);
        var losses = Enumerable.Range(0, 5).Select(_ => resumed.Step().Loss).ToList();
        Assert.Equal(expectedLosses, losses);
        Assert.Equal(expectedEval, resumed.Evaluate(CclSplit.Test).Loss);
        Assert.NotEqual(untrainedEval, expectedEval);
    }

    [Fact]
    public void Without_data_a_trainer_learns_from_given_batches_and_its_state_round_trips()
    {
        // The learner-actor case: batches come from elsewhere; the state then has no data cursor.
        using var batch = CclTestData.Random(32, 784, 10, seed: 8);
        using var a = new CclTrainer(Small(CclMethod.Ccl));
        Assert.Throws<InvalidOperationException>(() => a.Step());
        Assert.Throws<ArgumentException>(() => a.Step(batch.Inputs, null));
        var first = a.Step(batch.Inputs, batch.Labels);
        Assert.Equal(1, first.Step);
        Assert.Equal(4, first.LayerLosses.Length); // three pairs and the output cross-entropy
        using var b = new CclTrainer(Small(CclMethod.Ccl));
        b.LoadState(a.SaveState());
        Assert.Equal(a.Step(batch.Inputs, batch.Labels).Loss, b.Step(batch.Inputs, batch.Labels).Loss);
        Assert.Equal(CclTestData.Weights(a.Network), CclTestData.Weights(b.Network));
        Assert.Equal(a.Evaluate(batch).Accuracy, b.Evaluate(batch).Accuracy);
    }

    [Fact]
    public void A_state_of_another_method_or_a_corrupt_state_is_refused_with_a_clear_message()
    {
        using var data = CclTestData.RandomData(64);
        using var ccl = new CclTrainer(Small(CclMethod.Ccl), data);
        ccl.Step();
        var state = ccl.SaveState();
        using var bp = new CclTrainer(Small(CclMethod.Backprop), data);
        var e = Assert.Throws<InvalidDataException>(() => bp.LoadState(state));
        Assert.Contains("method Ccl", e.Message);
        Assert.Contains("method Backprop", e.Message);

        var corrupt = (byte[])state.Clone();
        corrupt[corrupt.Length / 2] ^= 1;
        Assert.Throws<InvalidDataException>(() => ccl.LoadState(corrupt));
        // The state is a standard learner checkpoint.
        Assert.Equal(1, TrainingCheckpoint.Decode(state).Step);
    }

    [Fact]
    public void Controls_train_only_what_they_claim()
    {
        using var data = CclTestData.RandomData(64);
        foreach (var method in Enum.GetValues<CclMethod>())
        {
            using var t = new CclTrainer(Small(method, momentum: 0), data);
            var layers = t.Network.Layers;
            var forward0 = layers.Select(l => CclTestData.Values(l.ForwardParameters().First())).ToList();
            var feedback0 = layers.Select(l => CclTestData.Values(l.FeedbackParameters().First())).ToList();
            for (int i = 0; i < 3; i++) t.Step();
            for (int l = 0; l < layers.Count; l++)
            {
                bool forwardMoves = method != CclMethod.OutputOnly || l == layers.Count - 1;
                bool feedbackMoves = method == CclMethod.Ccl;
                Assert.True(forwardMoves != forward0[l].SequenceEqual(CclTestData.Values(layers[l].ForwardParameters().First())),
                    $"{method}: W_{l + 1} should {(forwardMoves ? "" : "not ")}change");
                Assert.True(feedbackMoves != feedback0[l].SequenceEqual(CclTestData.Values(layers[l].FeedbackParameters().First())),
                    $"{method}: B_{l + 1} should {(feedbackMoves ? "" : "not ")}change");
            }
        }
    }

    [Fact]
    public void Same_options_give_the_same_run_and_another_seed_does_not()
    {
        using var data = CclTestData.RandomData(64);
        List<double> Run(ulong seed)
        {
            using var t = new CclTrainer(Small(CclMethod.Ccl) with { Seed = seed }, data);
            return Enumerable.Range(0, 4).Select(_ => t.Step().Loss).ToList();
        }
        Assert.Equal(Run(4), Run(4));
        Assert.NotEqual(Run(4), Run(5));
    }

    [Fact]
    public void Flops_per_step_follow_the_counting_rule()
    {
        // MLP 784-32-16-10, batch 32. Multiply-adds per example: 784·32 + 32·16 + 16·10 = 25760.
        double macs = 784 * 32 + 32 * 16 + 16 * 10, b = 32;
        using var bp = new CclTrainer(Small(CclMethod.Backprop));
        // Forward + weight gradients + input gradients of every layer but the first.
        Assert.Equal(2 * macs * b * 2 + 2 * (32 * 16 + 16 * 10) * b, bp.FlopsPerStep(32));
        using var oo = new CclTrainer(Small(CclMethod.OutputOnly));
        Assert.Equal(2 * macs * b + 2 * 16 * 10 * b, oo.FlopsPerStep(32));
        using var ccl = new CclTrainer(Small(CclMethod.Ccl, similarity: CclSimilarity.ClassTemplate));
        // Forward + weight grads; feedback on 10 rows, forward + weight grads; similarities B×K×d for d = 784, 32, 16:
        // product, gradient wrt C, and gradient wrt A except at the input pair.
        double sims = 2 * b * 10 * (784 * 2 + 32 * 3 + 16 * 3);
        Assert.Equal(2 * macs * b * 2 + 2 * macs * 10 * 2 + sims, ccl.FlopsPerStep(32));
    }

    [Fact]
    public void Autoencoder_ccl_reconstructs_better_than_predicting_the_mean()
    {
        // Rank-4 data in 20 dimensions: an 8-wide bottleneck can hold it. Predicting the mean scores the data's variance.
        using var data = CclTestData.LowRankData(256, width: 20, rank: 4);
        double variance = data.Train.Inputs.var(0).mean().item<float>();
        var options = new CclOptions
        {
            Seed = 2, Task = CclTask.Autoencoder, Architecture = CclArchitecture.Mlp(20, 16, 8, 16, 20) with { Normalisation = CclNormalisation.Batch },
            BatchSize = 32, ForwardLearningRate = 0.5, FeedbackLearningRate = 0.5,
        };
        using var t = new CclTrainer(options, data);
        for (int e = 0; e < 20; e++) t.TrainEpoch();
        var eval = t.Evaluate(CclSplit.Train);
        Assert.True(double.IsNaN(eval.Accuracy));
        Assert.True(eval.Loss < 0.75 * variance, $"reconstruction MSE {eval.Loss:F4}, variance {variance:F4}");
    }
}
