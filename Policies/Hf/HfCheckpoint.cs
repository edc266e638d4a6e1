using System.Text.Json;
using System.Text.Json.Nodes;
using RlActors.Policies.Checkpoints;
using static TorchSharp.torch;

namespace RlActors.Policies.Hf;

/// <summary>
/// A model directory in the Hugging Face layout: <c>config.json</c> and the weights, either one <c>model.safetensors</c>
/// or shards <c>model-00001-of-0000N.safetensors</c> listed by <c>model.safetensors.index.json</c> (its <c>weight_map</c>
/// names each tensor's file). Tensors are F32, F16 or BF16 and are converted to the dtype the caller asks for.
/// <see cref="Load"/> checks every tensor's name and shape against the config before it reads any data, and returns a
/// model only when all of them loaded: a missing, unexpected or mis-shaped tensor is one
/// <see cref="InvalidDataException"/> naming it, and nothing is half-loaded. <see cref="Save"/> writes what
/// <c>AutoModelForCausalLM.from_pretrained(directory)</c> reads.
/// </summary>
public static class HfCheckpoint
{
    /// <summary>The config file.</summary>
    public const string ConfigFile = "config.json";
    /// <summary>The single weights file.</summary>
    public const string WeightsFile = "model.safetensors";
    /// <summary>The index of a sharded checkpoint.</summary>
    public const string IndexFile = "model.safetensors.index.json";
    /// <summary>transformers' default shard size for <c>save_pretrained</c> (5 GB).</summary>
    public const long DefaultMaxShardBytes = 5_000_000_000;

    private static readonly string[] LoadableDtypes = ["F32", "F16", "BF16"];

