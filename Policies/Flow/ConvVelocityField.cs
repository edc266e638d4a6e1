using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace RlActors.Policies.Flow;

/// <summary>Shape of a <see cref="ConvVelocityField"/>. Part of the checkpoint.</summary>
public sealed record ConvVelocityFieldConfig
{
    /// <summary>Image side (square images; even, e.g. 14 for Fashion-MNIST at 14×14).</summary>
    public int Side { get; init; } = 14;
    /// <summary>Image channels.</summary>
    public int Channels { get; init; } = 1;
    /// <summary>Number of classes the model is conditioned on.</summary>
    public int Classes { get; init; } = 10;
    /// <summary>Channels W of the full-resolution layers (the half-resolution ones have 2W).</summary>
    public int Width { get; init; } = 32;
    /// <summary>Sinusoidal time features (even), as <see cref="VelocityFieldConfig.TimeFeatures"/>.</summary>
    public int TimeFeatures { get; init; } = 16;
    /// <summary>Width of the learned class embedding.</summary>
    public int ClassEmbedding { get; init; } = 16;

    /// <summary>D = Channels·Side², the flattened sample size.</summary>
    public int Dim => Channels * Side * Side;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid key.</summary>
    public void Validate()
    {
        if (Side < 2 || Side % 2 != 0) throw new ArgumentException($"flow.model.side must be even and >= 2 (got {Side})");
        if (Channels < 1) throw new ArgumentException($"flow.model.channels must be >= 1 (got {Channels})");
        if (Classes < 1) throw new ArgumentException($"flow.model.classes must be >= 1 (got {Classes})");
        if (Width < 1) throw new ArgumentException($"flow.model.width must be >= 1 (got {Width})");
        if (TimeFeatures < 2 || TimeFeatures % 2 != 0) throw new ArgumentException($"flow.model.time-features must be even and >= 2 (got {TimeFeatures})");
        if (ClassEmbedding < 1) throw new ArgumentException($"flow.model.class-embedding must be >= 1 (got {ClassEmbedding})");
    }
}

/// <summary>
/// A small class-conditional convolutional velocity field for images (flattened to D = C·S·S, see
/// <see cref="FlowVelocityModel"/> for the convention): a two-level U-Net. The conditioning vector
/// SiLU(Linear([time features, class embedding])) adds a per-channel bias after every convolution.
/// <code>
/// x [C,S,S] → conv W → conv W ─────────────────────────────┐ (skip)
///                       └→ conv 2W, stride 2 → conv 2W → ×2 nearest → cat → conv W → conv C (output)
/// </code>
/// 3×3 kernels, padding 1, SiLU after every convolution but the last. Field order is part of the checkpoint format.
/// </summary>
public sealed class ConvVelocityField : FlowVelocityModel
{
    private readonly Embedding classEmbed;
    private readonly Linear condition;
    private readonly Conv2d in1, in2, down1, down2, up1, outConv;
    private readonly Linear bias1, bias2, bias3, bias4, bias5;

    /// <summary>The model's shape.</summary>
    public ConvVelocityFieldConfig Config { get; }

    /// <summary>Builds a model initialised from <paramref name="initSeed"/> with a private generator: weights and biases
    /// U(−1/√fan_in, 1/√fan_in), class embeddings N(0, 1), the output convolution scaled by 0.1.</summary>
    public ConvVelocityField(ConvVelocityFieldConfig config, long initSeed, Device? device = null) : base(nameof(ConvVelocityField))
    {
        config.Validate();
        Config = config;
        int w = config.Width, c = config.Channels, cond = 4 * w;
        classEmbed = Embedding(config.Classes, config.ClassEmbedding);
        condition = Linear(config.TimeFeatures + config.ClassEmbedding, cond);
        in1 = Conv2d(c, w, 3, padding: 1);
        in2 = Conv2d(w, w, 3, padding: 1);
        down1 = Conv2d(w, 2 * w, 3, stride: 2, padding: 1);
        down2 = Conv2d(2 * w, 2 * w, 3, padding: 1);
        up1 = Conv2d(3 * w, w, 3, padding: 1);
        outConv = Conv2d(w, c, 3, padding: 1);
        bias1 = Linear(cond, w);
        bias2 = Linear(cond, w);
        bias3 = Linear(cond, 2 * w);
        bias4 = Linear(cond, 2 * w);
        bias5 = Linear(cond, w);
        RegisterComponents();
        Initialise(initSeed);
        if (device is not null && device.type != DeviceType.CPU) this.to(device);
    }

    /// <inheritdoc />
    public override int Dim => Config.Dim;
    /// <inheritdoc />
    public override int Classes => Config.Classes;
    /// <inheritdoc />
    public override string Shape => Config.ToString();
    /// <inheritdoc />
    protected override FlowVelocityModel CreateSameShape() => new ConvVelocityField(Config, 0);

    private void Initialise(long seed)
    {
        using var gen = new Generator((ulong)seed);
        using var _ = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (name.StartsWith("classEmbed")) { p.normal_(0, 1, gen); continue; }
            long fanIn = name.EndsWith("bias")
                ? named_parameters().First(q => q.name == name[..^4] + "weight").parameter.shape.Skip(1).Aggregate(1L, (a, b) => a * b)
                : p.shape.Skip(1).Aggregate(1L, (a, b) => a * b);
            double bound = 1.0 / Math.Sqrt(fanIn);
            if (name.StartsWith("outConv")) bound *= 0.1;
            p.uniform_(-bound, bound, gen);
        }
    }

    /// <summary>The velocity: <paramref name="x"/> [B, C·S·S] float, <paramref name="t"/> [B] or [B, 1], <paramref name="classes"/> [B] int64. Returns [B, C·S·S].</summary>
    public override Tensor forward(Tensor x, Tensor t, Tensor classes)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0];
        int s = Config.Side;
        var cond = functional.silu(condition.call(cat([TimeFeatures(t, Config.TimeFeatures, x.dtype), classEmbed.call(classes)], 1)));
        Tensor Bias(Linear l) => l.call(cond).unsqueeze(-1).unsqueeze(-1);
        var img = x.reshape(b, Config.Channels, s, s);
        var h1 = functional.silu(in1.call(img) + Bias(bias1));
        var skip = functional.silu(in2.call(h1) + Bias(bias2));
        var d = functional.silu(down1.call(skip) + Bias(bias3));
        d = functional.silu(down2.call(d) + Bias(bias4));
        var up = d.repeat_interleave(2, 2).repeat_interleave(2, 3);
        var u = functional.silu(up1.call(cat([up, skip], 1)) + Bias(bias5));
        return outConv.call(u).reshape(b, Config.Dim).MoveToOuterDisposeScope();
    }
}
