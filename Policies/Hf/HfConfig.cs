using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RlActors.Policies.Hf;

/// <summary>
/// Rotary-embedding frequency scaling of a config's <c>rope_scaling</c> (null: plain RoPE).
/// <c>linear</c> divides every frequency by <see cref="Factor"/>; <c>llama3</c> (Llama 3.1 / 3.2) divides only the low
/// frequencies and interpolates between the two bands.
/// </summary>
/// <param name="Type">"linear" or "llama3".</param>
/// <param name="Factor">Scaling factor.</param>
/// <param name="LowFreqFactor">llama3: low_freq_factor.</param>
/// <param name="HighFreqFactor">llama3: high_freq_factor.</param>
/// <param name="OriginalMaxPositionEmbeddings">llama3: original_max_position_embeddings.</param>
public sealed record RopeScaling(string Type, double Factor, double LowFreqFactor = 1, double HighFreqFactor = 4, int OriginalMaxPositionEmbeddings = 8192);

/// <summary>
/// The shape of a Llama- or Qwen2-family decoder as a Hugging Face <c>config.json</c> gives it (the keys are the file's,
/// in snake_case; defaults are transformers' defaults for that model type). <see cref="Load"/> reads a file,
/// <see cref="ToJson"/> writes one that <c>AutoModelForCausalLM.from_pretrained</c> accepts, keeping the keys of the
/// file it was read from that this class does not model.
/// </summary>
public sealed record HfConfig
{
    /// <summary>The model types this implementation follows.</summary>
    public static IReadOnlyList<string> SupportedModelTypes { get; } = ["llama", "qwen2"];

    /// <summary><c>model_type</c>: "llama" or "qwen2".</summary>
    public string ModelType { get; init; } = "llama";
    /// <summary><c>vocab_size</c>.</summary>
    public int VocabSize { get; init; } = 32000;
    /// <summary><c>hidden_size</c>: width of the residual stream.</summary>
    public int HiddenSize { get; init; } = 4096;
    /// <summary><c>intermediate_size</c>: width of the SwiGLU MLP.</summary>
    public int IntermediateSize { get; init; } = 11008;
    /// <summary><c>num_hidden_layers</c>.</summary>
    public int NumHiddenLayers { get; init; } = 32;
    /// <summary><c>num_attention_heads</c>: query heads.</summary>
    public int NumAttentionHeads { get; init; } = 32;
    /// <summary><c>num_key_value_heads</c>: key/value heads (grouped-query attention when fewer than the query heads).</summary>
    public int NumKeyValueHeads { get; init; } = 32;
    /// <summary><c>head_dim</c> when the file sets it; otherwise hidden_size / num_attention_heads.</summary>
    public int? HeadDim { get; init; }
    /// <summary><c>rms_norm_eps</c>.</summary>
    public double RmsNormEps { get; init; } = 1e-6;
    /// <summary><c>rope_theta</c>: base of the rotary frequencies.</summary>
    public double RopeTheta { get; init; } = 10000;
    /// <summary><c>rope_scaling</c>, or null.</summary>
    public RopeScaling? RopeScaling { get; init; }
    /// <summary><c>max_position_embeddings</c>: the longest sequence accepted.</summary>
    public int MaxPositionEmbeddings { get; init; } = 2048;
    /// <summary><c>tie_word_embeddings</c>: the output head is the embedding matrix (no <c>lm_head.weight</c>).</summary>
    public bool TieWordEmbeddings { get; init; }
    /// <summary><c>attention_bias</c> (llama): biases on q, k, v and o projections. Qwen2 always has q/k/v biases and no o bias.</summary>
    public bool AttentionBias { get; init; }
    /// <summary><c>mlp_bias</c> (llama): biases on the MLP projections.</summary>
    public bool MlpBias { get; init; }
    /// <summary><c>bos_token_id</c>, or null.</summary>
    public int? BosTokenId { get; init; }
    /// <summary><c>eos_token_id</c> (a number or a list in the file); the first is the one generation stops at.</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    /// <summary><c>pad_token_id</c>, or null.</summary>
    public int? PadTokenId { get; init; }
    /// <summary><c>torch_dtype</c> (or <c>dtype</c>) of the stored weights: "float32", "bfloat16" or "float16".</summary>
    public string TorchDtype { get; init; } = "float32";
    /// <summary><c>initializer_range</c>: standard deviation of a fresh model's weights.</summary>
    public double InitializerRange { get; init; } = 0.02;
    /// <summary>The file this was read from, for the keys not modelled here (null for a config built in code).</summary>
    public JsonObject? Source { get; init; }

