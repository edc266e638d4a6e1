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
/// A conditional velocity field v_θ(x, t, c) for flow matching on vectors: an MLP on [x, sinusoidal features of t,
/// a learned embedding of class c] with SiLU activations. Convention (rectified flow, as in Flow-GRPO):
/// x_t = (1 − t)·x_0 + t·ε with data x_0 at t = 0 and noise ε ~ N(0, I) at t = 1, and v = dx_t/dt = ε − x_0; sampling
/// integrates from t = 1 to t = 0 with Δt &lt; 0. Field order is part of the checkpoint format.
/// </summary>
public sealed class VelocityField : Module<Tensor, Tensor, Tensor, Tensor>
{
    private readonly Embedding classEmbed;
    private readonly ModuleList<Linear> hidden;
    private readonly Linear output;
    private readonly float[] frequencies; // ω_j, a constant (not a parameter, not saved)

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
        int half = config.TimeFeatures / 2;
        frequencies = Enumerable.Range(0, half).Select(j => half == 1 ? 1f : (float)Math.Pow(100.0, (double)j / (half - 1))).ToArray();
        Initialise(initSeed);
        if (device is not null && device.type != DeviceType.CPU) this.to(device);
    }

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

    /// <summary>Device the parameters live on.</summary>
    public Device Device => output.weight!.device;

    /// <summary>The velocity v_θ(x, t, c): <paramref name="x"/> [B, D] float, <paramref name="t"/> [B] or [B, 1] float in [0, 1],
    /// <paramref name="classes"/> [B] int64. Returns [B, D].</summary>
    public override Tensor forward(Tensor x, Tensor t, Tensor classes)
    {
        using var scope = NewDisposeScope();
        var angles = t.reshape(-1, 1).to_type(x.dtype) * tensor(frequencies, dtype: x.dtype, device: x.device).unsqueeze(0);
        var h = cat([x, angles.sin(), angles.cos(), classEmbed.call(classes)], 1);
        foreach (var layer in hidden) h = functional.silu(layer.call(h));
        return output.call(h).MoveToOuterDisposeScope();
    }

    private int savedSize; // size of the last SaveWeights: the next one writes into a buffer of that size

    /// <summary>Serialises the weights (TorchSharp's format) into bytes.</summary>
    public byte[] SaveWeights()
    {
        using var ms = new MemoryStream(savedSize);
        save(ms);
        if (!ms.TryGetBuffer(out var written)) return ms.ToArray();
        savedSize = written.Count;
        return written.Offset == 0 && written.Count == written.Array!.Length ? written.Array : written.ToArray();
    }

    /// <summary>Loads weights saved by <see cref="SaveWeights"/>; weights of another shape throw <see cref="InvalidDataException"/> naming this shape.</summary>
    public void LoadWeights(byte[] bytes)
    {
        using var ms = new MemoryStream(bytes, writable: false);
        try { load(ms); }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or EndOfStreamException or IOException)
        {
            throw new InvalidDataException($"velocity-field weights do not fit a model of shape {Config}: {e.Message}", e);
        }
    }

    /// <summary>Copies the weights of <paramref name="other"/> (same shape) into this model.</summary>
    public void CopyWeightsFrom(VelocityField other) => LoadWeights(other.SaveWeights());

    /// <summary>A frozen copy (no gradients, eval mode) of this model, e.g. the reference of the KL penalty.</summary>
    public VelocityField FrozenCopy()
    {
        var copy = new VelocityField(Config, 0, Device);
        copy.CopyWeightsFrom(this);
        copy.eval();
        foreach (var p in copy.parameters()) p.requires_grad = false;
        return copy;
    }
}
