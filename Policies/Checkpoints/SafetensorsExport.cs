using RlActors.Policies.Lm;
using TorchSharp.PyBridge;

namespace RlActors.Policies.Checkpoints;

/// <summary>
/// Writes policy weights as a safetensors file (the format PyTorch's and Hugging Face's <c>safetensors</c> loaders
/// read): an 8-byte little-endian header length, a JSON header naming every tensor with dtype, shape and byte
/// offsets, then the raw little-endian data. Tensor names are the module's parameter names
/// (e.g. <c>blocks.0.attn.qkv.weight</c>).
/// </summary>
public static class SafetensorsExport
{
    /// <summary>Loads <paramref name="weights"/> (TorchSharp format) into a model of <paramref name="config"/> and writes it to <paramref name="path"/> atomically.</summary>
    public static void Write(LmConfig config, byte[] weights, string path)
    {
        using var model = new TransformerLm(config, 0);
        model.LoadWeights(weights);
        Write(model, path);
    }

    /// <summary>Writes the state of any module (its parameters and buffers, under their module names) to
    /// <paramref name="path"/> atomically (a temp file, then a rename).</summary>
    public static void Write(TorchSharp.torch.nn.Module model, string path)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string tmp = full + ".tmp";
        model.save_safetensors(tmp);
        File.Move(tmp, full, overwrite: true);
    }

    /// <summary>Writes named tensors (e.g. a policy's state and an algorithm's own tensors) to <paramref name="path"/> atomically.</summary>
    public static void Write(IReadOnlyDictionary<string, TorchSharp.torch.Tensor> tensors, string path)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string tmp = full + ".tmp";
        Safetensors.SaveStateDict(tmp, tensors.ToDictionary(kv => kv.Key, kv => kv.Value));
        File.Move(tmp, full, overwrite: true);
    }

    /// <summary>Reads a safetensors file written by <see cref="Write(TransformerLm, string)"/> into a model of <paramref name="config"/>.</summary>
    public static TransformerLm Read(LmConfig config, string path)
    {
        var model = new TransformerLm(config, 0);
        model.load_safetensors(path);
        return model;
    }
}
