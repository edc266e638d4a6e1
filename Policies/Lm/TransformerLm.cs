using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace RlActors.Policies.Lm;

/// <summary>
/// A GPT-style causal transformer language model (pre-norm blocks, learned positions, untied head).
/// Inputs are left-padded batches: each row has its own positions and a key mask, so prompts of different
/// lengths share one batch. Sampling uses a per-layer key/value cache.
/// Field order is part of the checkpoint format.
/// </summary>
public sealed class TransformerLm : Module<Tensor, Tensor>, ICausalLm
{
    private readonly Embedding tok;
    private readonly Embedding pos;
    private readonly ModuleList<Block> blocks;
    private readonly LayerNorm lnF;
    private readonly Linear head;

    /// <summary>The model's shape.</summary>
    public LmConfig Config { get; }

    /// <summary>Builds a model and initialises it from <paramref name="initSeed"/> with a private generator
    /// (GPT-2 scheme: N(0, 0.02) weights, zero biases, residual projections scaled by 1/√(2·layers)).</summary>
    public TransformerLm(LmConfig config, long initSeed, Device? device = null) : base(nameof(TransformerLm))
    {
        config.Validate();
        Config = config;
        tok = Embedding(config.VocabSize, config.DModel);
        pos = Embedding(config.Context, config.DModel);
        blocks = new ModuleList<Block>(Enumerable.Range(0, config.Layers).Select(i => new Block(config, i)).ToArray());
        lnF = LayerNorm(config.DModel);
        head = Linear(config.DModel, config.VocabSize, hasBias: false);
        RegisterComponents();
        Initialise(initSeed);
        if (device is not null && device.type != DeviceType.CPU) this.to(device);
    }

    private void Initialise(long seed)
    {
        using var gen = new Generator((ulong)seed);
        using var _ = no_grad();
        double residualStd = 0.02 / Math.Sqrt(2.0 * Config.Layers);
        foreach (var (name, p) in named_parameters())
        {
            if (name.Contains("ln")) { if (name.EndsWith("weight")) p.fill_(1.0); else p.zero_(); }
            else if (name.EndsWith("bias")) p.zero_();
            // Tensor.normal_ rather than nn.init.normal_: in TorchSharp 0.107 the latter ignores its generator
            // argument and draws from the process-wide one.
            else if (name.EndsWith("proj.weight")) p.normal_(0, residualStd, gen);
            else p.normal_(0, 0.02, gen);
        }
    }

    /// <summary>Device the parameters live on.</summary>
    public Device Device => head.weight!.device;

    /// <inheritdoc />
    public int VocabSize => Config.VocabSize;
    /// <inheritdoc />
    public int MaxLength => Config.Context;
    /// <inheritdoc />
    public int HiddenSize => Config.DModel;
    /// <inheritdoc />
    object ICausalLm.Shape => Config;
    /// <inheritdoc />
    nn.Module ICausalLm.Module => this;
    /// <inheritdoc />
    public IReadOnlyCollection<string> HeadOnlyParameters { get; } = ["head.weight"];

    /// <inheritdoc />
    public KvCache NewCache(long batch, long maxLength) =>
        new(Config.Layers, batch, Config.Heads, maxLength, Config.DModel / Config.Heads, tok.weight!.dtype, Device);

    /// <summary>A model of the same shape on the same device with a copy of these weights.</summary>
    public TransformerLm Clone()
    {
        var copy = new TransformerLm(Config, 0, Device);
        copy.CopyWeightsFrom(this);
        return copy;
    }

    ICausalLm ICausalLm.Clone() => Clone();

    /// <summary>Plain forward for right-aligned, unpadded input [B, T]: logits [B, T, V].</summary>
    public override Tensor forward(Tensor tokens)
    {
        long t = tokens.shape[1];
        using var positions = arange(t, dtype: int64, device: tokens.device).unsqueeze(0).expand(tokens.shape[0], t);
        using var keyValid = ones(tokens.shape[0], t, dtype: ScalarType.Bool, device: tokens.device);
        return Forward(tokens, positions, keyValid, null);
    }

