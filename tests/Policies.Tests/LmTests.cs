using RlActors.Policies.Lm;
using static TorchSharp.torch;
using static RlActors.Policies.Tests.TestModels;

namespace RlActors.Policies.Tests;

public class LmTests
{
    // Arithmetic-vocabulary ids (2..22 are characters); prompts of different lengths.
    private static readonly int[][] Prompts =
    [
        [20, 18, 5, 12, 7, 21],
        [20, 18, 3, 13, 9, 12, 4, 14, 6, 21],
        [20, 18, 8, 21],
        [20, 18, 2, 12, 2, 21, 7, 7],
    ];

    private static readonly int[][] Completions =
    [
        [5, 12, 7, 17, 14, 1],
        [4, 1],
        [20, 18, 9, 9, 9, 21, 1],
        [1],
    ];

    [Fact]
    public void Saved_weights_loaded_into_a_model_with_another_init_seed_give_bitwise_identical_log_probs()
    {
        using var source = new TransformerLm(Tiny(), initSeed: 11);
        using var target = new TransformerLm(Tiny(), initSeed: 12);
        var expected = LogProbs(source, Prompts, Completions);
        Assert.NotEqual(expected, LogProbs(target, Prompts, Completions)); // the seeds do matter

        target.LoadWeights(source.SaveWeights());
        Assert.Equal(expected, LogProbs(target, Prompts, Completions));
        Assert.Equal(Weights(source), Weights(target));
    }

    [Fact]
    public void The_same_init_seed_gives_the_same_weights()
    {
        using var a = new TransformerLm(Tiny(), initSeed: 5);
        using var b = new TransformerLm(Tiny(), initSeed: 5);
        Assert.Equal(Weights(a), Weights(b));
    }

    [Fact]
    public void Initialisation_follows_the_gpt2_scheme()
    {
        var config = Tiny(dModel: 32, layers: 2);
        using var model = new TransformerLm(config, initSeed: 13);
        double residualStd = 0.02 / Math.Sqrt(2.0 * config.Layers);
        foreach (var (name, p) in model.named_parameters())
        {
            var values = p.detach().cpu().data<float>().ToArray();
            if (name.Contains("ln")) Assert.All(values, v => Assert.Equal(name.EndsWith("weight") ? 1f : 0f, v));
            else if (name.EndsWith("bias")) Assert.All(values, v => Assert.Equal(0f, v));
            else
            {
                double std = Math.Sqrt(values.Average(v => (double)v * v));
                double expected = name.EndsWith("proj.weight") ? residualStd : 0.02;
                Assert.InRange(std, expected * 0.85, expected * 1.15);
            }
        }
    }

    [Fact]
    public void Copy_weights_from_makes_the_models_compute_the_same()
    {
        using var source = new TransformerLm(Tiny(), initSeed: 21);
        using var target = new TransformerLm(Tiny(), initSeed: 22);
        target.CopyWeightsFrom(source);
        Assert.Equal(LogProbs(source, Prompts, Completions), LogProbs(target, Prompts, Completions));
    }

    public static TheoryData<int, int> OtherShapes => new() { { 32, 1 }, { 16, 2 } };

    [Theory]
    [MemberData(nameof(OtherShapes))]
    public void Loading_weights_of_another_shape_throws_invalid_data(int dModel, int layers)
    {
        using var other = new TransformerLm(Tiny(dModel, layers), initSeed: 1);
        using var model = new TransformerLm(Tiny(), initSeed: 2);
        var e = Assert.Throws<InvalidDataException>(() => model.LoadWeights(other.SaveWeights()));
        Assert.Contains("DModel = 16", e.Message);
    }

    [Fact]
    public void Loading_garbage_bytes_throws_invalid_data()
    {
        using var model = new TransformerLm(Tiny(), initSeed: 2);
        Assert.Throws<InvalidDataException>(() => model.LoadWeights([1, 2, 3, 4, 5]));
    }

