using System.CommandLine;
using System.Text.Json;
using RlActors.Environments.Tokenizers;
using RlActors.Host.Configuration;
using RlActors.Policies.Hf;

namespace RlActors.Host;

/// <summary>
/// <c>rlactors make-hf-model</c>: writes a freshly initialised Llama or Qwen2 model in the Hugging Face layout (config.json,
/// model.safetensors) with a byte-level BPE tokenizer learned from the user's text (tokenizer.json, tokenizer_config.json).
/// For trying <c>model.type = "hf"</c> without a downloaded checkpoint, and for the tests and examples here; the directory
/// is what <c>AutoModelForCausalLM.from_pretrained</c> and <c>AutoTokenizer.from_pretrained</c> read.
/// </summary>
internal static class MakeHfModel
{
    public static Command Command()
    {
        var output = new Option<string>("--out") { Description = "Directory to write the model into (created; must be empty or missing)", Required = true };
        var type = new Option<string>("--model-type") { Description = "llama or qwen2 (q/k/v biases, tied embeddings by default)", DefaultValueFactory = _ => "qwen2" };
        var hidden = new Option<int>("--hidden") { Description = "hidden_size", DefaultValueFactory = _ => 128 };
        var layers = new Option<int>("--layers") { Description = "num_hidden_layers", DefaultValueFactory = _ => 4 };
        var heads = new Option<int>("--heads") { Description = "num_attention_heads (must divide --hidden)", DefaultValueFactory = _ => 4 };
        var kvHeads = new Option<int>("--kv-heads") { Description = "num_key_value_heads (must divide --heads; fewer than --heads is grouped-query attention)", DefaultValueFactory = _ => 2 };
        var intermediate = new Option<int>("--intermediate") { Description = "intermediate_size of the SwiGLU MLP (default: 8/3 of --hidden, rounded up to 32)" };
        var context = new Option<int>("--context") { Description = "max_position_embeddings", DefaultValueFactory = _ => 512 };
        var untied = new Option<bool>("--untied") { Description = "separate lm_head weights (tie_word_embeddings = false)" };
        var corpus = new Option<string[]>("--corpus") { Description = "Text the tokenizer's merges are learned from: JSONL files (every string field of every row) or plain text files; repeatable", AllowMultipleArgumentsPerToken = true };
        var merges = new Option<int>("--merges") { Description = "BPE merges to learn (the vocabulary is 256 bytes + merges + end and padding tokens)", DefaultValueFactory = _ => 1000 };
        var seed = new Option<long>("--seed") { Description = "Seed of the weights' initialisation", DefaultValueFactory = _ => 1 };
        var command = new Command("make-hf-model", "Write a freshly initialised Llama/Qwen2 model in the Hugging Face layout with a byte-level BPE tokenizer " +
            "learned from --corpus, for model.type = \"hf\" (e.g. examples/hf-word-problems-grpo.conf)")
        {
            output, type, hidden, layers, heads, kvHeads, intermediate, context, untied, corpus, merges, seed,
        };
        command.SetAction((pr, _) => Cli.Guard(() =>
        {
            string dir = pr.GetValue(output)!;
            if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any()) throw new ConfigError($"--out: {dir} is not empty");
            if (File.Exists(dir)) throw new ConfigError($"--out: {dir} is a file");
            string modelType = pr.GetValue(type)!;
            if (!HfConfig.SupportedModelTypes.Contains(modelType)) throw new ConfigError($"--model-type: expected {string.Join(" or ", HfConfig.SupportedModelTypes)}, got '{modelType}'");
            int merge = pr.GetValue(merges);
            if (merge < 0) throw new ConfigError($"--merges {merge}: must be >= 0");
            var files = pr.GetValue(corpus) ?? [];
            foreach (var f in files) if (!File.Exists(f)) throw new ConfigError($"--corpus: {f} does not exist");
            int h = pr.GetValue(hidden);
            var bpe = BpeTrainer.Train(files.SelectMany(Texts), merge);
            var config = new HfConfig
            {
                ModelType = modelType,
                VocabSize = bpe.VocabSize,
                HiddenSize = h,
                IntermediateSize = pr.GetValue(intermediate) is int i and > 0 ? i : (h * 8 / 3 + 31) / 32 * 32,
                NumHiddenLayers = pr.GetValue(layers),
                NumAttentionHeads = pr.GetValue(heads),
                NumKeyValueHeads = pr.GetValue(kvHeads),
                MaxPositionEmbeddings = pr.GetValue(context),
                TieWordEmbeddings = !pr.GetValue(untied),
                RopeTheta = modelType == "qwen2" ? 1_000_000 : 500_000,
                RmsNormEps = 1e-6,
                EosTokenIds = [bpe.EosId],
                PadTokenId = bpe.PadId,
            };
            try { config.Validate(); }
            catch (ArgumentException e) { throw new ConfigError($"--hidden/--layers/--heads/--kv-heads/--intermediate/--context: {e.Message}"); }
            using var model = new HfDecoderLm(config, pr.GetValue(seed));
            HfCheckpoint.Save(model, dir);
            BpeTrainer.Write(bpe, dir, config.MaxPositionEmbeddings);
            Console.Out.WriteLine($"wrote {dir}: {config}, {config.ParameterCount():N0} parameters; tokenizer of {bpe.VocabSize} ids ({bpe.Merges.Count} merges learned from {files.Length} corpus file(s))");
            return Task.FromResult(0);
        }));
        return command;
    }

    /// <summary>The text of a corpus file: every string value of every row of a .jsonl file, or the whole file.</summary>
    private static IEnumerable<string> Texts(string path)
    {
        if (!path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
        {
            yield return File.ReadAllText(path);
            yield break;
        }
        int line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            JsonDocument doc;
            try { doc = JsonDocument.Parse(text); }
            catch (JsonException e) { throw new ConfigError($"--corpus: {path}:{line}: not valid JSON ({e.Message})"); }
            using (doc)
                foreach (var p in doc.RootElement.EnumerateObject())
                    if (p.Value.ValueKind == JsonValueKind.String) yield return p.Value.GetString()!;
        }
    }
}
