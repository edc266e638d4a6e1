using RlActors.Host.Configuration;
using RlActors.Policies.Algorithms;

namespace RlActors.Host.Tests;

/// <summary>An algorithm's options keys come from its registration (declared next to its options record): every one is
/// an experiment-file key under the algorithm's name, listed by <c>rlactors keys</c>, and sets the record.</summary>
public sealed class AlgorithmKeysTests
{
    [Fact]
    public void Every_registered_algorithm_key_sets_its_options_record()
    {
        var exp = GrpoExperimentFile.Parse(Experiments.Tiny("ppo-keys", """
            algorithm = ppo
            ppo { gamma = 0.9, gae-lambda = 1.0, mini-batches = 4, whiten-advantages = false }
            """), "ppo-keys.conf", []);
        Assert.Equal("ppo", exp.Options.Algorithm);
        var ppo = Assert.IsType<PpoOptions>(exp.Options.AlgorithmOptions);
        Assert.Equal((0.9, 1.0, 4, false), (ppo.Gamma, ppo.GaeLambda, ppo.MiniBatches, ppo.WhitenAdvantages));
        Assert.Equal(new PpoOptions().ClipRange, ppo.ClipRange); // keys not set keep their defaults

        var names = GrpoExperimentFile.Keys.Select(k => k.Name).ToHashSet();
        foreach (var algorithm in LmAlgorithms.All)
            foreach (var key in algorithm.Keys)
                Assert.Contains($"{algorithm.Name}.{key.Name}", names);
        Assert.Contains("ppo.gae-lambda", names);
    }

    [Fact]
    public void A_grpo_run_keeps_its_options_in_the_grpo_section()
    {
        var exp = GrpoExperimentFile.Parse(Experiments.Tiny("grpo-keys", "grpo.clip-low = 0.1"), "grpo-keys.conf", []);
        Assert.Equal("grpo", exp.Options.Algorithm);
        Assert.Null(exp.Options.AlgorithmOptions);
        Assert.Equal(0.1, exp.Options.Grpo.ClipLow);
    }
}