    [Fact]
    public void Kv_cached_greedy_sampling_matches_uncached()
    {
        using var model = new TransformerLm(Tiny(dModel: 32, layers: 2), initSeed: 3);
        var greedy = new SampleOptions { Temperature = 0, MaxNewTokens = 12 };
        var cached = LmSampler.Sample(model, Prompts, greedy with { UseKvCache = true }, null, Eos, Pad);
        var uncached = LmSampler.Sample(model, Prompts, greedy with { UseKvCache = false }, null, Eos, Pad);

        Assert.Equal(uncached.Completions, cached.Completions);
        Assert.Equal(uncached.GeneratedTokens, cached.GeneratedTokens);
        for (int r = 0; r < Prompts.Length; r++)
            for (int j = 0; j < cached.LogProbs[r].Length; j++)
                Assert.Equal(uncached.LogProbs[r][j], cached.LogProbs[r][j], 1e-5f);
        // Not a degenerate comparison: the rows generated more than one distinct token.
        Assert.True(cached.Completions.SelectMany(c => c).Distinct().Count() > 2);
    }

    [Fact]
    public void Kv_cached_sampling_with_the_same_generator_seed_matches_uncached()
    {
        using var model = new TransformerLm(Tiny(dModel: 32, layers: 2), initSeed: 4);
        var options = new SampleOptions { Temperature = 1, MaxNewTokens = 10 };
        using var g1 = new Generator(99);
        using var g2 = new Generator(99);
        var cached = LmSampler.Sample(model, Prompts, options with { UseKvCache = true }, g1, Eos, Pad);
        var uncached = LmSampler.Sample(model, Prompts, options with { UseKvCache = false }, g2, Eos, Pad);
        Assert.Equal(uncached.Completions, cached.Completions);
    }

    [Fact]
    public void Sampled_log_probs_equal_the_scored_log_probs_of_the_completion()
    {
        using var model = new TransformerLm(Tiny(), initSeed: 8);
        using var gen = new Generator(5);
        var sample = LmSampler.Sample(model, Prompts, new SampleOptions { MaxNewTokens = 8 }, gen, Eos, Pad);
        var scored = LogProbs(model, Prompts, sample.Completions);
        var mask = LmScoring.CompletionMask(sample.Completions, sample.Completions[0].Length, Eos, Pad);
        for (int r = 0; r < Prompts.Length; r++)
            for (int j = 0; j < scored[r].Length; j++)
                if (mask[r * scored[r].Length + j] > 0) Assert.Equal(scored[r][j], sample.LogProbs[r][j], 1e-5f);
    }

    [Fact]
    public void A_rows_completion_log_probs_do_not_depend_on_the_other_rows_prompt_lengths()
    {
        using var model = new TransformerLm(Tiny(dModel: 32, layers: 2), initSeed: 6);
        var batched = LogProbs(model, Prompts, Completions);
        Assert.True(Prompts.Select(p => p.Length).Distinct().Count() > 1);
        for (int r = 0; r < Prompts.Length; r++)
        {
            var alone = LogProbs(model, [Prompts[r]], [Completions[r]])[0];
            for (int j = 0; j < alone.Length; j++) Assert.Equal(alone[j], batched[r][j], 1e-5f);
        }
    }

    [Fact]
    public void Sampling_with_generators_of_the_same_seed_gives_identical_completions()
    {
        using var model = new TransformerLm(Tiny(), initSeed: 7);
        var options = new SampleOptions { MaxNewTokens = 12 };
        using var a = new Generator(1234);
        using var b = new Generator(1234);
        using var c = new Generator(1235);
        var first = LmSampler.Sample(model, Prompts, options, a, Eos, Pad);
        var second = LmSampler.Sample(model, Prompts, options, b, Eos, Pad);
        var other = LmSampler.Sample(model, Prompts, options, c, Eos, Pad);
        Assert.Equal(first.Completions, second.Completions);
        Assert.Equal(first.LogProbs, second.LogProbs);
        Assert.NotEqual(first.Completions, other.Completions);
    }

