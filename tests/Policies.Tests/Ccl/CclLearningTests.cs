using RlActors.Policies.Ccl;

namespace RlActors.Policies.Tests.Ccl;

/// <summary>CCL learns real data: a few epochs on 2,000 Fashion-MNIST images, tested on the full 10k test set.</summary>
public class CclLearningTests
{
    [Theory]
    [InlineData(CclSimilarity.BatchNormalised)]
    [InlineData(CclSimilarity.ClassTemplate)]
    public void A_few_epochs_of_ccl_on_2000_images_beat_chance_by_a_wide_margin(CclSimilarity similarity)
    {
        using var data = CclData.From(CclTestData.FashionSlice);
        var options = new CclOptions
        {
            Seed = 1, Architecture = CclArchitecture.FashionMlp, Similarity = similarity,
            ForwardLearningRate = 0.3, FeedbackLearningRate = 0.3,
        };
        using var trainer = new CclTrainer(options, data);
        Assert.Equal(8, trainer.StepsPerEpoch);
        double before = trainer.Evaluate(CclSplit.Test).Accuracy;
        CclEpochResult last = null!;
        for (int e = 0; e < 6; e++) last = trainer.TrainEpoch();
        var test = trainer.Evaluate(CclSplit.Test);
        Assert.Equal(10000, test.Count);
        Assert.True(before < 0.25, $"untrained accuracy {before:P1}");
        Assert.True(test.Accuracy > 0.60, $"test accuracy after 6 epochs: {test.Accuracy:P1} (chance 10%)");
        Assert.Equal(5, last.Epoch);
        Assert.Equal(8, last.Steps);
        Assert.True(last.Seconds > 0 && last.Flops == trainer.FlopsPerEpoch);
    }

    [Fact]
    public void A_ccl_autoencoder_on_real_images_reconstructs_far_better_than_the_mean_image()
    {
        // The collapse this guards against: with per-example normalisation (and no decorrelation) forward and feedback
        // activations matched by becoming input-independent, and the reconstruction stayed at the mean image's error.
        // 500 training images, a 784-64-16-64-784 net, 20 epochs of 10 steps; scored on 1,000 test images.
        var slice = CclTestData.FashionSlice;
        using var all = CclData.From(slice);
        LabelledTensors First(LabelledTensors t, int n) => new(t.Inputs.narrow(0, 0, n).clone(), t.Labels.narrow(0, 0, n).clone());
        using var data = new CclData(First(all.Train, 500), First(all.Validation, 100), First(all.Test, 1000));
        var options = new CclOptions
        {
            Seed = 1, Task = CclTask.Autoencoder,
            Architecture = CclArchitecture.Mlp(784, 64, 16, 64, 784) with { Normalisation = CclNormalisation.Batch },
            BatchSize = 50, ForwardLearningRate = 2.0, FeedbackLearningRate = 2.0,
        };
        Assert.Equal(CclOptions.AutoencoderDecorrelationWeight, options.EffectiveDecorrelationWeight);
        using var trainer = new CclTrainer(options, data);
        for (int e = 0; e < 20; e++) trainer.TrainEpoch();
        double mse = trainer.Evaluate(CclSplit.Test).Loss;
        using var mean = data.Train.Inputs.mean([0], keepdim: true);
        double meanImage = (data.Test.Inputs - mean).pow(2).mean().item<float>();
        Assert.True(mse < 0.6 * meanImage, $"test reconstruction MSE {mse:F4}; predicting the mean training image scores {meanImage:F4}");
    }
}
