using RlActors.Policies.Algorithms;
using RlActors.Policies.Grpo;
using RlActors.Policies.Hf;
using RlActors.Policies.Lm;
using RlActors.Policies.Training;
using static RlActors.Policies.Tests.Hf.HfTestModels;
using static RlActors.Policies.Tests.TestModels;
using static TorchSharp.torch;

namespace RlActors.Policies.Tests.Hf;

/// <summary>The LM algorithms (SFT, GRPO, PPO) on the Hugging Face-layout decoder, through the same contract as the toy model.</summary>
public class HfAlgorithmTests
{
    private const int Eos = 2;
    private const int Pad = 0;
    private const int Target = 7;

    private static LmAlgorithmContext Context(ICausalLm policy) => new(policy, Eos, Pad, Seed: 3);

    private static IReadOnlyList<ScoredGroup> Groups() =>
    [
        new ScoredGroup([5, 9, 13, 21], [[7, 7, Eos], [8, 3, Eos], [7, 11, 12], [4, Eos, Pad]], [1f, 0f, 0.5f, 0f]),
        new ScoredGroup([30, 6], [[7, Eos], [6, 6], [9, Eos], [7, 7]], [1f, 0f, 0f, 1f], [[0f, 0.2f], [0f, -0.3f], [0f, 0f], [0.1f, 0f]]),
    ];

    private static object Options(string algorithm) => algorithm == "ppo"
        ? new PpoOptions { LearningRate = 1e-2, CriticLearningRate = 1e-2, KlCoef = 0.05, MiniBatches = 2 }
        : new GrpoOptions { LearningRate = 1e-2, GroupSize = 4, PromptsPerStep = 2, KlCoef = 0.05, MiniBatches = 2 };

    public static TheoryData<string, bool> Cases => new() { { "grpo", false }, { "grpo", true }, { "ppo", false }, { "ppo", true } };

    private static HfDecoderLm NewPolicy(bool qwen, long seed) => new(qwen ? Qwen2() : Llama(), seed);

    [Theory]
    [MemberData(nameof(Cases))]
    public void An_algorithm_trains_the_hf_model_and_resumes_from_its_state_bitwise(string algorithm, bool qwen)
    {
        using var policyA = NewPolicy(qwen, 41);
        var start = Weights(policyA);
        using var a = LmAlgorithms.Create(algorithm, Context(policyA), Options(algorithm));
        var first = a.Train(Groups());
        foreach (var (name, value) in first) Assert.True(double.IsFinite(value), $"{name} = {value}");
        Assert.NotEqual(start, Weights(policyA));
        var state = a.SaveState();
        Assert.Contains("reference", state.Keys);
        using (var reference = NewPolicy(qwen, 0))
        {
            reference.LoadWeights(state["reference"]);
            Assert.Equal(start, Weights(reference)); // the frozen reference is the starting policy
        }
        var weights = policyA.SaveWeights();

        using var policyB = NewPolicy(qwen, 99);
        policyB.LoadWeights(weights);
        using var b = LmAlgorithms.Create(algorithm, Context(policyB), Options(algorithm));
        b.LoadState(state);
        var ma = a.Train(Groups());
        var mb = b.Train(Groups());
        Assert.Equal(ma.OrderBy(kv => kv.Key), mb.OrderBy(kv => kv.Key));
        Assert.Equal(Weights(policyA), Weights(policyB));
    }

