using RlActors.Environments.Arithmetic;
using RlActors.Policies.Algorithms;
using RlActors.Policies.Checkpoints;
using RlActors.Policies.Grpo;
using RlActors.Policies.Lm;
using RlActors.Policies.Training;
using static RlActors.Policies.Tests.TestModels;

namespace RlActors.Policies.Tests;

/// <summary>The algorithm contract: the registry, GRPO behind it unchanged, and PPO's GAE, state and resume.</summary>
public class AlgorithmTests
{
    private static readonly int[] Prompt = [20, 18, 5, 12, 7, 21];

    /// <summary>Two prompts of four completions with different rewards and lengths (some without an end token), one with token extras.</summary>
    private static IReadOnlyList<ScoredGroup> Groups() =>
    [
        new ScoredGroup(Prompt, [[14, 9, Eos], [6, 2, Eos], [14, 14, 9], [3, Eos, Pad]], [1f, 0f, 0f, 1f]),
        new ScoredGroup([20, 7, 21], [[9, Eos], [6, 6], [2, Eos], [9, 9]], [0f, 1f, 0.5f, 0f],
            [[0f, -0.5f], [0.2f, 0f], [0f, 0f], [-0.1f, -0.1f]]),
    ];

    private static LmAlgorithmContext Context(TransformerLm policy) => new(policy, Eos, Pad, Seed: 5);

    private static PpoOptions Ppo(double klCoef = 0) => new() { LearningRate = 1e-2, CriticLearningRate = 1e-2, UpdateEpochs = 2, MiniBatches = 2, KlCoef = klCoef };

    [Fact]
    public void The_registry_lists_grpo_and_ppo_and_refuses_an_unknown_name_listing_the_known_ones()
    {
        Assert.Equal(["grpo", "ppo"], LmAlgorithms.Names);
        using var policy = new TransformerLm(Tiny(), initSeed: 40);
        using (var grpo = LmAlgorithms.Create("grpo", Context(policy), new GrpoOptions { GroupSize = 4, PromptsPerStep = 2 }))
            Assert.IsType<GrpoAlgorithm>(grpo);
        using (var ppo = LmAlgorithms.Create("ppo", Context(policy)))
        {
            Assert.Equal("ppo", ppo.Name);
            Assert.Equal(new PpoOptions(), ((PpoAlgorithm)ppo).Options);
        }
        var e = Assert.Throws<ArgumentException>(() => LmAlgorithms.Create("a2c", Context(policy)));
        Assert.Contains("'a2c'", e.Message);
        Assert.Contains("grpo, ppo", e.Message);
        Assert.Contains("PpoOptions", Assert.Throws<ArgumentException>(() => LmAlgorithms.Create("ppo", Context(policy), new GrpoOptions())).Message);
    }

    [Fact]
    public void Grpo_through_the_contract_gives_bitwise_the_numbers_of_GrpoLearner_directly()
    {
        var options = new GrpoOptions { LearningRate = 1e-2, GroupSize = 4, PromptsPerStep = 2, UpdateEpochs = 2, MiniBatches = 2, KlCoef = 0.05 };
        using var policyA = new TransformerLm(Tiny(), initSeed: 41);
        using var policyB = new TransformerLm(Tiny(), initSeed: 41);
        using var viaContract = LmAlgorithms.Create("grpo", Context(policyA), options);
        using var direct = new GrpoLearner(policyB, options, Pad);
        for (int step = 0; step < 2; step++)
        {
            var a = viaContract.Train(Groups());
            var (batch, adv) = GroupBatch.Build(Groups(), options, Eos, Pad);
            var b = direct.Update(batch);
            b[GrpoMetrics.ZeroStdGroups] = adv.ZeroStdGroups;
            Assert.Equal(b.OrderBy(kv => kv.Key), a.OrderBy(kv => kv.Key));
        }
        Assert.Equal(Weights(policyB), Weights(policyA));
        Assert.Empty(viaContract.ExportTensors());
    }