    /// <summary>Equal shapes: every modelled key the same (<see cref="Source"/> is not compared).</summary>
    public bool Equals(HfConfig? other) => other is not null && Fields(TorchDtype).ToJsonString() == other.Fields(other.TorchDtype).ToJsonString();

    /// <inheritdoc />
    public override int GetHashCode() => Fields(TorchDtype).ToJsonString().GetHashCode();

    /// <summary>Width of one attention head.</summary>
    public int HeadDimension => HeadDim ?? HiddenSize / NumAttentionHeads;
    /// <summary>Whether q, k and v projections have biases.</summary>
    public bool QkvBias => ModelType == "qwen2" || AttentionBias;
    /// <summary>Whether the attention output projection has a bias.</summary>
    public bool OutputBias => ModelType == "llama" && AttentionBias;
    /// <summary>Whether the MLP projections have biases.</summary>
    public bool MlpBiases => ModelType == "llama" && MlpBias;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first key whose value cannot describe a model.</summary>
    public void Validate()
    {
        if (!SupportedModelTypes.Contains(ModelType))
            throw new ArgumentException($"model_type '{ModelType}' is not supported (supported: {string.Join(", ", SupportedModelTypes)})");
        Positive(VocabSize, "vocab_size"); Positive(HiddenSize, "hidden_size"); Positive(IntermediateSize, "intermediate_size");
        Positive(NumHiddenLayers, "num_hidden_layers"); Positive(NumAttentionHeads, "num_attention_heads");
        Positive(NumKeyValueHeads, "num_key_value_heads"); Positive(MaxPositionEmbeddings, "max_position_embeddings");
        if (NumAttentionHeads % NumKeyValueHeads != 0)
            throw new ArgumentException($"num_key_value_heads = {NumKeyValueHeads} must divide num_attention_heads = {NumAttentionHeads}");
        if (HeadDim is null && HiddenSize % NumAttentionHeads != 0)
            throw new ArgumentException($"num_attention_heads = {NumAttentionHeads} must divide hidden_size = {HiddenSize} (or set head_dim)");
        if (HeadDimension < 2 || HeadDimension % 2 != 0) throw new ArgumentException($"head_dim = {HeadDimension} must be even (rotary embeddings rotate pairs)");
        if (!(RmsNormEps > 0)) throw new ArgumentException($"rms_norm_eps must be > 0 (got {RmsNormEps})");
        if (!(RopeTheta > 0)) throw new ArgumentException($"rope_theta must be > 0 (got {RopeTheta})");
        if (!(InitializerRange > 0)) throw new ArgumentException($"initializer_range must be > 0 (got {InitializerRange})");
        if (RopeScaling is { } r && !(r.Factor > 0)) throw new ArgumentException($"rope_scaling.factor must be > 0 (got {r.Factor})");
        if (RopeScaling is { Type: "llama3" } l && !(l.HighFreqFactor > l.LowFreqFactor))
            throw new ArgumentException($"rope_scaling.high_freq_factor ({l.HighFreqFactor}) must exceed low_freq_factor ({l.LowFreqFactor})");
        DtypeOf(TorchDtype, "torch_dtype");
        foreach (var (name, id) in new[] { ("bos_token_id", BosTokenId), ("pad_token_id", PadTokenId) }.Concat(EosTokenIds.Select(e => ("eos_token_id", (int?)e))))
            if (id is { } v && (v < 0 || v >= VocabSize)) throw new ArgumentException($"{name} = {v} is outside the vocabulary (vocab_size = {VocabSize})");
    }

