using static TorchSharp.torch;

namespace RlActors.Policies.Lm;

/// <summary>
/// A batch of prompt + completion sequences in the layout every model call uses: prompts left-padded to a common
/// length <see cref="PromptLength"/>, completions right-padded after it. Positions count real tokens only, so a
/// row's numbers do not depend on how much padding its batch needed.
/// </summary>
public sealed class SequenceBatch : IDisposable
{
    /// <summary>Token ids [B, PromptLength + CompletionLength].</summary>
    public Tensor Tokens { get; }
    /// <summary>Position ids [B, T].</summary>
    public Tensor Positions { get; }
    /// <summary>True where a token is not left padding [B, T].</summary>
    public Tensor KeyValid { get; }
    /// <summary>Column where completions start.</summary>
    public int PromptLength { get; }
    /// <summary>Number of completion columns.</summary>
    public int CompletionLength { get; }

    private SequenceBatch(Tensor tokens, Tensor positions, Tensor keyValid, int promptLength, int completionLength)
    {
        Tokens = tokens; Positions = positions; KeyValid = keyValid;
        PromptLength = promptLength; CompletionLength = completionLength;
    }

    /// <summary>Wraps tensors already in this layout (the batch takes ownership).</summary>
    public static SequenceBatch FromTensors(Tensor tokens, Tensor positions, Tensor keyValid, int promptLength, int completionLength) =>
        new(tokens, positions, keyValid, promptLength, completionLength);

    /// <summary>Lays out prompts and completions (completions may be empty arrays or null for prompts only).</summary>
    public static SequenceBatch Build(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]>? completions, int padId, Device device)
    {
        int b = prompts.Count;
        if (b == 0) throw new ArgumentException("empty batch");
        if (completions is not null && completions.Count != b) throw new ArgumentException($"{completions.Count} completions for {b} prompts");
        int lp = prompts.Max(p => p.Length);
        if (prompts.Any(p => p.Length == 0)) throw new ArgumentException("a prompt is empty");
        int lc = completions is null || completions.Count == 0 ? 0 : completions.Max(c => c.Length);
        int t = lp + lc;
        var tokens = new long[b * t];
        var positions = new long[b * t];
        var valid = new bool[b * t];
        for (int r = 0; r < b; r++)
        {
            var p = prompts[r];
            int offset = lp - p.Length;
            for (int j = 0; j < t; j++)
            {
                int idx = r * t + j;
                if (j < offset) { tokens[idx] = padId; positions[idx] = 0; valid[idx] = false; continue; }
                int k = j - offset; // index among real tokens
                int id = j < lp ? p[j - offset] : (j - lp < completions![r].Length ? completions[r][j - lp] : padId);
                tokens[idx] = id; positions[idx] = k; valid[idx] = true;
            }
        }
        return new SequenceBatch(
            tensor(tokens, new long[] { b, t }, device: device),
            tensor(positions, new long[] { b, t }, device: device),
            tensor(valid, new long[] { b, t }, device: device), lp, lc);
    }

    /// <inheritdoc />
    public void Dispose() { Tokens.Dispose(); Positions.Dispose(); KeyValid.Dispose(); }
}

/// <summary>Per-token quantities of completions under a model.</summary>
public static class LmScoring
{
    /// <summary>
    /// Log-probabilities [B, Lc] of each completion token given everything before it, and (when asked) the
    /// entropy [B, Lc] of the model's next-token distribution at that place. Differentiable.
    /// </summary>
    public static (Tensor LogProbs, Tensor? Entropy) CompletionLogProbs(ICausalLm model, SequenceBatch batch, bool withEntropy = false)
    {
        using var scope = NewDisposeScope();
        if (batch.CompletionLength == 0) throw new ArgumentException("batch has no completion tokens");
        // Logits at column j predict token j+1: the completion's predictions sit at columns [Lp-1, Lp+Lc-1).
        var input = batch.Tokens.narrow(1, 0, batch.PromptLength + batch.CompletionLength - 1);
        var pos = batch.Positions.narrow(1, 0, input.shape[1]);
        var valid = batch.KeyValid.narrow(1, 0, input.shape[1]);
        var logits = model.Forward(input, pos, valid, null).narrow(1, batch.PromptLength - 1, batch.CompletionLength);
        var logp = nn.functional.log_softmax(logits, -1);
        var targets = batch.Tokens.narrow(1, batch.PromptLength, batch.CompletionLength).unsqueeze(-1);
        var tokenLogp = logp.gather(-1, targets).squeeze(-1);
        Tensor? entropy = withEntropy ? -(logp.exp() * logp).sum(-1) : null;
        return (tokenLogp.MoveToOuterDisposeScope(), entropy?.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Final hidden states [B, Lc, HiddenSize] at the places that predict each completion token (the same columns as
    /// <see cref="CompletionLogProbs"/>): the state before token j is emitted, which is what a value head scores.
    /// </summary>
    public static Tensor CompletionHiddenStates(ICausalLm model, SequenceBatch batch)
    {
        using var scope = NewDisposeScope();
        if (batch.CompletionLength == 0) throw new ArgumentException("batch has no completion tokens");
        int columns = batch.PromptLength + batch.CompletionLength - 1;
        var hidden = model.HiddenStates(batch.Tokens.narrow(1, 0, columns), batch.Positions.narrow(1, 0, columns), batch.KeyValid.narrow(1, 0, columns));
        return hidden.narrow(1, batch.PromptLength - 1, batch.CompletionLength).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The loss mask [B, Lc]: 1 for every completion token up to and including the first end or padding token,
    /// 0 after it. A policy therefore pays for emitting an early end or padding token; it cannot hide from a
    /// penalty by stopping (see the calibration notes of the foundation issue).
    /// </summary>
    public static float[] CompletionMask(IReadOnlyList<int[]> completions, int length, int eosId, int padId)
    {
        var mask = new float[completions.Count * length];
        for (int r = 0; r < completions.Count; r++)
        {
            var c = completions[r];
            for (int j = 0; j < length && j < c.Length; j++)
            {
                mask[r * length + j] = 1f;
                if (c[j] == eosId || c[j] == padId) break;
            }
        }
        return mask;
    }
}
