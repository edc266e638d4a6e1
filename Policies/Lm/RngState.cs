using static TorchSharp.torch;

namespace RlActors.Policies.Lm;

/// <summary>Saves and restores private torch generators as bytes, so a checkpoint can replay sampling exactly.</summary>
public static class RngState
{
    /// <summary>The generator's full state (5056 bytes for the CPU generator).</summary>
    public static byte[] Save(Generator generator)
    {
        using var state = generator.get_state();
        return state.bytes.ToArray();
    }

    /// <summary>Restores a state saved by <see cref="Save"/>; a buffer of the wrong size throws <see cref="InvalidDataException"/>.</summary>
    public static void Restore(Generator generator, byte[] bytes)
    {
        using var current = generator.get_state();
        if (bytes.Length != current.bytes.Length)
            throw new InvalidDataException($"generator state has {bytes.Length} bytes, expected {current.bytes.Length}");
        using var state = tensor(bytes, dtype: ScalarType.Byte);
        generator.set_state(state);
    }
}
