using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace RlActors.Policies.Flow;

/// <summary>Shape of a <see cref="VelocityField"/>. Part of the checkpoint: weights only load into a model of the same shape.</summary>
public sealed record VelocityFieldConfig
{
    /// <summary>Dimension D of a sample (2 for the 2-D task).</summary>
    public int Dim { get; init; } = 2;
    /// <summary>Number of classes (prompts) the model is conditioned on.</summary>
    public int Classes { get; init; } = 4;
    /// <summary>Width of each hidden layer.</summary>
    public int Hidden { get; init; } = 128;
    /// <summary>Number of hidden layers (each Linear + SiLU), at least 1.</summary>
    public int Layers { get; init; } = 3;
    /// <summary>Sinusoidal time features F (even): sin and cos of t·ω_j with ω_j = 100^(j/(F/2 − 1)), j &lt; F/2 (1 to 100 rad per unit t).</summary>
    public int TimeFeatures { get; init; } = 16;
    /// <summary>Width of the learned class embedding.</summary>
    public int ClassEmbedding { get; init; } = 16;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid key.</summary>
    public void Validate()
    {
        if (Dim < 1) throw new ArgumentException($"flow.model.dim must be >= 1 (got {Dim})");
        if (Classes < 1) throw new ArgumentException($"flow.model.classes must be >= 1 (got {Classes})");
        if (Hidden < 1) throw new ArgumentException($"flow.model.hidden must be >= 1 (got {Hidden})");
        if (Layers < 1) throw new ArgumentException($"flow.model.layers must be >= 1 (got {Layers})");
        if (TimeFeatures < 2 || TimeFeatures % 2 != 0) throw new ArgumentException($"flow.model.time-features must be even and >= 2 (got {TimeFeatures})");
        if (ClassEmbedding < 1) throw new ArgumentException($"flow.model.class-embedding must be >= 1 (got {ClassEmbedding})");
    }

    /// <summary>Number of parameters.</summary>
    public long ParameterCount()
    {
        long input = Dim + TimeFeatures + ClassEmbedding, n = (long)Classes * ClassEmbedding;
        n += input * Hidden + Hidden;
        n += (long)(Layers - 1) * (Hidden * (long)Hidden + Hidden);
        return n + Hidden * (long)Dim + Dim;
    }
}

/// <summary>
/// The conditional velocity field for vectors (<see cref="FlowVelocityModel"/> explains the convention): an MLP on
/// [x, sinusoidal features of t, a learned embedding of class c] with SiLU activations. Field order is part of the
/// checkpoint format.
/// </summary>
public sealed class VelocityField : FlowVelocityModel
{
    private readonly Embedding classEmbed;
    private readonly ModuleList<Linear> hidden;
    private readonly Linear output;

    /// <summary>The model's shape.</summary>
    public VelocityFieldConfig Config { get; }

    /// <summary>Builds a model and initialises it from <paramref name="initSeed"/> with a private generator: Linear weights and
    /// biases U(−1/√fan_in, 1/√fan_in) (PyTorch's default scale), class embeddings N(0, 1).</summary>
    public VelocityField(VelocityFieldConfig config, long initSeed, Device? device = null) : base(nameof(VelocityField))
    {
        config.Validate();
        Config = config;
        classEmbed = Embedding(config.Classes, config.ClassEmbedding);
        int input = config.Dim + config.TimeFeatures + config.ClassEmbedding;
        hidden = new ModuleList<Linear>(Enumerable.Range(0, config.Layers)
            .Select(i => Linear(i == 0 ? input : config.Hidden, config.Hidden)).ToArray());
        output = Linear(config.Hidden, config.Dim);
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
    protected override FlowVelocityModel CreateSameShape() => new VelocityField(Config, 0);

    private void Initialise(long seed)
    {
        using var gen = new Generator((ulong)seed);
        using var _ = no_grad();
        // Tensor.normal_/uniform_ rather than nn.init: in TorchSharp 0.107 nn.init ignores its generator argument.
        classEmbed.weight!.normal_(0, 1, gen);
        foreach (var layer in hidden.Append(output))
        {
            double bound = 1.0 / Math.Sqrt(layer.weight!.shape[1]);
            layer.weight!.uniform_(-bound, bound, gen);
            layer.bias!.uniform_(-bound, bound, gen);
        }
    }

    /// <summary>The velocity v_θ(x, t, c): <paramref name="x"/> [B, D] float, <paramref name="t"/> [B] or [B, 1] float in [0, 1],
    /// <paramref name="classes"/> [B] int64. Returns [B, D].</summary>
    public override Tensor forward(Tensor x, Tensor t, Tensor classes)
    {
        using var scope = NewDisposeScope();
        var h = cat([x, TimeFeatures(t, Config.TimeFeatures, x.dtype), classEmbed.call(classes)], 1);
        foreach (var layer in hidden) h = functional.silu(layer.call(h));
        return output.call(h).MoveToOuterDisposeScope();
    }
}
