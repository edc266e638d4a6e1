using RlActors.Policies.Lm;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RlActors.Policies.Hf;

/// <summary>
/// A decoder-only language model of the Llama / Qwen2 family, configured by an <see cref="HfConfig"/> and following
/// transformers' <c>modeling_llama.py</c> / <c>modeling_qwen2.py</c>: token embeddings, pre-norm layers of RMSNorm →
/// grouped-query self-attention with rotary position embeddings (the rotate-half convention: the first and second
/// halves of each head are the pairs) → residual, RMSNorm → SwiGLU MLP (down(silu(gate(x)) · up(x))) → residual, a
/// final RMSNorm and an output head (the embedding matrix when tied). Qwen2 adds biases to q, k and v.
/// Parameters carry the Hugging Face names (<c>model.embed_tokens.weight</c>, <c>model.layers.N.self_attn.q_proj.weight</c>,
/// ..., <c>model.norm.weight</c>, <c>lm_head.weight</c>), so a checkpoint's tensors map one to one
/// (<see cref="HfCheckpoint"/>). Inputs are the left-padded batches of <see cref="SequenceBatch"/>; the key/value cache
/// keeps the key/value heads (after rotation), not the repeated ones.
/// </summary>
public sealed class HfDecoderLm : nn.Module, ICausalLm
{
    private readonly Backbone backbone;
    private readonly HfLinear? lmHead;
    private readonly Tensor invFreq; // [head_dim / 2] float32, on the model's device; not a parameter (as in transformers)

    /// <summary>The model's shape.</summary>
    public HfConfig Config { get; }

    /// <summary>Dtype of the parameters (and of the key/value cache); logits and hidden states are returned in float32.</summary>
    public ScalarType DType { get; }

    /// <summary>
    /// A freshly initialised model (transformers' scheme: weights N(0, initializer_range), biases 0, norms 1), drawn from
    /// a private generator seeded with <paramref name="initSeed"/>, so the same seed gives the same weights in every dtype.
    /// </summary>
    public HfDecoderLm(HfConfig config, long initSeed, ScalarType dtype = ScalarType.Float32, Device? device = null)
        : this(config, dtype, device ?? CPU)
    {
        Initialise(initSeed);
    }

    /// <summary>
    /// A model whose parameters are left uninitialised, for weights that arrive next (<see cref="LoadWeights"/>, as a sampler
    /// receives them): no random draw, so building even a large model is cheap.
    /// </summary>
    public static HfDecoderLm ForWeights(HfConfig config, ScalarType dtype = ScalarType.Float32, Device? device = null) =>
        new(config, dtype, device ?? CPU);

    /// <summary>A model with uninitialised parameters, to be filled by a checkpoint or a copy.</summary>
    internal HfDecoderLm(HfConfig config, ScalarType dtype, Device device) : base(nameof(HfDecoderLm))
    {
        config.Validate();
        HfConfig.DtypeName(dtype);
        Config = config;
        DType = dtype;
        backbone = new Backbone(config, dtype, device);
        register_module("model", backbone);
        if (!config.TieWordEmbeddings)
        {
            lmHead = new HfLinear(config.HiddenSize, config.VocabSize, false, dtype, device);
            register_module("lm_head", lmHead);
        }
        invFreq = InverseFrequencies(config).to(device);
    }

