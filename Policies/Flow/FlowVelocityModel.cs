using TorchSharp;
using static TorchSharp.torch;

namespace RlActors.Policies.Flow;

/// <summary>
/// A conditional velocity field v_θ(x, t, c) on flat samples: <c>forward(x [B, D], t [B] or [B, 1], classes [B] int64) → [B, D]</c>.
/// Convention (rectified flow, as in Flow-GRPO): x_t = (1 − t)·x_0 + t·ε, data x_0 at t = 0, noise ε ~ N(0, I) at
/// t = 1, v = dx_t/dt = ε − x_0; sampling integrates from t = 1 to t = 0 with Δt &lt; 0. Samplers, the learner and the
/// trainer only see this class, so any architecture (the MLP <see cref="VelocityField"/>, the image
/// <see cref="ConvVelocityField"/>) plugs in.
/// </summary>
public abstract class FlowVelocityModel : TorchSharp.torch.nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    private int savedSize; // size of the last SaveWeights: the next one writes into a buffer of that size

    /// <summary>Registers the module under <paramref name="name"/>.</summary>
    protected FlowVelocityModel(string name) : base(name) { }

    /// <summary>Dimension D of a (flattened) sample.</summary>
    public abstract int Dim { get; }
    /// <summary>Number of classes the model is conditioned on.</summary>
    public abstract int Classes { get; }
    /// <summary>The model's shape as text (for error messages and fingerprints).</summary>
    public abstract string Shape { get; }
    /// <summary>A new model of the same shape (its weights are then loaded or trained).</summary>
    protected abstract FlowVelocityModel CreateSameShape();

    /// <summary>Device the parameters live on.</summary>
    public Device Device => parameters().First().device;

    /// <summary>Serialises the weights (TorchSharp's format) into bytes.</summary>
    public byte[] SaveWeights() => Runtime.TorchBytes.SaveWeights(this, ref savedSize);

    /// <summary>Loads weights saved by <see cref="SaveWeights"/>; weights of another shape throw <see cref="InvalidDataException"/> naming this shape.</summary>
    public void LoadWeights(byte[] bytes) => Runtime.TorchBytes.LoadWeights(this, bytes, "velocity-field weights", Shape);

    /// <summary>Copies the weights of <paramref name="other"/> (same shape) into this model.</summary>
    public void CopyWeightsFrom(FlowVelocityModel other) => LoadWeights(other.SaveWeights());

    /// <summary>A frozen copy (no gradients, eval mode) of this model, e.g. the reference of the KL penalty.</summary>
    public FlowVelocityModel FrozenCopy()
    {
        var copy = CreateSameShape();
        if (Device.type != DeviceType.CPU) copy.to(Device);
        copy.CopyWeightsFrom(this);
        copy.eval();
        foreach (var p in copy.parameters()) p.requires_grad = false;
        return copy;
    }

    /// <summary>Sinusoidal features of t: sin and cos of t·ω_j, ω_j = 100^(j/(F/2 − 1)) for j &lt; F/2 (1 to 100 rad per unit t). Returns [B, F].</summary>
    public static Tensor TimeFeatures(Tensor t, int features, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        int half = features / 2;
        var omega = Enumerable.Range(0, half).Select(j => half == 1 ? 1f : (float)Math.Pow(100.0, (double)j / (half - 1))).ToArray();
        var angles = t.reshape(-1, 1).to_type(dtype) * tensor(omega, dtype: dtype, device: t.device).unsqueeze(0);
        return cat([angles.sin(), angles.cos()], 1).MoveToOuterDisposeScope();
    }
}
