using RlActors.Environments.Arithmetic;
using RlActors.Policies.Lm;
using RlActors.Policies.Training;

namespace RlActors.Policies.Tests;

public class SftTests
{
    [Fact]
    public void Sft_loss_decreases_over_30_steps_on_a_tiny_model()
    {
        using var model = new TransformerLm(TestModels.Tiny(dModel: 32, layers: 1, context: 48), initSeed: 41);
        var data = new ArithmeticDataset(new ArithmeticOptions { MaxOps = 2 }, seed: 41);
        using var trainer = new SftTrainer(model, new SftOptions { Steps = 30, BatchSize = 32 });
        var losses = Enumerable.Range(0, 30).Select(_ => trainer.Step(data)).ToArray();

        double first = losses[..5].Average(), last = losses[^5..].Average();
        Assert.All(losses, l => Assert.True(double.IsFinite(l)));
        // A random model starts near ln(23) = 3.1 nats per token.
        Assert.InRange(first, 2.5, 3.5);
        Assert.True(last < first - 0.5, $"first 5 mean {first:F3}, last 5 mean {last:F3}");
    }

    [Fact]
    public void Sft_on_reference_solutions_raises_their_log_prob_on_unseen_problems()
    {
        using var model = new TransformerLm(TestModels.Tiny(dModel: 32, layers: 1, context: 48), initSeed: 42);
        var options = new ArithmeticOptions { MaxOps = 2 };
        var heldOut = ArithmeticDataset.HeldOut(options, seed: 3, count: 16);
        var prompts = heldOut.Select(ArithmeticLm.PromptIds).ToList();
        var references = heldOut.Select(ArithmeticLm.ReferenceIds).ToList();
        double Score() => TestModels.LogProbs(model, prompts, references)
            .Select((row, r) => row.Take(references[r].Length).Sum(x => (double)x)).Average();

        double before = Score();
        using var trainer = new SftTrainer(model, new SftOptions { Steps = 20, BatchSize = 32 });
        var data = new ArithmeticDataset(options, seed: 42);
        for (int s = 0; s < 20; s++) trainer.Step(data);
        Assert.True(Score() > before + 5, $"mean reference log-prob {before:F2} -> {Score():F2}");
    }
}
