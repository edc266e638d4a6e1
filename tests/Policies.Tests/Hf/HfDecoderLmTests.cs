using RlActors.Policies.Hf;
using RlActors.Policies.Lm;
using static RlActors.Policies.Tests.Hf.HfTestModels;
using static TorchSharp.torch;

namespace RlActors.Policies.Tests.Hf;

/// <summary>The Hugging Face-layout decoder: its parameter layout, KV-cached decoding, padding and dtypes.</summary>
public class HfDecoderLmTests
{
    private const int Pad = 0, Eos = 2;

    /// <summary>Left-padded batch material: rows of different lengths.</summary>
    private static readonly int[][] Prompts = [[5, 9, 13, 7, 21, 3, 30], [11, 4], [17, 17, 8, 25]];

    /// <summary>The published <c>config.json</c> of meta-llama/Llama-3.2-1B.</summary>
    internal const string Llama32_1B = """
        {
          "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
          "bos_token_id": 128000, "eos_token_id": 128001, "head_dim": 64, "hidden_act": "silu", "hidden_size": 2048,
          "initializer_range": 0.02, "intermediate_size": 8192, "max_position_embeddings": 131072, "mlp_bias": false,
          "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8,
          "pretraining_tp": 1, "rms_norm_eps": 1e-05,
          "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"},
          "rope_theta": 500000.0, "tie_word_embeddings": true, "torch_dtype": "bfloat16", "transformers_version": "4.45.0.dev0",
          "use_cache": true, "vocab_size": 128256
        }
        """;

    /// <summary>The published <c>config.json</c> of Qwen/Qwen2.5-0.5B.</summary>
    internal const string Qwen25_05B = """
        {
          "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151643,
          "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02, "intermediate_size": 4864,
          "max_position_embeddings": 32768, "max_window_layers": 24, "model_type": "qwen2", "num_attention_heads": 14,
          "num_hidden_layers": 24, "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
          "sliding_window": 32768, "tie_word_embeddings": true, "torch_dtype": "bfloat16", "transformers_version": "4.40.1",
          "use_cache": true, "use_mrope": false, "use_sliding_window": false, "vocab_size": 151936
        }
        """;

    /// <summary>The published <c>config.json</c> of Qwen/Qwen2.5-7B-Instruct (untied, sharded in 4 files).</summary>
    internal const string Qwen25_7B = """
        {
          "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151645,
          "hidden_act": "silu", "hidden_size": 3584, "initializer_range": 0.02, "intermediate_size": 18944,
          "max_position_embeddings": 32768, "max_window_layers": 28, "model_type": "qwen2", "num_attention_heads": 28,
          "num_hidden_layers": 28, "num_key_value_heads": 4, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
          "sliding_window": 131072, "tie_word_embeddings": false, "torch_dtype": "bfloat16", "transformers_version": "4.43.1",
          "use_cache": true, "use_sliding_window": false, "vocab_size": 152064
        }
        """;

    [Fact]
    public void Parameters_carry_transformers_names_and_shapes_in_state_dict_order()
    {
        foreach (var config in new[] { Llama(), Qwen2(), Llama(tied: true) with { AttentionBias = true, MlpBias = true } })
        {
            using var model = new HfDecoderLm(config, initSeed: 1);
            var actual = model.named_parameters().Select(p => (p.name, string.Join("x", p.parameter.shape))).ToArray();
            var expected = HfDecoderLm.ExpectedTensors(config).Select(e => (e.Name, string.Join("x", e.Shape))).ToArray();
            Assert.Equal(expected, actual);
            Assert.Equal(config.ParameterCount(), model.parameters().Sum(p => p.NumberOfElements));
        }
        var qwen = HfDecoderLm.ExpectedTensors(Qwen2()).Select(e => e.Name).ToArray();
        Assert.Contains("model.layers.1.self_attn.k_proj.bias", qwen);
        Assert.DoesNotContain("model.layers.1.self_attn.o_proj.bias", qwen);
        Assert.DoesNotContain("lm_head.weight", qwen);
        var llama = HfDecoderLm.ExpectedTensors(Llama()).Select(e => e.Name).ToArray();
        Assert.DoesNotContain("model.layers.0.self_attn.q_proj.bias", llama);
        Assert.Equal("lm_head.weight", llama[^1]);
    }

