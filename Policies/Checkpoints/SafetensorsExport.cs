using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using RlActors.Policies.Lm;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace RlActors.Policies.Checkpoints;

/// <summary>One tensor of a safetensors header.</summary>
/// <param name="Dtype">Its safetensors dtype (F32, F16, BF16, ...).</param>
/// <param name="Shape">Its shape.</param>
/// <param name="Begin">First byte in the data section.</param>
/// <param name="End">One past its last byte in the data section.</param>
public sealed record SafetensorsEntry(string Dtype, long[] Shape, long Begin, long End);

/// <summary>
/// Reads and writes safetensors files (the format PyTorch's and Hugging Face's <c>safetensors</c> loaders read): an
/// 8-byte little-endian header length, a JSON header naming every tensor with dtype, shape and byte offsets (and a
/// <c>__metadata__</c> map; written with <c>format = pt</c>, which transformers checks), padded with spaces to a multiple
/// of 8 bytes, then the raw little-endian data. Policy tensor names are the module's parameter names
/// (e.g. <c>blocks.0.attn.qkv.weight</c>); a Hugging Face model's are transformers' (<see cref="Hf.HfCheckpoint"/>).
/// </summary>
public static class SafetensorsExport
{
    /// <summary>The metadata every written file carries (transformers refuses a file whose format is not pt, tf, flax or mlx).</summary>
    public static IReadOnlyDictionary<string, string> PtMetadata { get; } = new Dictionary<string, string> { ["format"] = "pt" };

    /// <summary>Loads <paramref name="weights"/> (TorchSharp format) into a model of <paramref name="config"/> and writes it to <paramref name="path"/> atomically.</summary>
    public static void Write(LmConfig config, byte[] weights, string path)
    {
        using var model = new TransformerLm(config, 0);
        model.LoadWeights(weights);
        Write(model, path);
    }

    /// <summary>Writes the state of any module (its parameters and buffers, under their module names) to
    /// <paramref name="path"/> atomically (a temp file, then a rename).</summary>
    public static void Write(nn.Module model, string path) => Write(model.state_dict(), path);

    /// <summary>Writes named tensors (e.g. a policy's state and an algorithm's own tensors), in the dictionary's order, to
    /// <paramref name="path"/> atomically, with <paramref name="metadata"/> (default <see cref="PtMetadata"/>) as <c>__metadata__</c>.</summary>
    public static void Write(IReadOnlyDictionary<string, Tensor> tensors, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string tmp = full + ".tmp";
        try
        {
            using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
                Write(tensors, stream, metadata ?? PtMetadata);
            File.Move(tmp, full, overwrite: true);
        }
        finally { if (File.Exists(tmp)) File.Delete(tmp); }
    }

    private static void Write(IReadOnlyDictionary<string, Tensor> tensors, Stream stream, IReadOnlyDictionary<string, string> metadata)
    {
        using var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json))
        {
            w.WriteStartObject();
            if (metadata.Count > 0)
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, t) in tensors)
            {
                long length = t.NumberOfElements * t.ElementSize;
                w.WriteStartObject(name);
                w.WriteString("dtype", DtypeName(t.dtype, name));
                w.WriteStartArray("shape");
                foreach (long d in t.shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + length);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += length;
            }
            w.WriteEndObject();
        }
        long headerLength = (json.Length + 7) / 8 * 8; // padded with spaces so that the data starts 8-byte aligned
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)headerLength);
        stream.Write(prefix);
        stream.Write(json.GetBuffer(), 0, (int)json.Length);
        for (long i = json.Length; i < headerLength; i++) stream.WriteByte((byte)' ');
        foreach (var (_, t) in tensors)
        {
            using var scope = NewDisposeScope();
            var data = t.detach().cpu().contiguous();
            stream.Write(data.bytes);
        }
    }

    /// <summary>Reads a safetensors file written by <see cref="Write(nn.Module, string)"/> into a model of <paramref name="config"/>.</summary>
    public static TransformerLm Read(LmConfig config, string path)
    {
        var model = new TransformerLm(config, 0);
        model.load_safetensors(path);
        return model;
    }

    /// <summary>
    /// The tensors listed in the header of <paramref name="path"/> (in file order) and its <c>__metadata__</c>, without
    /// reading the data. A file too short, a header that is not JSON, or an entry whose offsets do not fit its shape and
    /// dtype, or overlap, throws <see cref="InvalidDataException"/> naming the file and the tensor.
    /// </summary>
    public static (IReadOnlyDictionary<string, SafetensorsEntry> Tensors, IReadOnlyDictionary<string, string> Metadata) ReadHeader(string path)
    {
        using var stream = File.OpenRead(path);
        Span<byte> prefix = stackalloc byte[8];
        if (stream.Read(prefix) != 8) throw new InvalidDataException($"{path}: too short for a safetensors file");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength < 2 || headerLength > (ulong)(stream.Length - 8) || headerLength > 100_000_000)
            throw new InvalidDataException($"{path}: header length {headerLength} does not fit a file of {stream.Length} bytes (not a safetensors file?)");
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        long dataLength = stream.Length - 8 - (long)headerLength;
        var tensors = new Dictionary<string, SafetensorsEntry>();
        var metadata = new Dictionary<string, string>();
        try
        {
            using var doc = JsonDocument.Parse(header);
            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__")
                {
                    foreach (var m in entry.Value.EnumerateObject()) metadata[m.Name] = m.Value.ToString();
                    continue;
                }
                string dtype = entry.Value.GetProperty("dtype").GetString() ?? "";
                long[] shape = entry.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                long[] offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                long elements = shape.Aggregate(1L, (a, d) => a * d);
                if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] > dataLength || offsets[1] - offsets[0] != elements * ElementSize(dtype, entry.Name, path))
                    throw new InvalidDataException($"{path}: tensor '{entry.Name}' has data_offsets [{string.Join(", ", offsets)}] that do not fit {dtype} [{string.Join(", ", shape)}] in {dataLength} data bytes");
                tensors[entry.Name] = new SafetensorsEntry(dtype, shape, offsets[0], offsets[1]);
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: the safetensors header is not valid ({e.Message})", e);
        }
        return (tensors, metadata);
    }

    /// <summary>Reads the tensors <paramref name="names"/> (all when null) of <paramref name="path"/> into new CPU tensors of the file's dtypes.</summary>
    public static Dictionary<string, Tensor> ReadTensors(string path, IEnumerable<string>? names = null) =>
        Safetensors.LoadStateDict(path, names?.ToList());

    private static long ElementSize(string dtype, string tensor, string path) => dtype switch
    {
        "F64" or "I64" => 8,
        "F32" or "I32" => 4,
        "F16" or "BF16" or "I16" => 2,
        "I8" or "U8" or "BOOL" => 1,
        _ => throw new InvalidDataException($"{path}: tensor '{tensor}' has dtype '{dtype}', which is not supported (F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)"),
    };

    private static string DtypeName(ScalarType dtype, string tensor) => dtype switch
    {
        ScalarType.Float64 => "F64",
        ScalarType.Float32 => "F32",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Int64 => "I64",
        ScalarType.Int32 => "I32",
        ScalarType.Int16 => "I16",
        ScalarType.Int8 => "I8",
        ScalarType.Byte => "U8",
        ScalarType.Bool => "BOOL",
        _ => throw new ArgumentException($"tensor '{tensor}' has dtype {dtype}, which safetensors cannot store"),
    };
}