    [Fact]
    public void Ppo_critic_copies_the_hf_trunk_and_leaves_out_only_an_untied_output_head()
    {
        using var untied = NewPolicy(qwen: false, 42);
        using var ppoUntied = LmAlgorithms.Create("ppo", Context(untied), Options("ppo"));
        var exported = ppoUntied.ExportTensors();
        Assert.Contains("critic.model.layers.1.self_attn.k_proj.weight", exported.Keys);
        Assert.DoesNotContain("critic.lm_head.weight", exported.Keys);
        Assert.Equal([1L, 32], exported["value_head.weight"].shape);

        using var tied = NewPolicy(qwen: true, 42);
        using var ppoTied = LmAlgorithms.Create("ppo", Context(tied), Options("ppo"));
        var tiedExport = ppoTied.ExportTensors();
        Assert.Contains("critic.model.embed_tokens.weight", tiedExport.Keys); // tied: the embedding is also the trunk's input
        Assert.Equal(HfDecoderLm.ExpectedTensors(Qwen2()).Count + 2, tiedExport.Count);
    }

    [Theory]
    [InlineData("grpo")]
    [InlineData("ppo")]
    public void A_bfloat16_hf_model_trains_in_bfloat16(string algorithm)
    {
        using var policy = new HfDecoderLm(Qwen2(), initSeed: 43, ScalarType.BFloat16);
        var start = Weights(policy);
        using var learner = LmAlgorithms.Create(algorithm, Context(policy), Options(algorithm));
        var metrics = learner.Train(Groups());
        foreach (var (name, value) in metrics) Assert.True(double.IsFinite(value), $"{name} = {value}");
        Assert.All(policy.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        Assert.NotEqual(start, Weights(policy));
    }

    /// <summary>Reward: the share of <see cref="Target"/> tokens in a completion.</summary>
    private static float Reward(int[] completion) => completion.Length == 0 ? 0 : completion.Count(t => t == Target) / (float)completion.Length;

    [Theory]
    [InlineData("grpo")]
    [InlineData("ppo")]
    public void Sampling_then_training_raises_the_reward_on_the_hf_model(string algorithm)
    {
        using var policy = new HfDecoderLm(Llama(layers: 1), initSeed: 5);
        var options = algorithm == "ppo"
            ? (object)new PpoOptions { LearningRate = 2e-2, CriticLearningRate = 2e-2 }
            : new GrpoOptions { LearningRate = 2e-2, GroupSize = 8, PromptsPerStep = 4 };
        using var learner = LmAlgorithms.Create(algorithm, Context(policy), options);
        using var gen = new Generator(11);
        int[][] prompts = [[5, 9, 13], [21, 3], [30, 6, 8, 1], [12]];
        var sampling = new SampleOptions { MaxNewTokens = 6 };
        var rewards = new List<double>();
        for (int step = 0; step < 20; step++)
        {
            var rows = prompts.SelectMany(p => Enumerable.Repeat(p, 8)).ToArray();
            var sample = LmSampler.Sample(policy, rows, sampling, gen, Eos, Pad);
            var groups = prompts.Select((p, i) =>
            {
                var completions = sample.Completions.Skip(i * 8).Take(8).ToArray();
                return new ScoredGroup(p, completions, completions.Select(Reward).ToArray());
            }).ToArray();
            rewards.Add(groups.Average(g => g.Rewards.Average()));
            learner.Train(groups);
        }
        double early = rewards.Take(3).Average(), late = rewards.TakeLast(3).Average();
        Assert.True(late > early + 0.5, $"{algorithm}: reward {early:F3} -> {late:F3} ({string.Join(", ", rewards.Select(r => r.ToString("F2")))})");
    }

    [Fact]
    public void Sft_lowers_the_loss_of_reference_completions_on_the_hf_model()
    {
        using var model = new HfDecoderLm(Qwen2(), initSeed: 6);
        using var sft = new SftTrainer(model, new SftOptions { Steps = 20, BatchSize = 2, LearningRate = 1e-2 }, Eos, Pad);
        int[][] prompts = [[5, 9, 13], [21, 3]];
        int[][] completions = [[7, 8, 9, Eos], [10, 11, Eos]];
        double first = sft.Step(prompts, completions), last = first;
        for (int i = 1; i < 20; i++) last = sft.Step(prompts, completions);
        Assert.True(last < first / 2, $"SFT loss {first:F3} -> {last:F3}");
    }
}
