using System.Buffers.Binary;
using System.Text.Json;

namespace RlActors.Host.Tests;

/// <summary>Reads a .safetensors file the way the safetensors loaders check it: an 8-byte little-endian header length,
/// a JSON header that starts with '{', and tensors whose byte ranges are contiguous from 0 and cover the data exactly.</summary>
internal static class SafetensorsFile
{
    public sealed record Tensor(string DType, long[] Shape, float[] Values);

    public static Dictionary<string, Tensor> Read(string path)
    {
        Assert.True(File.Exists(path), $"{path} was not written");
        byte[] file = File.ReadAllBytes(path);
        long n = BinaryPrimitives.ReadInt64LittleEndian(file);
        Assert.InRange(n, 2, file.Length - 8);
        Assert.Equal((byte)'{', file[8]);
        using var header = JsonDocument.Parse(file.AsMemory(8, (int)n));
        var data = file.AsSpan(8 + (int)n);
        var tensors = new Dictionary<string, Tensor>();
        var ranges = new List<(long Begin, long End)>();
        foreach (var entry in header.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__") continue;
            string dtype = entry.Value.GetProperty("dtype").GetString()!;
            Assert.Equal("F32", dtype);
            long[] shape = entry.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            long[] offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(o => o.GetInt64()).ToArray();
            Assert.Equal(shape.Aggregate(1L, (a, d) => a * d) * 4, offsets[1] - offsets[0]);
            ranges.Add((offsets[0], offsets[1]));
            var values = new float[(offsets[1] - offsets[0]) / 4];
            for (int i = 0; i < values.Length; i++)
                values[i] = BinaryPrimitives.ReadSingleLittleEndian(data.Slice((int)offsets[0] + 4 * i, 4));
            tensors[entry.Name] = new Tensor(dtype, shape, values);
        }
        long at = 0;
        foreach (var (begin, end) in ranges.OrderBy(r => r.Begin))
        {
            Assert.Equal(at, begin);
            at = end;
        }
        Assert.Equal(data.Length, at);
        return tensors;
    }
}
