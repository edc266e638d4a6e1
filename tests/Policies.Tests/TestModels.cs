using RlActors.Environments.Arithmetic;
using RlActors.Policies.Lm;
using static TorchSharp.torch;

namespace RlActors.Policies.Tests;

/// <summary>Tiny models and helpers shared by the tests. Every random draw uses a private generator.</summary>
internal static class TestModels
{
    public const int Pad = CharTokenizer.Pad;
    public const int Eos = CharTokenizer.Eos;

    public static LmConfig Tiny(int dModel = 16, int layers = 1, int context = 32) => new()
    {
        VocabSize = CharTokenizer.Default.VocabSize,
        DModel = dModel,
        Layers = layers,
        Heads = 2,
        Context = context,
        MlpRatio = 2,
    };

    /// <summary>Per-token completion log-probabilities as a [B][Lc] array, without gradient.</summary>
    public static float[][] LogProbs(ICausalLm model, IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> completions)
    {
        using var _ = no_grad();
        using var batch = SequenceBatch.Build(prompts, completions, Pad, model.Device);
        var (logp, entropy) = LmScoring.CompletionLogProbs(model, batch);
        using (logp)
        {
            entropy?.Dispose();
            var flat = logp.cpu().data<float>().ToArray();
            int lc = batch.CompletionLength;
            return Enumerable.Range(0, prompts.Count).Select(r => flat.AsSpan(r * lc, lc).ToArray()).ToArray();
        }
    }

    /// <summary>Sum of log p(completion | prompt) over the completion's tokens.</summary>
    public static double SequenceLogProb(ICausalLm model, int[] prompt, int[] completion) =>
        LogProbs(model, [prompt], [completion])[0].Sum(x => (double)x);

    /// <summary>All parameters, flattened and concatenated, in registration order.</summary>
    public static float[] Weights(ICausalLm model) =>
        model.parameters().SelectMany(p => p.detach().to_type(ScalarType.Float32).cpu().data<float>().ToArray()).ToArray();
}