    /// <summary>
    /// Every tensor a checkpoint of <paramref name="config"/> holds, with its shape, in registration order: the names and
    /// shapes of transformers' <c>LlamaForCausalLM</c> / <c>Qwen2ForCausalLM</c> state dicts (tied models have no <c>lm_head.weight</c>).
    /// </summary>
    public static IReadOnlyList<(string Name, long[] Shape)> ExpectedTensors(HfConfig config)
    {
        long h = config.HiddenSize, q = (long)config.NumAttentionHeads * config.HeadDimension, kv = (long)config.NumKeyValueHeads * config.HeadDimension;
        long i = config.IntermediateSize;
        var list = new List<(string, long[])> { ("model.embed_tokens.weight", [config.VocabSize, h]) };
        for (int n = 0; n < config.NumHiddenLayers; n++)
        {
            string p = $"model.layers.{n}.";
            list.Add((p + "self_attn.q_proj.weight", [q, h]));
            if (config.QkvBias) list.Add((p + "self_attn.q_proj.bias", [q]));
            list.Add((p + "self_attn.k_proj.weight", [kv, h]));
            if (config.QkvBias) list.Add((p + "self_attn.k_proj.bias", [kv]));
            list.Add((p + "self_attn.v_proj.weight", [kv, h]));
            if (config.QkvBias) list.Add((p + "self_attn.v_proj.bias", [kv]));
            list.Add((p + "self_attn.o_proj.weight", [h, q]));
            if (config.OutputBias) list.Add((p + "self_attn.o_proj.bias", [h]));
            list.Add((p + "mlp.gate_proj.weight", [i, h]));
            if (config.MlpBiases) list.Add((p + "mlp.gate_proj.bias", [i]));
            list.Add((p + "mlp.up_proj.weight", [i, h]));
            if (config.MlpBiases) list.Add((p + "mlp.up_proj.bias", [i]));
            list.Add((p + "mlp.down_proj.weight", [h, i]));
            if (config.MlpBiases) list.Add((p + "mlp.down_proj.bias", [h]));
            list.Add((p + "input_layernorm.weight", [h]));
            list.Add((p + "post_attention_layernorm.weight", [h]));
        }
        list.Add(("model.norm.weight", [h]));
        if (!config.TieWordEmbeddings) list.Add(("lm_head.weight", [config.VocabSize, h]));
        return list;
    }

