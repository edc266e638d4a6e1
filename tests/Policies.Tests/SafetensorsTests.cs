using System.Buffers.Binary;
using System.Text.Json;
using RlActors.Environments.Arithmetic;
using RlActors.Policies.Checkpoints;
using RlActors.Policies.Lm;

namespace RlActors.Policies.Tests;

public class SafetensorsTests
{
    private static readonly LmConfig Config = new() { VocabSize = CharTokenizer.Default.VocabSize, DModel = 16, Layers = 1, Heads = 2, Context = 32 };

    [Fact]
    public void Exported_safetensors_follow_the_format_and_load_back_to_the_same_outputs()
    {
        string dir = Directory.CreateTempSubdirectory("st-").FullName;
        try
        {
            using var model = new TransformerLm(Config, 42);
            string path = Path.Combine(dir, "policy.safetensors");
            SafetensorsExport.Write(Config, model.SaveWeights(), path);

            // The format as the safetensors specification defines it, checked byte by byte.
            byte[] file = File.ReadAllBytes(path);
            long headerLength = BinaryPrimitives.ReadInt64LittleEndian(file);
            Assert.InRange(headerLength, 2, file.Length - 8);
            using var header = JsonDocument.Parse(file.AsMemory(8, (int)headerLength));
            long dataLength = file.Length - 8 - headerLength;
            var names = new List<string>();
            long covered = 0;
            foreach (var entry in header.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__") continue;
                names.Add(entry.Name);
                Assert.Equal("F32", entry.Value.GetProperty("dtype").GetString());
                long elements = entry.Value.GetProperty("shape").EnumerateArray().Aggregate(1L, (a, d) => a * d.GetInt64());
                var offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray();
                Assert.Equal(elements * 4, offsets[1] - offsets[0]);
                Assert.InRange(offsets[1], 0, dataLength);
                covered += offsets[1] - offsets[0];
            }
            Assert.Equal(dataLength, covered);
            Assert.Contains("head.weight", names);
            Assert.Equal(model.parameters().Count(), names.Count);

            using var back = SafetensorsExport.Read(Config, path);
            var prompt = new List<int[]> { CharTokenizer.Default.Encode("Q:1+2\n") };
            var greedy = new SampleOptions { Temperature = 0, MaxNewTokens = 8 };
            Assert.Equal(LmSampler.Sample(model, prompt, greedy, null, CharTokenizer.Eos, CharTokenizer.Pad).LogProbs,
                         LmSampler.Sample(back, prompt, greedy, null, CharTokenizer.Eos, CharTokenizer.Pad).LogProbs);
            Assert.False(File.Exists(path + ".tmp"));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