    private static void Positive(int value, string key)
    {
        if (value < 1) throw new ArgumentException($"{key} must be >= 1 (got {value})");
    }

    /// <summary>The torch dtype named <paramref name="name"/> ("float32", "bfloat16", "float16"); anything else throws naming <paramref name="key"/>.</summary>
    public static TorchSharp.torch.ScalarType DtypeOf(string name, string key = "dtype") => name switch
    {
        "float32" or "float" => TorchSharp.torch.ScalarType.Float32,
        "bfloat16" => TorchSharp.torch.ScalarType.BFloat16,
        "float16" or "half" => TorchSharp.torch.ScalarType.Float16,
        _ => throw new ArgumentException($"{key} '{name}' is not supported (float32, bfloat16 or float16)"),
    };

    /// <summary>The config.json name of <paramref name="dtype"/>.</summary>
    public static string DtypeName(TorchSharp.torch.ScalarType dtype) => dtype switch
    {
        TorchSharp.torch.ScalarType.Float32 => "float32",
        TorchSharp.torch.ScalarType.BFloat16 => "bfloat16",
        TorchSharp.torch.ScalarType.Float16 => "float16",
        _ => throw new ArgumentException($"dtype {dtype} is not supported (float32, bfloat16 or float16)"),
    };

    /// <summary>Reads and checks <paramref name="path"/>; a missing file, bad JSON or a bad value throws <see cref="InvalidDataException"/> naming the file and the key.</summary>
    public static HfConfig Load(string path)
    {
        if (!File.Exists(path)) throw new InvalidDataException($"{path} does not exist (a Hugging Face model directory holds config.json)");
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses config.json text; errors name <paramref name="origin"/> and the key.</summary>
    public static HfConfig Parse(string json, string origin = "config.json")
    {
        JsonObject root;
        try { root = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException($"{origin}: not a JSON object"); }
        catch (JsonException e) { throw new InvalidDataException($"{origin}: not valid JSON ({e.Message})", e); }
        try
        {
            string type = Str(root, "model_type") ?? throw new ArgumentException("model_type is missing");
            if (!SupportedModelTypes.Contains(type))
                throw new ArgumentException($"model_type '{type}' is not supported (supported: {string.Join(", ", SupportedModelTypes)})");
            bool qwen = type == "qwen2";
            if (qwen && Bool(root, "use_sliding_window") == true)
                throw new ArgumentException("use_sliding_window = true is not supported (sliding-window attention)");
            if (Str(root, "hidden_act") is { } act && act != "silu")
                throw new ArgumentException($"hidden_act '{act}' is not supported (silu)");
            int heads = Int(root, "num_attention_heads") ?? throw new ArgumentException("num_attention_heads is missing");
            var config = new HfConfig
            {
                ModelType = type,
                VocabSize = Int(root, "vocab_size") ?? (qwen ? 151936 : 32000),
                HiddenSize = Int(root, "hidden_size") ?? throw new ArgumentException("hidden_size is missing"),
                IntermediateSize = Int(root, "intermediate_size") ?? throw new ArgumentException("intermediate_size is missing"),
                NumHiddenLayers = Int(root, "num_hidden_layers") ?? throw new ArgumentException("num_hidden_layers is missing"),
                NumAttentionHeads = heads,
                NumKeyValueHeads = Int(root, "num_key_value_heads") ?? heads,
                HeadDim = Int(root, "head_dim"),
                RmsNormEps = Num(root, "rms_norm_eps") ?? 1e-6,
                RopeTheta = Num(root, "rope_theta") ?? (root["rope_parameters"] is JsonObject rp ? Num(rp, "rope_theta", "rope_parameters.") : null) ?? 10000,
                RopeScaling = ParseRopeScaling(root),
                MaxPositionEmbeddings = Int(root, "max_position_embeddings") ?? (qwen ? 32768 : 2048),
                TieWordEmbeddings = Bool(root, "tie_word_embeddings") ?? false,
                AttentionBias = Bool(root, "attention_bias") ?? false,
                MlpBias = Bool(root, "mlp_bias") ?? false,
                BosTokenId = Int(root, "bos_token_id"),
                EosTokenIds = root["eos_token_id"] is JsonArray list
                    ? list.Select((n, i) => IntValue(n, $"eos_token_id[{i}]")).ToArray()
                    : Int(root, "eos_token_id") is { } eos ? [eos] : [],
                PadTokenId = Int(root, "pad_token_id"),
                TorchDtype = Str(root, "torch_dtype") ?? Str(root, "dtype") ?? "float32",
                InitializerRange = Num(root, "initializer_range") ?? 0.02,
                Source = root,
            };
            config.Validate();
            return config;
        }
        catch (ArgumentException e) { throw new InvalidDataException($"{origin}: {e.Message}", e); }
    }

    private static RopeScaling? ParseRopeScaling(JsonObject root)
    {
        var node = root["rope_scaling"] ?? (root["rope_parameters"] is JsonObject rp && Str(rp, "rope_type") is not (null or "default") ? rp : null);
        if (node is null) return null;
        if (node is not JsonObject o) throw new ArgumentException("rope_scaling must be an object or null");
        string type = Str(o, "rope_type", "rope_scaling.") ?? Str(o, "type", "rope_scaling.") ?? throw new ArgumentException("rope_scaling.rope_type is missing");
        double factor = Num(o, "factor", "rope_scaling.") ?? throw new ArgumentException("rope_scaling.factor is missing");
        return type switch
        {
            "default" => null,
            "linear" => new RopeScaling("linear", factor),
            "llama3" => new RopeScaling("llama3", factor,
                Num(o, "low_freq_factor", "rope_scaling.") ?? throw new ArgumentException("rope_scaling.low_freq_factor is missing"),
                Num(o, "high_freq_factor", "rope_scaling.") ?? throw new ArgumentException("rope_scaling.high_freq_factor is missing"),
                Int(o, "original_max_position_embeddings", "rope_scaling.") ?? throw new ArgumentException("rope_scaling.original_max_position_embeddings is missing")),
            _ => throw new ArgumentException($"rope_scaling type '{type}' is not supported (linear, llama3)"),
        };
    }

    private static string? Str(JsonObject o, string key, string prefix = "") => o[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out string? s) => s,
        _ => throw new ArgumentException($"{prefix}{key} must be a string (got {o[key]!.ToJsonString()})"),
    };