    /// <summary>
    /// RoPE inverse frequencies θ^(−2j/d) for j &lt; d/2 (d = head_dim), computed in float32 as transformers does, with the
    /// config's <c>rope_scaling</c> applied (linear: ÷ factor; llama3: low frequencies ÷ factor, a smooth blend in between).
    /// </summary>
    public static Tensor InverseFrequencies(HfConfig config)
    {
        int d = config.HeadDimension;
        using var scope = NewDisposeScope();
        var exponents = arange(0, d, 2, dtype: ScalarType.Int64).to_type(ScalarType.Float32) / d;
        var inv = 1.0 / pow(tensor((float)config.RopeTheta), exponents);
        switch (config.RopeScaling)
        {
            case { Type: "linear" } r:
                inv = inv / r.Factor;
                break;
            case { Type: "llama3" } r:
            {
                double lowWavelen = r.OriginalMaxPositionEmbeddings / r.LowFreqFactor;
                double highWavelen = r.OriginalMaxPositionEmbeddings / r.HighFreqFactor;
                var wavelen = 2 * Math.PI / inv;
                var scaled = where(wavelen.gt(lowWavelen), inv / r.Factor, inv);
                var smooth = (r.OriginalMaxPositionEmbeddings / wavelen - r.LowFreqFactor) / (r.HighFreqFactor - r.LowFreqFactor);
                var smoothed = (1 - smooth) * scaled / r.Factor + smooth * scaled;
                var medium = wavelen.lt(highWavelen).logical_not().logical_and(wavelen.gt(lowWavelen).logical_not());
                inv = where(medium, smoothed, scaled);
                break;
            }
        }
        return inv.to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    private void Initialise(long seed)
    {
        using var gen = new Generator((ulong)seed);
        using var _ = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("layernorm.weight") || name == "model.norm.weight") p.fill_(1.0);
            else if (name.EndsWith(".bias")) p.zero_();
            else
            {
                // Drawn in float32 and converted, so a seed gives the same model in every dtype.
                using var draw = empty(p.shape, dtype: ScalarType.Float32).normal_(0, Config.InitializerRange, gen);
                p.copy_(draw);
            }
        }
    }

    /// <inheritdoc />
    public Device Device => backbone.EmbedTokens.weight.device;
    /// <inheritdoc />
    public int VocabSize => Config.VocabSize;
    /// <inheritdoc />
    public int MaxLength => Config.MaxPositionEmbeddings;
    /// <inheritdoc />
    public int HiddenSize => Config.HiddenSize;
    /// <inheritdoc />
    object ICausalLm.Shape => Config;
    /// <inheritdoc />
    nn.Module ICausalLm.Module => this;
    /// <inheritdoc />
    public IReadOnlyCollection<string> HeadOnlyParameters => Config.TieWordEmbeddings ? [] : ["lm_head.weight"];

    /// <inheritdoc />
    public KvCache NewCache(long batch, long maxLength) =>
        new(Config.NumHiddenLayers, batch, Config.NumKeyValueHeads, maxLength, Config.HeadDimension, DType, Device);

    /// <inheritdoc />
    public Tensor Forward(Tensor tokens, Tensor positions, Tensor keyValid, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        var hidden = Trunk(tokens, positions, keyValid, cache);
        var logits = lmHead is null ? nn.functional.linear(hidden, backbone.EmbedTokens.weight) : lmHead.call(hidden);
        return logits.to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public Tensor HiddenStates(Tensor tokens, Tensor positions, Tensor keyValid)
    {
        using var scope = NewDisposeScope();
        return Trunk(tokens, positions, keyValid, null).to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>Logits [B, T, V] of right-aligned, unpadded input [B, T] (positions 0..T−1).</summary>
    public Tensor Forward(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        long t = tokens.shape[1];
        var positions = arange(t, dtype: ScalarType.Int64, device: tokens.device).unsqueeze(0).expand(tokens.shape[0], t);
        var keyValid = ones(tokens.shape[0], t, dtype: ScalarType.Bool, device: tokens.device);
        return Forward(tokens, positions, keyValid, null).MoveToOuterDisposeScope();
    }

    /// <summary>Embeddings, layers and the final norm, in the parameter dtype (the caller owns the dispose scope).</summary>
    private Tensor Trunk(Tensor tokens, Tensor positions, Tensor keyValid, KvCache? cache)
    {
        long tk = keyValid.shape[1];
        if (tk > Config.MaxPositionEmbeddings)
            throw new ArgumentException($"sequence of {tk} tokens exceeds max_position_embeddings = {Config.MaxPositionEmbeddings}");
        var bias = AttentionMask.Bias(keyValid, tokens.shape[1], DType);
        // cos/sin [B, 1, Tq, head_dim] in float32 (as transformers computes them), then in the parameter dtype.
        var freqs = positions.to_type(ScalarType.Float32).unsqueeze(-1) * invFreq;
        var angles = cat([freqs, freqs], -1).unsqueeze(1);
        var cos = angles.cos().to_type(DType);
        var sin = angles.sin().to_type(DType);
        var x = backbone.EmbedTokens.call(tokens);
        for (int i = 0; i < backbone.Layers.Count; i++) x = backbone.Layers[i].Forward(x, cos, sin, bias, cache?.Layers[i]);
        return backbone.Norm.call(x);
    }

    private int savedSize; // size of the last SaveWeights: the next one writes into a buffer of that size, no copy

    /// <inheritdoc />
    public byte[] SaveWeights() => Runtime.TorchBytes.SaveWeights(this, ref savedSize);

    /// <inheritdoc />
    public void LoadWeights(byte[] bytes) => Runtime.TorchBytes.LoadWeights(this, bytes, "policy weights", Config);

    /// <summary>A model of the same shape, dtype and device with a copy of these weights.</summary>
    public HfDecoderLm Clone()
    {
        var copy = new HfDecoderLm(Config, DType, Device);
        copy.CopyWeightsFrom(this);
        return copy;
    }

    ICausalLm ICausalLm.Clone() => Clone();

    /// <summary>Copies the parameters of <paramref name="other"/> (same config) into this model, converting the dtype if they differ.</summary>
    public void CopyWeightsFrom(HfDecoderLm other)
    {
        var source = other.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using var _ = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (!source.TryGetValue(name, out var s) || !s.shape.SequenceEqual(p.shape))
                throw new ArgumentException($"cannot copy weights of {other.Config} into {Config}: tensor {name} differs");
            p.copy_(s);
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) invFreq.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>The <c>model.</c> part: embeddings, layers, final norm.</summary>
    private sealed class Backbone : nn.Module
    {
        public HfEmbedding EmbedTokens { get; }
        public ModuleList<DecoderLayer> Layers { get; }
        public RmsNorm Norm { get; }

        public Backbone(HfConfig c, ScalarType dtype, Device device) : base("model")
        {
            EmbedTokens = new HfEmbedding(c.VocabSize, c.HiddenSize, dtype, device);
            Layers = new ModuleList<DecoderLayer>(Enumerable.Range(0, c.NumHiddenLayers).Select(_ => new DecoderLayer(c, dtype, device)).ToArray());
            Norm = new RmsNorm(c.HiddenSize, c.RmsNormEps, dtype, device);
            register_module("embed_tokens", EmbedTokens);
            register_module("layers", Layers);
            register_module("norm", Norm);
        }
    }

    /// <summary>One decoder layer: <c>self_attn</c>, <c>mlp</c>, <c>input_layernorm</c>, <c>post_attention_layernorm</c>.</summary>
    private sealed class DecoderLayer : nn.Module
    {
        private readonly Attention selfAttn;
        private readonly Mlp mlp;
        private readonly RmsNorm inputNorm;
        private readonly RmsNorm postAttentionNorm;

        public DecoderLayer(HfConfig c, ScalarType dtype, Device device) : base("layer")
        {
            selfAttn = new Attention(c, dtype, device);
            mlp = new Mlp(c, dtype, device);
            inputNorm = new RmsNorm(c.HiddenSize, c.RmsNormEps, dtype, device);
            postAttentionNorm = new RmsNorm(c.HiddenSize, c.RmsNormEps, dtype, device);
            register_module("self_attn", selfAttn);
            register_module("mlp", mlp);
            register_module("input_layernorm", inputNorm);
            register_module("post_attention_layernorm", postAttentionNorm);
        }

        public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor bias, LayerCache? cache)
        {
            x = x + selfAttn.Forward(inputNorm.call(x), cos, sin, bias, cache);
            return x + mlp.call(postAttentionNorm.call(x));
        }
    }

    /// <summary>Grouped-query self-attention with rotary embeddings: <c>q_proj</c>, <c>k_proj</c>, <c>v_proj</c>, <c>o_proj</c>.</summary>
    private sealed class Attention : nn.Module
    {
        private readonly HfLinear qProj, kProj, vProj, oProj;
        private readonly int heads, kvHeads, headDim;

        public Attention(HfConfig c, ScalarType dtype, Device device) : base("self_attn")
        {
            heads = c.NumAttentionHeads;
            kvHeads = c.NumKeyValueHeads;
            headDim = c.HeadDimension;
            qProj = new HfLinear(c.HiddenSize, heads * headDim, c.QkvBias, dtype, device);
            kProj = new HfLinear(c.HiddenSize, kvHeads * headDim, c.QkvBias, dtype, device);
            vProj = new HfLinear(c.HiddenSize, kvHeads * headDim, c.QkvBias, dtype, device);
            oProj = new HfLinear(heads * headDim, c.HiddenSize, c.OutputBias, dtype, device);
            register_module("q_proj", qProj);
            register_module("k_proj", kProj);
            register_module("v_proj", vProj);
            register_module("o_proj", oProj);
        }

        public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor bias, LayerCache? cache)
        {
            long b = x.shape[0], t = x.shape[1];
            var q = qProj.call(x).view(b, t, heads, headDim).transpose(1, 2);   // B, H, T, Dh
            var k = kProj.call(x).view(b, t, kvHeads, headDim).transpose(1, 2); // B, Hkv, T, Dh
            var v = vProj.call(x).view(b, t, kvHeads, headDim).transpose(1, 2);
            q = q * cos + RotateHalf(q) * sin;
            k = k * cos + RotateHalf(k) * sin;
            if (cache is not null) (k, v) = cache.Append(k, v);
            Tensor y;
            if (kvHeads == heads) y = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: bias);
            else
            {
                // Grouped-query attention without a copy of the keys and values per query head (what transformers'
                // repeat_kv makes): the r query heads of a group (heads g·r .. g·r + r − 1 share key/value head g) become
                // r·Tq query rows of that group, each row keeping its position's mask. Same numbers, no K/V copy.
                int r = heads / kvHeads;
                long tk = k.shape[2];
                var grouped = q.reshape(b, kvHeads, r * t, headDim);
                var groupedBias = bias.unsqueeze(2).expand(b, 1, r, t, tk).reshape(b, 1, r * t, tk);
                y = nn.functional.scaled_dot_product_attention(grouped, k, v, attn_mask: groupedBias).view(b, heads, t, headDim);
            }
            return oProj.call(y.transpose(1, 2).reshape(b, t, heads * headDim));
        }

        /// <summary>(x1, x2) → (−x2, x1) over the two halves of the last dimension.</summary>
        private static Tensor RotateHalf(Tensor x)
        {
            long half = x.shape[^1] / 2;
            return cat([-x.narrow(-1, half, half), x.narrow(-1, 0, half)], -1);
        }
    }

    /// <summary>SwiGLU: <c>down_proj(silu(gate_proj(x)) · up_proj(x))</c>.</summary>
    private sealed class Mlp : nn.Module<Tensor, Tensor>
    {
        private readonly HfLinear gateProj, upProj, downProj;

        public Mlp(HfConfig c, ScalarType dtype, Device device) : base("mlp")
        {
            gateProj = new HfLinear(c.HiddenSize, c.IntermediateSize, c.MlpBiases, dtype, device);
            upProj = new HfLinear(c.HiddenSize, c.IntermediateSize, c.MlpBiases, dtype, device);
            downProj = new HfLinear(c.IntermediateSize, c.HiddenSize, c.MlpBiases, dtype, device);
            register_module("gate_proj", gateProj);
            register_module("up_proj", upProj);
            register_module("down_proj", downProj);
        }

        public override Tensor forward(Tensor x) => downProj.call(nn.functional.silu(gateProj.call(x)) * upProj.call(x));
    }
}

