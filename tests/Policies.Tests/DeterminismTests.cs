using RlActors.Environments.Arithmetic;
using RlActors.Policies.Grpo;
using RlActors.Policies.Training;

namespace RlActors.Policies.Tests;

/// <summary>
/// A library run is a function of its options. (TorchSharp's thread count is process-wide and the same for both
/// runs here; across thread counts the last bit may differ.)
/// </summary>
public class DeterminismTests
{
    private static GrpoRunOptions Options(ulong seed) => new()
    {
        Seed = seed,
        Model = TestModels.Tiny(dModel: 16, layers: 1, context: 40),
        Task = new ArithmeticOptions { MaxOps = 2 },
        Sft = new SftOptions { Steps = 5, BatchSize = 16 },
        Grpo = new GrpoOptions { PromptsPerStep = 4, GroupSize = 4, MaxNewTokens = 20 },
        GrpoSteps = 5,
        EvalProblems = 8,
    };

    /// <summary>
    /// A shaped reward (the completion's length) so that groups differ and losses are not all zero: a 5-step SFT
    /// model never answers correctly, and the outcome reward would be 0 everywhere.
    /// </summary>
    private static double LengthReward(ArithmeticProblem problem, ParsedResponse response) => response.Length / 20.0;

    private static (List<Dictionary<string, double>> Metrics, byte[] SamplerState, float[] Weights) Run(ulong seed)
    {
        using var run = new GrpoTrainer(Options(seed), LengthReward);
        run.RunSft();
        var metrics = Enumerable.Range(0, 5).Select(_ => run.GrpoStep()).ToList();
        return (metrics, run.SamplerState(), TestModels.Weights(run.Policy));
    }

    private static double[] Series(List<Dictionary<string, double>> metrics, string key) => metrics.Select(m => m[key]).ToArray();

    [Fact]
    public void Two_runs_with_the_same_options_give_bitwise_identical_metrics_and_a_different_seed_does_not()
    {
        var a = Run(7);
        var b = Run(7);
        var c = Run(8);

        foreach (var key in new[] { GrpoMetrics.Loss, GrpoMetrics.RewardMean, GrpoMetrics.Entropy, GrpoMetrics.GradNorm, GrpoMetrics.CompletionLength })
            Assert.Equal(Series(a.Metrics, key), Series(b.Metrics, key));
        Assert.Equal(a.SamplerState, b.SamplerState);
        Assert.Equal(a.Weights, b.Weights);

        // The runs carry a learning signal, so equal losses are not equal zeros.
        Assert.Contains(Series(a.Metrics, GrpoMetrics.Loss), l => l != 0);
        Assert.Contains(Series(a.Metrics, GrpoMetrics.GradNorm), g => g > 0);

        Assert.NotEqual(Series(a.Metrics, GrpoMetrics.Loss), Series(c.Metrics, GrpoMetrics.Loss));
        Assert.NotEqual(Series(a.Metrics, GrpoMetrics.Entropy), Series(c.Metrics, GrpoMetrics.Entropy));
        Assert.NotEqual(a.SamplerState, c.SamplerState);
    }
}
