using static TorchSharp.torch;

namespace RlActors.Policies.Lm;

/// <summary>Keys and values of one layer, preallocated for the whole generation.</summary>
public sealed class LayerCache : IDisposable
{
    private readonly Tensor keys;   // B, H, Tmax, Dh
    private readonly Tensor values;
    /// <summary>Number of positions filled so far.</summary>
    public long Length { get; private set; }

    /// <summary>Allocates zeroed keys and values [batch, heads, maxLength, headDim].</summary>
    public LayerCache(long batch, long heads, long maxLength, long headDim, ScalarType dtype, Device device)
    {
        keys = zeros(new[] { batch, heads, maxLength, headDim }, dtype: dtype, device: device);
        values = zeros(new[] { batch, heads, maxLength, headDim }, dtype: dtype, device: device);
    }

    internal (Tensor Keys, Tensor Values) Append(Tensor k, Tensor v)
    {
        long t = k.shape[2];
        using (no_grad())
        {
            keys.narrow(2, Length, t).copy_(k);
            values.narrow(2, Length, t).copy_(v);
        }
        Length += t;
        return (keys.narrow(2, 0, Length), values.narrow(2, 0, Length));
    }

    /// <inheritdoc />
    public void Dispose() { keys.Dispose(); values.Dispose(); }
}

/// <summary>A key/value cache for every layer of a model (<see cref="ICausalLm.NewCache"/>), for one batch of generations.</summary>
public sealed class KvCache : IDisposable
{
    /// <summary>Per-layer caches.</summary>
    public IReadOnlyList<LayerCache> Layers { get; }

    /// <summary>Allocates <paramref name="layers"/> caches of <paramref name="heads"/> key/value heads of width <paramref name="headDim"/>.</summary>
    public KvCache(int layers, long batch, long heads, long maxLength, long headDim, ScalarType dtype, Device device)
    {
        Layers = Enumerable.Range(0, layers).Select(_ => new LayerCache(batch, heads, maxLength, headDim, dtype, device)).ToArray();
    }

    /// <inheritdoc />
    public void Dispose() { foreach (var l in Layers) l.Dispose(); }
}