/// <summary>y = x·Wᵀ + b with parameters <c>weight</c> [out, in] and optional <c>bias</c> [out], created empty (no global random draw).</summary>
internal sealed class HfLinear : nn.Module<Tensor, Tensor>
{
    public Parameter weight { get; }
    public Parameter? bias { get; }

    public HfLinear(long inFeatures, long outFeatures, bool hasBias, ScalarType dtype, Device device) : base("linear")
    {
        weight = new Parameter(empty(new[] { outFeatures, inFeatures }, dtype: dtype, device: device));
        register_parameter("weight", weight);
        if (hasBias)
        {
            bias = new Parameter(zeros(new[] { outFeatures }, dtype: dtype, device: device));
            register_parameter("bias", bias);
        }
    }

    public override Tensor forward(Tensor x) => nn.functional.linear(x, weight, bias);
}

/// <summary>Token embeddings: parameter <c>weight</c> [vocab, hidden], rows picked by id.</summary>
internal sealed class HfEmbedding : nn.Module<Tensor, Tensor>
{
    public Parameter weight { get; }

    public HfEmbedding(long vocab, long hidden, ScalarType dtype, Device device) : base("embed_tokens")
    {
        weight = new Parameter(empty(new[] { vocab, hidden }, dtype: dtype, device: device));
        register_parameter("weight", weight);
    }

    public override Tensor forward(Tensor ids)
    {
        var shape = ids.shape.Append(weight.shape[1]).ToArray();
        return weight.index_select(0, ids.reshape(-1)).view(shape);
    }
}

/// <summary>
/// RMSNorm as transformers computes it: in float32, x · rsqrt(mean(x²) + ε), back to the input dtype, times <c>weight</c>.
/// </summary>
internal sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    public Parameter weight { get; }
    private readonly double eps;

    public RmsNorm(long hidden, double eps, ScalarType dtype, Device device) : base("norm")
    {
        this.eps = eps;
        weight = new Parameter(ones(new[] { hidden }, dtype: dtype, device: device));
        register_parameter("weight", weight);
    }

    public override Tensor forward(Tensor x)
    {
        var dtype = x.dtype;
        var h = x.to_type(ScalarType.Float32);
        var variance = h.pow(2).mean([-1L], keepdim: true);
        h = h * rsqrt(variance + eps);
        return weight * h.to_type(dtype);
    }
}
