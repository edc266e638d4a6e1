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
}