    private static bool? Bool(JsonObject o, string key) => o[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out bool b) => b,
        _ => throw new ArgumentException($"{key} must be true or false (got {o[key]!.ToJsonString()})"),
    };

    private static double? Num(JsonObject o, string key, string prefix = "") => o[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.GetValue<double>(),
        _ => throw new ArgumentException($"{prefix}{key} must be a number (got {o[key]!.ToJsonString()})"),
    };

    private static int? Int(JsonObject o, string key, string prefix = "") => o[key] is null ? null : IntValue(o[key], prefix + key);

    private static int IntValue(JsonNode? node, string key)
    {
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number)
        {
            double d = v.GetValue<double>();
            if (d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue) return (int)d;
        }
        throw new ArgumentException($"{key} must be a whole number (got {node?.ToJsonString() ?? "null"})");
    }

    /// <summary>
    /// The config.json of this shape with the weights stored as <paramref name="torchDtype"/>: the keys of <see cref="Source"/>
    /// (when it was read from a file), then every key modelled here (overwriting), then <c>architectures</c>.
    /// </summary>
    public JsonObject ToJson(string? torchDtype = null)
    {
        var o = Source?.DeepClone() as JsonObject ?? new JsonObject();
        o.Remove("rope_parameters");
        o.Remove("dtype");
        foreach (var (key, value) in Fields(torchDtype ?? TorchDtype)) o[key] = value?.DeepClone();
        return o;
    }

    /// <summary>The modelled keys only.</summary>
    private JsonObject Fields(string torchDtype)
    {
        var o = new JsonObject();
        bool qwen = ModelType == "qwen2";
        o["architectures"] = new JsonArray(qwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM");
        o["model_type"] = ModelType;
        o["vocab_size"] = VocabSize;
        o["hidden_size"] = HiddenSize;
        o["intermediate_size"] = IntermediateSize;
        o["num_hidden_layers"] = NumHiddenLayers;
        o["num_attention_heads"] = NumAttentionHeads;
        o["num_key_value_heads"] = NumKeyValueHeads;
        if (HeadDim is { } hd) o["head_dim"] = hd;
        o["hidden_act"] = "silu";
        o["rms_norm_eps"] = RmsNormEps;
        o["rope_theta"] = RopeTheta;
        o["rope_scaling"] = RopeScaling switch
        {
            null => null,
            { Type: "linear" } r => new JsonObject { ["rope_type"] = "linear", ["factor"] = r.Factor },
            var r => new JsonObject
            {
                ["rope_type"] = r.Type, ["factor"] = r.Factor, ["low_freq_factor"] = r.LowFreqFactor,
                ["high_freq_factor"] = r.HighFreqFactor, ["original_max_position_embeddings"] = r.OriginalMaxPositionEmbeddings,
            },
        };
        o["max_position_embeddings"] = MaxPositionEmbeddings;
        o["tie_word_embeddings"] = TieWordEmbeddings;
        if (!qwen) { o["attention_bias"] = AttentionBias; o["mlp_bias"] = MlpBias; }
        else o["use_sliding_window"] = false;
        o["attention_dropout"] = 0.0;
        o["initializer_range"] = InitializerRange;
        o["bos_token_id"] = BosTokenId;
        o["eos_token_id"] = EosTokenIds.Count switch { 0 => null, 1 => EosTokenIds[0], _ => new JsonArray(EosTokenIds.Select(e => (JsonNode)e).ToArray()) };
        if (PadTokenId is { } pad) o["pad_token_id"] = pad;
        o["torch_dtype"] = torchDtype;
        o["use_cache"] = true;
        return o;
    }

    /// <summary>Parameters of the model (embeddings, and the output head when untied).</summary>
    public long ParameterCount() => HfDecoderLm.ExpectedTensors(this).Sum(t => t.Shape.Aggregate(1L, (a, d) => a * d));

    /// <summary>FLOPs (2 per multiply-add) of one forward pass per token at sequence length <paramref name="t"/>: the matmuls
    /// (projections, MLP, output head) plus attention scores and weighted sums averaged over a causal sequence.</summary>
    public double ForwardFlopsPerToken(int t)
    {
        double h = HiddenSize, q = NumAttentionHeads * (double)HeadDimension, kv = NumKeyValueHeads * (double)HeadDimension;
        double perLayer = h * q + 2 * h * kv + q * h + 3 * h * IntermediateSize;
        double matmul = NumHiddenLayers * perLayer + h * VocabSize;
        double attention = NumHiddenLayers * 2.0 * t * q; // QK^T and AV, ~t/2 keys each on average
        return 2 * matmul + 2 * attention;
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{ModelType} (hidden {HiddenSize}, layers {NumHiddenLayers}, heads {NumAttentionHeads}/{NumKeyValueHeads} kv, head_dim {HeadDimension}, mlp {IntermediateSize}, vocab {VocabSize}{(TieWordEmbeddings ? ", tied" : "")})");
}