    [Fact]
    public void Restoring_a_generator_state_replays_the_same_completions()
    {
        using var model = new TransformerLm(Tiny(), initSeed: 7);
        var options = new SampleOptions { MaxNewTokens = 12 };
        using var gen = new Generator(42);
        var before = LmSampler.Sample(model, Prompts, options, gen, Eos, Pad);
        using var state = gen.get_state();
        var expected = LmSampler.Sample(model, Prompts, options, gen, Eos, Pad);
        Assert.NotEqual(before.Completions, expected.Completions); // the generator advanced

        gen.set_state(state);
        var replay = LmSampler.Sample(model, Prompts, options, gen, Eos, Pad);
        Assert.Equal(expected.Completions, replay.Completions);

        using var fresh = new Generator(7777);
        fresh.set_state(state);
        Assert.Equal(expected.Completions, LmSampler.Sample(model, Prompts, options, fresh, Eos, Pad).Completions);
    }

    [Fact]
    public void Completion_mask_covers_up_to_and_including_the_first_end_or_pad_token()
    {
        int[][] completions =
        [
            [5, 6, Eos, Pad, Pad],  // ends with EOS at 2
            [5, Pad, Pad, Pad, Pad], // ends with padding at 1
            [Eos, 7, Eos, 7, 7],    // first EOS at 0; later tokens uncovered
            [5, 6, 7, 8, 9],        // truncated: no terminal, fully covered
            [5, 6],                 // shorter than the length: only its own tokens
        ];
        var mask = LmScoring.CompletionMask(completions, 5, Eos, Pad);
        Assert.Equal(new float[]
        {
            1, 1, 1, 0, 0,
            1, 1, 0, 0, 0,
            1, 0, 0, 0, 0,
            1, 1, 1, 1, 1,
            1, 1, 0, 0, 0,
        }, mask);
    }

    [Fact]
    public void Every_generated_row_has_only_padding_after_its_end_token()
    {
        using var model = new TransformerLm(Tiny(), initSeed: 9);
        var prompts = Enumerable.Range(0, 16).Select(i => Prompts[i % Prompts.Length]).ToList();
        using var gen = new Generator(3);
        var result = LmSampler.Sample(model, prompts, new SampleOptions { MaxNewTokens = 24 }, gen, Eos, Pad);

        int length = result.Completions[0].Length;
        Assert.All(result.Completions, c => Assert.Equal(length, c.Length));
        long useful = 0;
        int endedEarly = 0;
        for (int r = 0; r < prompts.Count; r++)
        {
            var c = result.Completions[r];
            int end = Array.FindIndex(c, id => id == Eos || id == Pad);
            useful += end < 0 ? length : end + 1;
            if (end < 0) continue;
            if (end < length - 1) endedEarly++;
            for (int j = end + 1; j < length; j++)
            {
                Assert.Equal(Pad, c[j]);
                Assert.Equal(0f, result.LogProbs[r][j]);
            }
        }
        Assert.True(endedEarly > 0, "no row ended early, so the padding rule was not exercised");
        Assert.Equal(useful, result.GeneratedTokens);
        Assert.All(result.LogProbs.SelectMany(x => x), lp => Assert.True(lp <= 0));
    }

    [Fact]
    public void Sequence_batch_left_pads_prompts_and_right_pads_completions()
    {
        using var batch = SequenceBatch.Build([[5, 6, 7], [8]], [[9], [10, 11]], Pad, CPU);
        Assert.Equal(3, batch.PromptLength);
        Assert.Equal(2, batch.CompletionLength);
        Assert.Equal(new long[] { 5, 6, 7, 9, Pad, Pad, Pad, 8, 10, 11 }, batch.Tokens.data<long>().ToArray());
        Assert.Equal(new long[] { 0, 1, 2, 3, 4, 0, 0, 0, 1, 2 }, batch.Positions.data<long>().ToArray());
        Assert.Equal(new[] { true, true, true, true, true, false, false, true, true, true }, batch.KeyValid.data<bool>().ToArray());
    }
}
