using RlActors.Policies.Hf;

namespace RlActors.Policies.Tests.Hf;

/// <summary>Tiny Hugging Face-layout configs for the tests (all weights from private generators).</summary>
internal static class HfTestModels
{
    /// <summary>A Llama with grouped-query attention (4 query heads share 2 key/value heads), an untied head and llama3 RoPE scaling.</summary>
    public static HfConfig Llama(int vocab = 40, int layers = 2, bool tied = false) => new()
    {
        ModelType = "llama",
        VocabSize = vocab,
        HiddenSize = 32,
        IntermediateSize = 48,
        NumHiddenLayers = layers,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        RmsNormEps = 1e-5,
        RopeTheta = 500000,
        RopeScaling = new RopeScaling("llama3", 8, 1, 4, 16),
        MaxPositionEmbeddings = 64,
        TieWordEmbeddings = tied,
        BosTokenId = 1,
        EosTokenIds = [2],
        PadTokenId = 0,
    };

    /// <summary>A Qwen2 (q/k/v biases, tied embeddings) with 4 query heads over 1 key/value head.</summary>
    public static HfConfig Qwen2(int vocab = 40, int layers = 2) => new()
    {
        ModelType = "qwen2",
        VocabSize = vocab,
        HiddenSize = 32,
        IntermediateSize = 40,
        NumHiddenLayers = layers,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 1,
        RmsNormEps = 1e-6,
        RopeTheta = 1000000,
        MaxPositionEmbeddings = 64,
        TieWordEmbeddings = true,
        EosTokenIds = [2],
    };

    /// <summary>A fresh temporary directory, deleted by the returned handle.</summary>
    public static TempDir Temp() => new(Directory.CreateTempSubdirectory("hf-").FullName);

    /// <summary>A directory deleted on dispose.</summary>
    public sealed record TempDir(string Path) : IDisposable
    {
        public void Dispose() { if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true); }
    }
}
