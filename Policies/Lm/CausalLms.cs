using System.Text.Json;
using System.Text.Json.Nodes;
using RlActors.Policies.Hf;
using static TorchSharp.torch;

namespace RlActors.Policies.Lm;

/// <summary>
/// A pretrained model in the Hugging Face layout to start from (experiment keys <c>model.type = "hf"</c>, <c>model.path</c>,
/// <c>model.dtype</c>): its directory (config.json, model.safetensors or shards, tokenizer files) and the dtype its
/// parameters are trained in. The directory is read by the learner only; samplers get the weights by version.
/// </summary>
/// <param name="Path">The model directory.</param>
/// <param name="Dtype">float32, bfloat16 or float16.</param>
public sealed record PretrainedModel(string Path, string Dtype = "float32")
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the key of the first invalid setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Path)) throw new ArgumentException("model.path must name a Hugging Face model directory");
        HfConfig.DtypeOf(Dtype, "model.dtype");
    }

    /// <summary>The directory's config.json (shape, vocabulary, context).</summary>
    /// <exception cref="InvalidDataException">It is missing or invalid (the message names the file and key).</exception>
    public HfConfig Config() => HfConfig.Load(System.IO.Path.Combine(Path, HfCheckpoint.ConfigFile));

    /// <summary>"path (config, N params, dtype)", as run headers print it (reads config.json once).</summary>
    public string Describe()
    {
        var c = Config();
        return $"{Path} ({c}, {c.ParameterCount():N0} params, {Dtype})";
    }

    /// <summary>Loads the pretrained weights (every tensor checked by name, shape and dtype before any is read).</summary>
    public HfDecoderLm Load(Device device) => HfCheckpoint.Load(Path, HfConfig.DtypeOf(Dtype, "model.dtype"), device);
}

/// <summary>
/// The architectures a language-model policy can have, as one string that travels with its weights: a node that receives
/// weights builds the model from the spec (<see cref="ForWeights"/>) without any file of its own. <c>gpt</c> is the toy
/// <see cref="TransformerLm"/>, <c>hf</c> a Llama/Qwen2 <see cref="HfDecoderLm"/> (its config.json and dtype).
/// </summary>
public static class CausalLms
{
    /// <summary>The spec of <paramref name="model"/>'s architecture (JSON).</summary>
    public static string SpecOf(ICausalLm model) => model switch
    {
        TransformerLm t => new JsonObject { ["type"] = "gpt", ["config"] = JsonSerializer.SerializeToNode(t.Config) }.ToJsonString(),
        HfDecoderLm h => new JsonObject { ["type"] = "hf", ["dtype"] = HfConfig.DtypeName(h.DType), ["config"] = h.Config.ToJson() }.ToJsonString(),
        _ => throw new ArgumentException($"no spec for a model of type {model.GetType().Name}"),
    };

    /// <summary>A model of the spec's architecture on <paramref name="device"/>, its parameters to be filled by
    /// <see cref="ICausalLm.LoadWeights"/> (a gpt model is initialised with seed 0 first).</summary>
    /// <exception cref="InvalidDataException">The spec is not one <see cref="SpecOf"/> writes.</exception>
    public static ICausalLm ForWeights(string spec, Device device)
    {
        JsonObject root;
        try { root = JsonNode.Parse(spec) as JsonObject ?? throw new InvalidDataException("model spec: not a JSON object"); }
        catch (JsonException e) { throw new InvalidDataException($"model spec: {e.Message}"); }
        var config = root["config"] ?? throw new InvalidDataException("model spec: no config");
        return (string?)root["type"] switch
        {
            "gpt" => new TransformerLm(config.Deserialize<LmConfig>() ?? throw new InvalidDataException("model spec: null gpt config"), 0, device),
            "hf" => HfDecoderLm.ForWeights(HfConfig.Parse(config.ToJsonString(), "model spec"), HfConfig.DtypeOf((string?)root["dtype"] ?? "float32"), device),
            var t => throw new InvalidDataException($"model spec: unknown type '{t}' (this node knows gpt and hf)"),
        };
    }
}
