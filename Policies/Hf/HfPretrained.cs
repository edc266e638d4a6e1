using RlActors.Environments.Tokenizers;
using static TorchSharp.torch;

namespace RlActors.Policies.Hf;

/// <summary>
/// A user's Hugging Face model directory as one unit: the decoder (<see cref="HfCheckpoint"/>) and its tokenizer
/// (<see cref="HfTokenizer.FromDirectory"/>), checked against each other; and the way back, a directory that
/// transformers loads with the tokenizer files next to the weights.
/// </summary>
public static class HfPretrained
{
    /// <summary>The tokenizer (and generation) files a model directory may hold, copied by <see cref="Export"/>.</summary>
    public static IReadOnlyList<string> TokenizerFiles { get; } =
        ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "added_tokens.json", "generation_config.json"];

    /// <summary>
    /// Loads the model in <paramref name="directory"/> (parameters of <paramref name="dtype"/> on <paramref name="device"/>) and
    /// the tokenizer of <paramref name="tokenizerDirectory"/> (default: the same directory). A tokenizer with ids the model
    /// has no rows for throws <see cref="InvalidDataException"/> naming both sizes; nothing is returned half-built.
    /// </summary>
    public static (HfDecoderLm Model, HfTokenizer Tokenizer) Load(string directory, ScalarType dtype = ScalarType.Float32, Device? device = null,
        string? tokenizerDirectory = null)
    {
        var tokenizer = HfTokenizer.FromDirectory(tokenizerDirectory ?? directory);
        CheckVocabulary(tokenizer, HfConfig.Load(Path.Combine(directory, HfCheckpoint.ConfigFile)), tokenizerDirectory ?? directory);
        return (HfCheckpoint.Load(directory, dtype, device), tokenizer);
    }

    /// <summary>A tokenizer with ids the model has no rows for throws <see cref="InvalidDataException"/> naming
    /// <paramref name="tokenizerDirectory"/> and both sizes.</summary>
    public static void CheckVocabulary(ITokenizer tokenizer, HfConfig config, string tokenizerDirectory)
    {
        if (tokenizer.VocabSize > config.VocabSize)
            throw new InvalidDataException($"{tokenizerDirectory}: the tokenizer has {tokenizer.VocabSize} ids but the model's vocab_size is {config.VocabSize}");
    }

    /// <summary>
    /// Writes <paramref name="model"/> to <paramref name="outputDirectory"/> (<see cref="HfCheckpoint.Save"/>) and copies the
    /// tokenizer files of <paramref name="tokenizerDirectory"/> next to it (those of <see cref="TokenizerFiles"/> that exist), so
    /// <c>AutoModelForCausalLM.from_pretrained</c> and <c>AutoTokenizer.from_pretrained</c> both read the result.
    /// </summary>
    public static void Export(HfDecoderLm model, string? tokenizerDirectory, string outputDirectory, long maxShardBytes = HfCheckpoint.DefaultMaxShardBytes)
    {
        HfCheckpoint.Save(model, outputDirectory, maxShardBytes);
        if (tokenizerDirectory is null || Path.GetFullPath(tokenizerDirectory) == Path.GetFullPath(outputDirectory)) return;
        foreach (var file in TokenizerFiles)
        {
            string from = Path.Combine(tokenizerDirectory, file);
            if (File.Exists(from)) File.Copy(from, Path.Combine(outputDirectory, file), overwrite: true);
        }
    }
}