    [Fact]
    public void The_published_llama_and_qwen2_configs_give_their_published_tensor_layouts_and_parameter_counts()
    {
        // Llama-3.2-1B: 16 layers x 9 tensors + embeddings + final norm, tied head; 1,235,814,400 parameters.
        var llama = HfConfig.Parse(Llama32_1B);
        var l = HfDecoderLm.ExpectedTensors(llama).ToDictionary(e => e.Name, e => e.Shape);
        Assert.Equal(146, l.Count);
        Assert.Equal(1_235_814_400, llama.ParameterCount());
        Assert.Equal([128256L, 2048], l["model.embed_tokens.weight"]);
        Assert.Equal([2048L, 2048], l["model.layers.15.self_attn.q_proj.weight"]);
        Assert.Equal([512L, 2048], l["model.layers.15.self_attn.k_proj.weight"]);
        Assert.Equal([512L, 2048], l["model.layers.0.self_attn.v_proj.weight"]);
        Assert.Equal([2048L, 2048], l["model.layers.0.self_attn.o_proj.weight"]);
        Assert.Equal([8192L, 2048], l["model.layers.3.mlp.gate_proj.weight"]);
        Assert.Equal([8192L, 2048], l["model.layers.3.mlp.up_proj.weight"]);
        Assert.Equal([2048L, 8192], l["model.layers.3.mlp.down_proj.weight"]);
        Assert.Equal([2048L], l["model.layers.7.input_layernorm.weight"]);
        Assert.Equal([2048L], l["model.layers.7.post_attention_layernorm.weight"]);
        Assert.Equal([2048L], l["model.norm.weight"]);
        Assert.False(l.ContainsKey("lm_head.weight"));
        Assert.Equal(new RopeScaling("llama3", 32, 1, 4, 8192), llama.RopeScaling);
        Assert.Equal((500000.0, 1e-5, 128000, 128001), (llama.RopeTheta, llama.RmsNormEps, llama.BosTokenId!.Value, llama.EosTokenIds[0]));

        // Qwen2.5-0.5B: 24 layers x 12 tensors (q/k/v biases) + 2, tied; 494,032,768 parameters.
        var qwen = HfConfig.Parse(Qwen25_05B);
        var q = HfDecoderLm.ExpectedTensors(qwen).ToDictionary(e => e.Name, e => e.Shape);
        Assert.Equal(290, q.Count);
        Assert.Equal(494_032_768, qwen.ParameterCount());
        Assert.Equal([896L, 896], q["model.layers.0.self_attn.q_proj.weight"]);
        Assert.Equal([896L], q["model.layers.0.self_attn.q_proj.bias"]);
        Assert.Equal([128L, 896], q["model.layers.23.self_attn.k_proj.weight"]);
        Assert.Equal([128L], q["model.layers.23.self_attn.v_proj.bias"]);
        Assert.Equal([896L, 4864], q["model.layers.23.mlp.down_proj.weight"]);
        Assert.Equal([151936L, 896], q["model.embed_tokens.weight"]);
        Assert.False(q.ContainsKey("model.layers.0.self_attn.o_proj.bias"));

        // Qwen2.5-7B-Instruct: untied, so lm_head.weight is the 339th tensor; 7,615,616,512 parameters.
        var big = HfConfig.Parse(Qwen25_7B);
        var b = HfDecoderLm.ExpectedTensors(big).ToDictionary(e => e.Name, e => e.Shape);
        Assert.Equal(339, b.Count);
        Assert.Equal(7_615_616_512, big.ParameterCount());
        Assert.Equal([152064L, 3584], b["lm_head.weight"]);
        Assert.Equal([512L, 3584], b["model.layers.27.self_attn.k_proj.weight"]);
    }