    [Fact]
    public void Gae_matches_hand_computed_advantages_and_returns_with_gamma_lambda_and_mask()
    {
        // Row 0: two tokens carry loss, the third is masked (its reward and value must be ignored).
        // Row 1: three tokens. γ = 0.9, λ = 0.5.
        float[] rewards = [0f, 1f, 5f, 1f, 0f, 2f];
        float[] values = [0.5f, 0.2f, 9f, 1f, 1f, 1f];
        float[] mask = [1, 1, 0, 1, 1, 1];
        var (adv, ret) = PpoAlgorithm.Gae(rewards, values, mask, 3, gamma: 0.9, lambda: 0.5);
        // Row 0: t=1: δ = 1 − 0.2 = 0.8 (next is past the end), A = 0.8;  t=0: δ = 0 + 0.9·0.2 − 0.5 = −0.32, A = −0.32 + 0.45·0.8 = 0.04.
        // Row 1: t=2: δ = 2 − 1 = 1, A = 1;  t=1: δ = 0.9 − 1 = −0.1, A = −0.1 + 0.45 = 0.35;  t=0: δ = 1 + 0.9 − 1 = 0.9, A = 0.9 + 0.45·0.35 = 1.0575.
        double[] expectedAdv = [0.04, 0.8, 0, 1.0575, 0.35, 1];
        double[] expectedRet = [0.54, 1.0, 0, 2.0575, 1.35, 2];
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(expectedAdv[i], adv[i], 5);
            Assert.Equal(expectedRet[i], ret[i], 5);
        }
        // γ = λ = 1: advantages are rewards-to-go minus the value (Monte Carlo).
        var (mc, _) = PpoAlgorithm.Gae(rewards, values, mask, 3, 1, 1);
        Assert.Equal(3 - 1, mc[3], 5);
        Assert.Equal(1 - 0.5, mc[0], 5);
    }

    [Fact]
    public void A_ppo_update_raises_a_rewarded_completion_and_lowers_an_unrewarded_one_and_fits_the_critic()
    {
        int[] x = [14, 9, Eos], y = [6, 2, Eos];
        var groups = new[] { new ScoredGroup(Prompt, [x, y, x, y], [1f, 0f, 1f, 0f]) };
        using var policy = new TransformerLm(Tiny(), initSeed: 42);
        double x0 = SequenceLogProb(policy, Prompt, x), y0 = SequenceLogProb(policy, Prompt, y);
        using var ppo = new PpoAlgorithm(Context(policy), Ppo());
        var first = ppo.Train(groups);
        Assert.Equal(0.0, first[PpoMetrics.ValueMean]); // the value head starts at zero
        Dictionary<string, double> last = first;
        for (int i = 0; i < 5; i++) last = ppo.Train(groups);
        Assert.True(SequenceLogProb(policy, Prompt, x) > x0 + 1e-3);
        Assert.True(SequenceLogProb(policy, Prompt, y) < y0 - 1e-3);
        Assert.True(last[PpoMetrics.ValueLoss] < first[PpoMetrics.ValueLoss], $"value loss {first[PpoMetrics.ValueLoss]} -> {last[PpoMetrics.ValueLoss]}");
        Assert.True(last[PpoMetrics.ExplainedVariance] > first[PpoMetrics.ExplainedVariance]);
        foreach (var name in new[] { GrpoMetrics.Loss, GrpoMetrics.ClipFrac, GrpoMetrics.ApproxKl, GrpoMetrics.Entropy, GrpoMetrics.GradNorm, PpoMetrics.ValueGradNorm })
            Assert.True(double.IsFinite(last[name]), name);
        var exported = ppo.ExportTensors();
        Assert.Equal([16L], exported["value_head.weight"].shape[1..]);
        Assert.Contains("critic.tok.weight", exported.Keys);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.1)]
    public void Ppo_state_and_policy_weights_resume_bitwise_and_a_fresh_critic_does_not(double klCoef)
    {
        using var policyA = new TransformerLm(Tiny(), initSeed: 43);
        using var a = new PpoAlgorithm(Context(policyA), Ppo(klCoef));
        for (int i = 0; i < 3; i++) a.Train(Groups());
        var state = a.SaveState();
        var weights = policyA.SaveWeights();

        using var policyB = new TransformerLm(Tiny(), initSeed: 77);
        policyB.LoadWeights(weights);
        using var b = new PpoAlgorithm(Context(policyB), Ppo(klCoef));
        b.LoadState(state);
        // Control: the same policy weights with a fresh critic and optimizers (no LoadState).
        using var policyC = new TransformerLm(Tiny(), initSeed: 78);
        policyC.LoadWeights(weights);
        using var c = new PpoAlgorithm(Context(policyC), Ppo(klCoef));

        var ma = a.Train(Groups());
        var mb = b.Train(Groups());
        var mc = c.Train(Groups());
        Assert.Equal(ma, mb);
        Assert.Equal(Weights(policyA), Weights(policyB));
        Assert.Equal(a.SaveState().OrderBy(kv => kv.Key), b.SaveState().OrderBy(kv => kv.Key));
        Assert.NotEqual(ma[PpoMetrics.ValueMean], mc[PpoMetrics.ValueMean]);
        Assert.NotEqual(Weights(policyA), Weights(policyC));
        Assert.Equal(klCoef > 0, state.ContainsKey(PpoAlgorithm.ReferenceEntry));
    }

    [Fact]
    public void Loading_state_with_a_missing_or_an_extra_entry_names_it()
    {
        using var policy = new TransformerLm(Tiny(), initSeed: 44);
        using var ppo = new PpoAlgorithm(Context(policy), Ppo());
        var state = ppo.SaveState().ToDictionary();
        state.Remove(PpoAlgorithm.CriticOptimizerEntry);
        var missing = Assert.Throws<InvalidDataException>(() => ppo.LoadState(state));
        Assert.Contains("ppo state is missing entry 'critic.optimizer'", missing.Message);

        var extra = ppo.SaveState().ToDictionary();
        extra["reference"] = policy.SaveWeights();
        Assert.Contains("unexpected entry 'reference'", Assert.Throws<InvalidDataException>(() => ppo.LoadState(extra)).Message);

        using var grpo = LmAlgorithms.Create("grpo", Context(policy), new GrpoOptions { GroupSize = 4, PromptsPerStep = 2 });
        Assert.Contains("grpo state is missing entry 'optimizer'",
            Assert.Throws<InvalidDataException>(() => grpo.LoadState(new Dictionary<string, byte[]>())).Message);
    }

    private static GrpoRunOptions LoopOptions(string algorithm) => new()
    {
        Seed = 12,
        Model = new LmConfig { VocabSize = CharTokenizer.Default.VocabSize, DModel = 16, Layers = 1, Heads = 2, Context = 48 },
        Task = new ArithmeticOptions { MinOps = 1, MaxOps = 2 },
        Sft = new SftOptions { Steps = 5, BatchSize = 16 },
        Grpo = new GrpoOptions { PromptsPerStep = 4, GroupSize = 4, MaxNewTokens = 24, LearningRate = 1e-3 },
        Algorithm = algorithm,
        AlgorithmOptions = algorithm == "ppo" ? new PpoOptions { LearningRate = 1e-3, KlCoef = 0.05 } : null,
        EvalProblems = 10,
    };

    private static double LengthReward(ArithmeticProblem p, ParsedResponse r) => r.Length / 20.0;

    [Fact]
    public void A_ppo_run_of_the_plain_loop_resumes_from_its_checkpoint_bitwise()
    {
        var options = LoopOptions("ppo");
        var metrics = new List<Dictionary<string, double>>();
        byte[] uninterrupted, saved;
        using (var a = new GrpoTrainer(options, LengthReward))
        {
            a.RunSft();
            for (int i = 0; i < 4; i++) metrics.Add(a.GrpoStep());
            uninterrupted = a.Policy.SaveWeights();
        }
        using (var b = new GrpoTrainer(options, LengthReward))
        {
            b.RunSft();
            for (int i = 0; i < 2; i++) b.GrpoStep();
            saved = b.SaveCheckpoint().Encode();
        }
        var checkpoint = TrainingCheckpoint.Decode(saved);
        Assert.Equal(["algorithm", "algorithm.critic", "algorithm.critic.optimizer", "cursor.rl", "cursor.sft", "generator.sampler"],
            checkpoint.Parts.Keys.Order(StringComparer.Ordinal));
        Assert.NotNull(checkpoint.ReferenceWeights);

        using var c = new GrpoTrainer(options, LengthReward);
        c.LoadCheckpoint(checkpoint);
        for (int i = 2; i < 4; i++)
        {
            var m = c.GrpoStep();
            foreach (var key in new[] { GrpoMetrics.Loss, PpoMetrics.ValueLoss, PpoMetrics.ValueMean, GrpoMetrics.RewardMean })
                Assert.Equal(metrics[i][key], m[key]);
        }
        Assert.Equal(uninterrupted, c.Policy.SaveWeights());

        // The checkpoint of a PPO run does not load into a GRPO run (nor a GRPO checkpoint into PPO).
        using var grpo = new GrpoTrainer(LoopOptions("grpo"), LengthReward);
        Assert.Contains("written by algorithm 'ppo', this run uses algorithm 'grpo'",
            Assert.Throws<InvalidDataException>(() => grpo.LoadCheckpoint(checkpoint)).Message);
        grpo.RunSft();
        grpo.GrpoStep();
        var grpoCheckpoint = grpo.SaveCheckpoint();
        Assert.DoesNotContain("algorithm", grpoCheckpoint.Parts.Keys);
        using var ppo = new GrpoTrainer(options, LengthReward);
        Assert.Contains("written by algorithm 'grpo', this run uses algorithm 'ppo'",
            Assert.Throws<InvalidDataException>(() => ppo.LoadCheckpoint(grpoCheckpoint)).Message);
    }

    [Fact]
    public void An_unknown_algorithm_or_options_of_another_algorithm_are_refused_naming_the_value()
    {
        Assert.Contains("algorithm 'reinforce' is not known", Assert.Throws<ArgumentException>(() => (LoopOptions("grpo") with { Algorithm = "reinforce" }).Validate()).Message);
        Assert.Contains("takes PpoOptions options, not GrpoOptions",
            Assert.Throws<ArgumentException>(() => (LoopOptions("ppo") with { AlgorithmOptions = new GrpoOptions() }).Validate()).Message);
        Assert.Contains("ppo.gae-lambda", Assert.Throws<ArgumentException>(() => new PpoOptions { GaeLambda = 1.5 }.Validate()).Message);
    }
}