    /// <summary>
    /// Reads the model in <paramref name="directory"/> with parameters of <paramref name="dtype"/> on <paramref name="device"/>
    /// (CPU by default). Tied models accept and ignore a stored <c>lm_head.weight</c>, and every model ignores the
    /// <c>rotary_emb.inv_freq</c> buffers older transformers versions stored, as transformers does.
    /// </summary>
    public static HfDecoderLm Load(string directory, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        var config = HfConfig.Load(Path.Combine(directory, ConfigFile));
        var files = WeightFiles(directory);
        var expected = HfDecoderLm.ExpectedTensors(config);
        var expectedNames = expected.Select(e => e.Name).ToHashSet();

        // 1. Headers only: every tensor present once, nothing unexpected, every shape and dtype right.
        var headers = new Dictionary<string, SafetensorsEntry>();
        var fileOf = new Dictionary<string, string>();
        foreach (var (file, names) in files)
        {
            var (tensors, _) = SafetensorsExport.ReadHeader(Path.Combine(directory, file));
            foreach (var name in names)
            {
                if (!tensors.TryGetValue(name, out var entry))
                    throw new InvalidDataException($"{directory}: {IndexFile} puts tensor '{name}' in {file}, which does not hold it");
                if (Ignored(name, config)) continue;
                if (!expectedNames.Contains(name))
                    throw new InvalidDataException($"{directory}: unexpected tensor '{name}' in {file} (not part of {config})");
                if (!fileOf.TryAdd(name, file))
                    throw new InvalidDataException($"{directory}: tensor '{name}' is stored twice ({fileOf[name]} and {file})");
                headers[name] = entry;
            }
        }
        foreach (var (name, shape) in expected)
        {
            if (!headers.TryGetValue(name, out var entry))
                throw new InvalidDataException($"{directory}: tensor '{name}' is missing ({config} has {expected.Count} tensors, the checkpoint {headers.Count} of them)");
            if (!entry.Shape.SequenceEqual(shape))
                throw new InvalidDataException($"{directory}: tensor '{name}' in {fileOf[name]} has shape [{string.Join(", ", entry.Shape)}], config.json needs [{string.Join(", ", shape)}]");
            if (!LoadableDtypes.Contains(entry.Dtype))
                throw new InvalidDataException($"{directory}: tensor '{name}' in {fileOf[name]} is {entry.Dtype} (supported: {string.Join(", ", LoadableDtypes)})");
        }

        // 2. Data, file by file, into a model that is returned only when every tensor is in.
        var model = new HfDecoderLm(config, dtype, device ?? CPU);
        try
        {
            var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            using var _ = no_grad();
            foreach (var group in fileOf.GroupBy(kv => kv.Value, kv => kv.Key))
            {
                var loaded = SafetensorsExport.ReadTensors(Path.Combine(directory, group.Key), group);
                try
                {
                    foreach (var name in group) parameters[name].copy_(loaded[name]);
                }
                finally { foreach (var t in loaded.Values) t.Dispose(); }
            }
            return model;
        }
        catch (Exception e) when (e is not InvalidDataException)
        {
            model.Dispose();
            throw new InvalidDataException($"{directory}: could not read the weights ({e.Message})", e);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Stored tensors that are not parameters and are skipped: buffers old checkpoints kept, a tied model's head.</summary>
    private static bool Ignored(string name, HfConfig config) =>
        name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal) || (config.TieWordEmbeddings && name == "lm_head.weight");

    /// <summary>
    /// The weight files of <paramref name="directory"/> and the tensors each holds: the header of <see cref="WeightsFile"/>
    /// when it exists (transformers prefers it too), else <see cref="IndexFile"/>'s <c>weight_map</c>. Neither present, or an
    /// index that names a missing file, throws <see cref="InvalidDataException"/>.
    /// </summary>
    public static IReadOnlyList<(string File, IReadOnlyList<string> Tensors)> WeightFiles(string directory)
    {
        string single = Path.Combine(directory, WeightsFile), index = Path.Combine(directory, IndexFile);
        if (File.Exists(single))
            return [(WeightsFile, SafetensorsExport.ReadHeader(single).Tensors.Keys.ToArray())];
        if (!File.Exists(index))
            throw new InvalidDataException($"{directory}: neither {WeightsFile} nor {IndexFile} exists (only safetensors checkpoints are read; convert a pytorch_model.bin with transformers' save_pretrained)");
        JsonObject map;
        try
        {
            map = (JsonNode.Parse(File.ReadAllText(index)) as JsonObject)?["weight_map"] as JsonObject
                  ?? throw new InvalidDataException($"{index}: has no weight_map object");
        }
        catch (JsonException e) { throw new InvalidDataException($"{index}: not valid JSON ({e.Message})", e); }
        var byFile = new Dictionary<string, List<string>>();
        foreach (var (name, node) in map)
        {
            string file = node is JsonValue v && v.TryGetValue(out string? f) && !string.IsNullOrEmpty(f)
                ? f : throw new InvalidDataException($"{index}: weight_map entry '{name}' is not a file name");
            if (file.Contains('/') || file.Contains('\\') || file.Contains(".."))
                throw new InvalidDataException($"{index}: weight_map entry '{name}' names '{file}', which is not a file in the directory");
            if (!byFile.TryGetValue(file, out var list)) byFile[file] = list = [];
            list.Add(name);
        }
        foreach (var file in byFile.Keys)
            if (!File.Exists(Path.Combine(directory, file)))
                throw new InvalidDataException($"{index}: weight_map names {file} (for tensor '{byFile[file][0]}'), which does not exist");
        return byFile.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Key, (IReadOnlyList<string>)kv.Value)).ToArray();
    }

    /// <summary>
    /// Writes <paramref name="model"/> to <paramref name="directory"/> in the Hugging Face layout: <c>config.json</c> (its
    /// config with <c>torch_dtype</c> = the model's dtype) and <c>model.safetensors</c>, or, when the tensors add up to more
    /// than <paramref name="maxShardBytes"/>, shards of at most that size (a larger tensor gets a shard of its own) and
    /// <c>model.safetensors.index.json</c>. Files of the other layout left by an earlier save are removed. Each file is
    /// written to a temporary name and renamed.
    /// </summary>
    public static void Save(HfDecoderLm model, string directory, long maxShardBytes = DefaultMaxShardBytes)
    {
        if (maxShardBytes < 1) throw new ArgumentException($"maxShardBytes must be >= 1 (got {maxShardBytes})");
        Directory.CreateDirectory(directory);
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        var names = HfDecoderLm.ExpectedTensors(model.Config).Select(e => e.Name).ToArray();
        long Bytes(string n) => parameters[n].NumberOfElements * parameters[n].ElementSize;
        long total = names.Sum(Bytes);

        var shards = new List<List<string>> { new() };
        long current = 0;
        foreach (var name in names)
        {
            if (shards[^1].Count > 0 && current + Bytes(name) > maxShardBytes) { shards.Add([]); current = 0; }
            shards[^1].Add(name);
            current += Bytes(name);
        }

        foreach (var stale in Directory.EnumerateFiles(directory, "model-*-of-*.safetensors")) File.Delete(stale);
        if (shards.Count == 1)
        {
            File.Delete(Path.Combine(directory, IndexFile));
            SafetensorsExport.Write(names.ToDictionary(n => n, n => parameters[n]), Path.Combine(directory, WeightsFile));
        }
        else
        {
            File.Delete(Path.Combine(directory, WeightsFile));
            var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
            for (int i = 0; i < shards.Count; i++)
            {
                string file = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
                SafetensorsExport.Write(shards[i].ToDictionary(n => n, n => parameters[n]), Path.Combine(directory, file));
                foreach (var n in shards[i]) weightMap[n] = file;
            }
            var index = new JsonObject
            {
                ["metadata"] = new JsonObject { ["total_size"] = total },
                ["weight_map"] = new JsonObject(weightMap.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            };
            WriteText(Path.Combine(directory, IndexFile), index.ToJsonString(Indented));
        }
        WriteText(Path.Combine(directory, ConfigFile), model.Config.ToJson(HfConfig.DtypeName(model.DType)).ToJsonString(Indented));
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static void WriteText(string path, string text)
    {
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, text + "\n");
        File.Move(tmp, path, overwrite: true);
    }
}