    [Fact]
    public void A_config_json_round_trips_and_keeps_keys_it_does_not_model()
    {
        var llama = HfConfig.Parse(Llama32_1B);
        var json = llama.ToJson("float32");
        Assert.Equal("float32", (string)json["torch_dtype"]!);
        Assert.Equal("4.45.0.dev0", (string)json["transformers_version"]!);
        Assert.Equal("LlamaForCausalLM", (string)json["architectures"]![0]!);
        var back = HfConfig.Parse(json.ToJsonString());
        Assert.Equal(llama with { Source = null, TorchDtype = "float32" }, back with { Source = null });
    }

    [Theory]
    [InlineData("""{"model_type": "gpt2", "hidden_size": 8}""", "model_type 'gpt2' is not supported (supported: llama, qwen2)")]
    [InlineData("""{"model_type": "llama", "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1}""", "num_attention_heads is missing")]
    [InlineData("""{"model_type": "llama", "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 3}""", "num_key_value_heads = 3 must divide num_attention_heads = 4")]
    [InlineData("""{"model_type": "llama", "hidden_size": "8", "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 4}""", "hidden_size must be a whole number (got \"8\")")]
    [InlineData("""{"model_type": "qwen2", "use_sliding_window": true, "num_attention_heads": 4}""", "use_sliding_window = true is not supported")]
    [InlineData("""{"model_type": "llama", "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 4, "rope_scaling": {"rope_type": "yarn", "factor": 4}}""", "rope_scaling type 'yarn' is not supported")]
    [InlineData("""{"model_type": "llama", "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 10, "eos_token_id": [2, 12]}""", "eos_token_id = 12 is outside the vocabulary")]
    [InlineData("""{"model_type": "llama", "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 4, "hidden_act": "gelu"}""", "hidden_act 'gelu' is not supported")]
    [InlineData("""{"model_type": "llama",""", "not valid JSON")]
    public void A_bad_config_json_is_one_error_naming_the_file_and_the_key(string json, string expected)
    {
        var e = Assert.Throws<InvalidDataException>(() => HfConfig.Parse(json, "/models/x/config.json"));
        Assert.StartsWith("/models/x/config.json: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Kv_cached_decoding_gives_the_logits_of_full_recomputation_with_gqa_and_left_padding()
    {
        foreach (var config in new[] { Llama(), Qwen2() })
        {
            using var model = new HfDecoderLm(config, initSeed: 3);
            model.eval();
            using var _ = no_grad();
            using var batch = SequenceBatch.Build(Prompts, null, Pad, model.Device);
            int steps = 8, b = Prompts.Length, lp = batch.PromptLength;
            using var cache = model.NewCache(b, lp + steps);
            var tokens = batch.Tokens.clone();
            var positions = batch.Positions.clone();
            var valid = batch.KeyValid.clone();
            var input = tokens;
            var inputPos = positions;
            double worst = 0;
            for (int s = 0; s < steps; s++)
            {
                using var full = model.Forward(tokens, positions, valid, null).select(1, -1);
                using var step = model.Forward(input, inputPos, valid, cache).select(1, -1);
                worst = Math.Max(worst, (full - step).abs().max().item<float>());
                // Feed the greedy token of the full pass to both.
                var next = full.argmax(-1).unsqueeze(1);
                var nextPos = positions.select(1, -1).unsqueeze(1) + 1;
                tokens = cat([tokens, next], 1);
                positions = cat([positions, nextPos], 1);
                valid = cat([valid, ones(b, 1, dtype: ScalarType.Bool)], 1);
                input = next;
                inputPos = nextPos;
            }
            Assert.Equal(lp + steps - 1, cache.Layers[0].Length);
            Assert.InRange(worst, 0, 1e-5);
        }
    }

    [Fact]
    public void A_left_padded_row_gets_the_logits_it_gets_alone()
    {
        using var model = new HfDecoderLm(Llama(), initSeed: 4);
        using var _ = no_grad();
        using var batch = SequenceBatch.Build(Prompts, null, Pad, model.Device);
        using var logits = model.Forward(batch.Tokens, batch.Positions, batch.KeyValid, null);
        for (int r = 0; r < Prompts.Length; r++)
        {
            using var alone = model.Forward(tensor(Prompts[r].Select(x => (long)x).ToArray(), new long[] { 1, Prompts[r].Length }));
            int offset = batch.PromptLength - Prompts[r].Length;
            using var padded = logits[r].narrow(0, offset, Prompts[r].Length);
            Assert.InRange((padded - alone[0]).abs().max().item<float>(), 0, 1e-5);
        }
    }

    [Fact]
    public void Cached_and_uncached_sampling_draw_the_same_completions()
    {
        using var model = new HfDecoderLm(Qwen2(), initSeed: 5);
        var options = new SampleOptions { Temperature = 1, MaxNewTokens = 10 };
        using var g1 = new Generator(7);
        using var g2 = new Generator(7);
        var cached = LmSampler.Sample(model, Prompts, options, g1, Eos, Pad);
        var uncached = LmSampler.Sample(model, Prompts, options with { UseKvCache = false }, g2, Eos, Pad);
        Assert.Equal(uncached.Completions, cached.Completions);
        for (int r = 0; r < Prompts.Length; r++)
            for (int j = 0; j < cached.LogProbs[r].Length; j++) Assert.Equal(uncached.LogProbs[r][j], cached.LogProbs[r][j], 1e-5f);
        Assert.True(cached.Completions.SelectMany(c => c).Distinct().Count() > 3);
    }

    [Fact]
    public void The_same_seed_gives_the_same_model_and_another_seed_another()
    {
        using var a = new HfDecoderLm(Llama(), initSeed: 8);
        using var b = new HfDecoderLm(Llama(), initSeed: 8);
        using var c = new HfDecoderLm(Llama(), initSeed: 9);
        Assert.Equal(TestModels.Weights(a), TestModels.Weights(b));
        Assert.NotEqual(TestModels.Weights(a), TestModels.Weights(c));
        Assert.Equal(a.SaveWeights(), b.SaveWeights());
    }

    [Fact]
    public void Weights_bytes_and_clones_reproduce_the_model_exactly_and_refuse_another_shape()
    {
        using var source = new HfDecoderLm(Llama(), initSeed: 10);
        using var target = new HfDecoderLm(Llama(), initSeed: 11);
        target.LoadWeights(source.SaveWeights());
        Assert.Equal(TestModels.Weights(source), TestModels.Weights(target));
        using var receiver = HfDecoderLm.ForWeights(Llama());
        receiver.LoadWeights(source.SaveWeights());
        Assert.Equal(TestModels.Weights(source), TestModels.Weights(receiver));
        using var clone = source.Clone();
        Assert.Equal(TestModels.Weights(source), TestModels.Weights(clone));
        using var other = new HfDecoderLm(Llama(layers: 1), initSeed: 1);
        var e = Assert.Throws<InvalidDataException>(() => other.LoadWeights(source.SaveWeights()));
        Assert.Contains("policy weights do not fit a model of shape llama (hidden 32, layers 1", e.Message);
    }

    [Fact]
    public void A_bfloat16_model_keeps_bfloat16_weights_and_cache_and_returns_float32_logits_close_to_float32()
    {
        using var f32 = new HfDecoderLm(Llama(), initSeed: 12);
        using var bf16 = new HfDecoderLm(Llama(), initSeed: 12, ScalarType.BFloat16);
        Assert.All(bf16.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        using var cache = bf16.NewCache(1, 4);
        using var _ = no_grad();
        var tokens = tensor(new long[] { 3, 9, 27, 4 }, new long[] { 1, 4 });
        using var lf = f32.Forward(tokens);
        using var lb = bf16.Forward(tokens);
        Assert.Equal(ScalarType.Float32, lb.dtype);
        Assert.InRange((lf - lb).abs().max().item<float>(), 0, 0.05);
    }

    [Fact]
    public void A_sequence_longer_than_max_position_embeddings_is_refused()
    {
        using var model = new HfDecoderLm(Llama() with { MaxPositionEmbeddings = 8 }, initSeed: 1);
        var e = Assert.Throws<ArgumentException>(() => model.Forward(zeros(1, 9, dtype: ScalarType.Int64)));
        Assert.Contains("exceeds max_position_embeddings = 8", e.Message);
    }
}
