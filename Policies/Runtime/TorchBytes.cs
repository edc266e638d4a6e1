using TorchSharp.Modules;
using static TorchSharp.torch.nn;

namespace RlActors.Policies.Runtime;

/// <summary>
/// Module weights and optimizer state to and from bytes, in TorchSharp's formats: one implementation for every model
/// and learner. Saving writes into a buffer of the size the caller's last save had (<c>sizeHint</c>), so repeated
/// checkpoints of one model return that buffer without a copy.
/// </summary>
public static class TorchBytes
{
    /// <summary>The weights of <paramref name="module"/>; <paramref name="sizeHint"/> is read and updated.</summary>
    public static byte[] SaveWeights(Module module, ref int sizeHint)
    {
        using var ms = new MemoryStream(sizeHint);
        module.save(ms);
        return Take(ms, ref sizeHint);
    }

    /// <summary>Loads weights saved by <see cref="SaveWeights"/>; weights of another shape throw
    /// <see cref="InvalidDataException"/> starting with <paramref name="what"/> (e.g. "policy weights") and naming <paramref name="shape"/>.</summary>
    public static void LoadWeights(Module module, byte[] bytes, string what, object shape)
    {
        using var ms = new MemoryStream(bytes, writable: false);
        try { module.load(ms); }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or EndOfStreamException or IOException)
        {
            throw new InvalidDataException($"{what} do not fit a model of shape {shape}: {e.Message}", e);
        }
    }

    /// <summary>The state of <paramref name="optimizer"/> (moments, step counts); <paramref name="sizeHint"/> is read and updated.</summary>
    public static byte[] SaveOptimizer(OptimizerHelper optimizer, ref int sizeHint)
    {
        using var ms = new MemoryStream(sizeHint);
        using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) optimizer.save_state_dict(w);
        return Take(ms, ref sizeHint);
    }

    /// <summary>Restores optimizer state saved by <see cref="SaveOptimizer"/>.</summary>
    public static void LoadOptimizer(OptimizerHelper optimizer, byte[] bytes)
    {
        using var ms = new MemoryStream(bytes, writable: false);
        using var r = new BinaryReader(ms);
        optimizer.load_state_dict(r);
    }

    private static byte[] Take(MemoryStream ms, ref int sizeHint)
    {
        // TorchSharp may close the stream: TryGetBuffer still works then. A buffer of exactly the right size is returned as is.
        if (!ms.TryGetBuffer(out var written)) return ms.ToArray();
        sizeHint = written.Count;
        return written.Offset == 0 && written.Count == written.Array!.Length ? written.Array : written.ToArray();
    }
}
