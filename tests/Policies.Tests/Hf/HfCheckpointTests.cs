using System.Text.Json.Nodes;
using RlActors.Policies.Checkpoints;
using RlActors.Policies.Hf;
using static RlActors.Policies.Tests.Hf.HfTestModels;
using static TorchSharp.torch;

namespace RlActors.Policies.Tests.Hf;

/// <summary>Loading and saving the Hugging Face directory layout.</summary>
public class HfCheckpointTests
{
    private static Dictionary<string, float[]> Values(HfDecoderLm model) =>
        model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().to_type(ScalarType.Float32).cpu().data<float>().ToArray());

    private static float[] Logits(HfDecoderLm model)
    {
        using var _ = no_grad();
        using var logits = model.Forward(tensor(new long[] { 4, 8, 15, 16, 23, 3 }, new long[] { 1, 6 }));
        return logits.data<float>().ToArray();
    }

    [Fact]
    public void Save_then_load_gives_the_same_tensors_and_logits_bitwise_single_file_and_sharded()
    {
        foreach (var config in new[] { Llama(), Qwen2() })
        {
            using var model = new HfDecoderLm(config, initSeed: 21);
            using var dir = Temp();
            HfCheckpoint.Save(model, dir.Path);
            Assert.Equal(["config.json", "model.safetensors"], Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order());
            using (var back = HfCheckpoint.Load(dir.Path))
            {
                Assert.Equal(Values(model), Values(back));
                Assert.Equal(Logits(model), Logits(back));
                Assert.Equal(model.Config with { Source = null }, back.Config with { Source = null });
            }

            // Sharded: shards of at most ~10 kB, an index naming every tensor's file; the single file is gone.
            HfCheckpoint.Save(model, dir.Path, maxShardBytes: 10_000);
            var files = Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order().ToArray();
            Assert.DoesNotContain("model.safetensors", files);
            Assert.Contains(HfCheckpoint.IndexFile, files);
            var shards = files.Where(f => f!.StartsWith("model-")).ToArray();
            Assert.True(shards.Length > 2, string.Join(", ", files));
            Assert.All(shards, s => Assert.Matches($"^model-\\d{{5}}-of-{shards.Length:D5}\\.safetensors$", s));
            var index = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, HfCheckpoint.IndexFile)))!;
            var map = index["weight_map"]!.AsObject();
            Assert.Equal(HfDecoderLm.ExpectedTensors(config).Select(e => e.Name).Order(StringComparer.Ordinal), map.Select(kv => kv.Key));
            Assert.Equal(model.parameters().Sum(p => p.NumberOfElements * 4), (long)index["metadata"]!["total_size"]!);
            using (var back = HfCheckpoint.Load(dir.Path))
            {
                Assert.Equal(Values(model), Values(back));
                Assert.Equal(Logits(model), Logits(back));
            }

            // And back to one file: the shards and the index are removed.
            HfCheckpoint.Save(model, dir.Path);
            Assert.Equal(["config.json", "model.safetensors"], Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order());
        }
    }

    [Fact]
    public void Written_files_are_what_transformers_reads_format_metadata_aligned_data_and_its_config_keys()
    {
        using var model = new HfDecoderLm(Qwen2(), initSeed: 22, ScalarType.BFloat16);
        using var dir = Temp();
        HfCheckpoint.Save(model, dir.Path);
        var path = Path.Combine(dir.Path, "model.safetensors");
        var (tensors, metadata) = SafetensorsExport.ReadHeader(path);
        Assert.Equal("pt", metadata["format"]);
        Assert.All(tensors.Values, t => Assert.Equal("BF16", t.Dtype));
        long headerLength = BitConverter.ToInt64(File.ReadAllBytes(path), 0);
        Assert.Equal(0, headerLength % 8);
        Assert.False(tensors.ContainsKey("lm_head.weight")); // tied: transformers does not store the head either
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, "config.json")))!;
        Assert.Equal("Qwen2ForCausalLM", (string)config["architectures"]![0]!);
        Assert.Equal("qwen2", (string)config["model_type"]!);
        Assert.Equal("bfloat16", (string)config["torch_dtype"]!);
        Assert.True((bool)config["tie_word_embeddings"]!);
        Assert.Equal(1, (int)config["num_key_value_heads"]!);
    }

    [Fact]
    public void Bf16_and_f16_files_load_into_float32_with_their_exact_values_and_float32_files_into_bfloat16()
    {
        using var bf16 = new HfDecoderLm(Llama(), initSeed: 23, ScalarType.BFloat16);
        using var f16 = new HfDecoderLm(Llama(), initSeed: 23, ScalarType.Float16);
        foreach (var model in new[] { bf16, f16 })
        {
            using var dir = Temp();
            HfCheckpoint.Save(model, dir.Path);
            using var back = HfCheckpoint.Load(dir.Path, ScalarType.Float32);
            Assert.All(back.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
            Assert.Equal(Values(model), Values(back)); // bf16 and f16 are exact in float32
        }
        using var f32 = new HfDecoderLm(Llama(), initSeed: 23);
        using var dir32 = Temp();
        HfCheckpoint.Save(f32, dir32.Path);
        using var down = HfCheckpoint.Load(dir32.Path, ScalarType.BFloat16);
        Assert.Equal(Values(bf16), Values(down)); // float32 → bfloat16 rounds the same way as the bf16 model's init
    }

    /// <summary>Saves a model, then rewrites its weights file with <paramref name="edit"/> applied to the tensors.</summary>
    private static TempDir Tampered(Action<Dictionary<string, Tensor>> edit)
    {
        using var model = new HfDecoderLm(Llama(), initSeed: 24);
        var dir = Temp();
        HfCheckpoint.Save(model, dir.Path);
        var tensors = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter.detach());
        edit(tensors);
        SafetensorsExport.Write(tensors, Path.Combine(dir.Path, "model.safetensors"));
        return dir;
    }

    [Fact]
    public void A_missing_unexpected_or_misshaped_tensor_is_one_error_naming_it()
    {
        using (var dir = Tampered(t => t.Remove("model.layers.1.mlp.up_proj.weight")))
            Assert.Contains("tensor 'model.layers.1.mlp.up_proj.weight' is missing",
                Assert.Throws<InvalidDataException>(() => HfCheckpoint.Load(dir.Path)).Message);
        using (var dir = Tampered(t => t["model.layers.0.self_attn.q_proj.bias"] = zeros(32)))
            Assert.Contains("unexpected tensor 'model.layers.0.self_attn.q_proj.bias' in model.safetensors",
                Assert.Throws<InvalidDataException>(() => HfCheckpoint.Load(dir.Path)).Message);
        using (var dir = Tampered(t => t["model.layers.1.self_attn.k_proj.weight"] = zeros(32, 32)))
            Assert.Contains("tensor 'model.layers.1.self_attn.k_proj.weight' in model.safetensors has shape [32, 32], config.json needs [16, 32]",
                Assert.Throws<InvalidDataException>(() => HfCheckpoint.Load(dir.Path)).Message);
        using (var dir = Tampered(t => t["model.norm.weight"] = ones(32, dtype: ScalarType.Float64)))
            Assert.Contains("tensor 'model.norm.weight' in model.safetensors is F64",
                Assert.Throws<InvalidDataException>(() => HfCheckpoint.Load(dir.Path)).Message);
        // What transformers itself skips is accepted: inv_freq buffers of old checkpoints.
        using (var dir = Tampered(t => t["model.layers.0.self_attn.rotary_emb.inv_freq"] = ones(4)))
            using (HfCheckpoint.Load(dir.Path)) { }
    }

    [Fact]
    public void A_broken_directory_index_or_file_is_one_error_naming_it()
    {
        using var model = new HfDecoderLm(Qwen2(), initSeed: 25);
        using var dir = Temp();
        Assert.Contains("config.json does not exist", Assert.Throws<InvalidDataException>(() => HfCheckpoint.Load(dir.Path)).Message);
        HfCheckpoint.Save(model, dir.Path, maxShardBytes: 20_000);
        var indexPath = Path.Combine(dir.Path, HfCheckpoint.IndexFile);
        var index = JsonNode.Parse(File.ReadAllText(indexPath))!;
        string shard = (string)index["weight_map"]!["model.norm.weight"]!;

        // An index entry pointing at a shard that does not hold the tensor.
        var other = index["weight_map"]!.AsObject().Select(kv => (string)kv.Value!).First(f => f != shard);
        index["weight_map"]!["model.norm.weight"] = other;
        File.WriteAllText(indexPath, index.ToJsonString());
        Assert.Contains($"puts tensor 'model.norm.weight' in {other}, which does not hold it",
            Assert.Throws<InvalidDataException>(() => HfCheckpoint.Load(dir.Path)).Message);

        // A shard that is missing.
        index["weight_map"]!["model.norm.weight"] = shard;
        File.WriteAllText(indexPath, index.ToJsonString());
        File.Delete(Path.Combine(dir.Path, shard));
        Assert.Contains($"names {shard}", Assert.Throws<InvalidDataException>(() => HfCheckpoint.Load(dir.Path)).Message);

        // A truncated safetensors file.
        HfCheckpoint.Save(model, dir.Path);
        var weights = Path.Combine(dir.Path, "model.safetensors");
        File.WriteAllBytes(weights, File.ReadAllBytes(weights)[..100]);
        var e = Assert.Throws<InvalidDataException>(() => HfCheckpoint.Load(dir.Path));
        Assert.Contains("model.safetensors", e.Message);

        File.Delete(weights);
        Assert.Contains("neither model.safetensors nor model.safetensors.index.json exists",
            Assert.Throws<InvalidDataException>(() => HfCheckpoint.Load(dir.Path)).Message);
    }
}