    /// <summary>
    /// Forward pass. <paramref name="tokens"/> and <paramref name="positions"/> are [B, Tq]; <paramref name="keyValid"/>
    /// is [B, Tk] (true where a key is a real token; Tk = cached length + Tq). With a cache, the new keys and values
    /// are appended to it. Returns logits [B, Tq, V].
    /// </summary>
    public Tensor Forward(Tensor tokens, Tensor positions, Tensor keyValid, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        var logits = head.call(Trunk(tokens, positions, keyValid, cache));
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The final hidden states [B, Tq, DModel] (after the last layer norm, before the output head): what a value head
    /// reads. Same inputs as <see cref="Forward"/>, no cache.
    /// </summary>
    public Tensor HiddenStates(Tensor tokens, Tensor positions, Tensor keyValid)
    {
        using var scope = NewDisposeScope();
        return Trunk(tokens, positions, keyValid, null).MoveToOuterDisposeScope();
    }

    /// <summary>Embeddings, blocks and the final layer norm (the caller owns the dispose scope).</summary>
    private Tensor Trunk(Tensor tokens, Tensor positions, Tensor keyValid, KvCache? cache)
    {
        long tk = keyValid.shape[1];
        if (tk > Config.Context) throw new ArgumentException($"sequence of {tk} tokens exceeds model.context = {Config.Context}");
        var bias = AttentionMask.Bias(keyValid, tokens.shape[1], tok.weight!.dtype);
        var x = tok.call(tokens) + pos.call(positions);
        for (int i = 0; i < blocks.Count; i++) x = blocks[i].Forward(x, bias, cache?.Layers[i]);
        return lnF.call(x);
    }

    private int savedSize; // size of the last SaveWeights: the next one writes into a buffer of that size, no copy

    /// <summary>Serialises the weights (TorchSharp's format) into bytes.</summary>
    public byte[] SaveWeights() => Runtime.TorchBytes.SaveWeights(this, ref savedSize);

    /// <summary>Loads weights saved by <see cref="SaveWeights"/>; a checkpoint of another shape throws with both shapes named.</summary>
    public void LoadWeights(byte[] bytes) => Runtime.TorchBytes.LoadWeights(this, bytes, "policy weights", Config);

    /// <summary>Copies the weights of <paramref name="other"/> (same shape) into this model.</summary>
    public void CopyWeightsFrom(TransformerLm other) => LoadWeights(other.SaveWeights());

    /// <summary>A pre-norm transformer block.</summary>
    internal sealed class Block : Module<Tensor, Tensor>
    {
        private readonly LayerNorm ln1;
        private readonly CausalSelfAttention attn;
        private readonly LayerNorm ln2;
        private readonly Linear fc;
        private readonly Linear proj;

        public Block(LmConfig c, int index) : base($"block{index}")
        {
            ln1 = LayerNorm(c.DModel);
            attn = new CausalSelfAttention(c);
            ln2 = LayerNorm(c.DModel);
            fc = Linear(c.DModel, c.DModel * c.MlpRatio);
            proj = Linear(c.DModel * c.MlpRatio, c.DModel);
            RegisterComponents();
        }

        public Tensor Forward(Tensor x, Tensor bias, LayerCache? cache)
        {
            x = x + attn.Forward(ln1.call(x), bias, cache);
            return x + proj.call(functional.gelu(fc.call(ln2.call(x))));
        }

        public override Tensor forward(Tensor x) => throw new InvalidOperationException("use Forward(x, bias, cache)");
    }

    /// <summary>Multi-head causal self-attention with an optional key/value cache.</summary>
    internal sealed class CausalSelfAttention : Module<Tensor, Tensor>
    {
        private readonly Linear qkv;
        private readonly Linear proj;
        private readonly int heads;
        private readonly int headDim;

        public CausalSelfAttention(LmConfig c) : base("attn")
        {
            heads = c.Heads;
            headDim = c.DModel / c.Heads;
            qkv = Linear(c.DModel, 3 * c.DModel);
            proj = Linear(c.DModel, c.DModel);
            RegisterComponents();
        }

        public Tensor Forward(Tensor x, Tensor bias, LayerCache? cache)
        {
            long b = x.shape[0], t = x.shape[1], d = x.shape[2];
            var parts = qkv.call(x).view(b, t, 3, heads, headDim).permute(2, 0, 3, 1, 4); // 3, B, H, T, Dh
            var q = parts[0];
            var k = parts[1];
            var v = parts[2];
            if (cache is not null) (k, v) = cache.Append(k, v);
            var y = functional.scaled_dot_product_attention(q, k, v, attn_mask: bias);
            return proj.call(y.transpose(1, 2).reshape(b, t, d));
        }

        public override Tensor forward(Tensor x) => throw new InvalidOperationException("use Forward(x, bias, cache)");
    }
}
