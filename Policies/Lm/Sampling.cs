using static TorchSharp.torch;

namespace RlActors.Policies.Lm;

/// <summary>How to draw completions.</summary>
public sealed record SampleOptions
{
    /// <summary>Softmax temperature; 0 means greedy (argmax).</summary>
    public double Temperature { get; init; } = 1.0;
    /// <summary>Keep only the k most likely tokens before sampling; 0 keeps all.</summary>
    public int TopK { get; init; } = 0;
    /// <summary>Most tokens generated per completion (the end token included).</summary>
    public int MaxNewTokens { get; init; } = 32;
    /// <summary>Reuse keys/values of earlier positions (much faster); false recomputes the whole prefix each step.</summary>
    public bool UseKvCache { get; init; } = true;
}

/// <summary>Completions drawn for a batch of prompts.</summary>
/// <param name="Completions">Per row: generated ids; after the first end token the row holds padding. All rows have the same length.</param>
/// <param name="LogProbs">Per row: log-probability of each generated token under the model at temperature 1 (0 after the end).</param>
/// <param name="GeneratedTokens">Tokens generated up to and including each row's end token (the useful work).</param>
public sealed record SampleResult(int[][] Completions, float[][] LogProbs, long GeneratedTokens);

/// <summary>Batched autoregressive sampling with an optional key/value cache.</summary>
public static class LmSampler
{
    /// <summary>
    /// Generates completions for every prompt. Randomness comes only from <paramref name="generator"/> (a private
    /// torch generator the caller owns and can save), so the same generator state gives the same completions.
    /// Rows stop at <paramref name="eosId"/>; generation ends when every row has stopped or after MaxNewTokens.
    /// </summary>
    public static SampleResult Sample(ICausalLm model, IReadOnlyList<int[]> prompts, SampleOptions options,
        Generator? generator, int eosId, int padId)
    {
        if (options.MaxNewTokens < 1) throw new ArgumentException($"max-new-tokens must be >= 1 (got {options.MaxNewTokens})");
        int b = prompts.Count;
        int maxPrompt = prompts.Max(p => p.Length);
        int steps = Math.Min(options.MaxNewTokens, model.MaxLength - maxPrompt);
        if (steps < 1) throw new ArgumentException($"prompt of {maxPrompt} tokens leaves no room in model.context = {model.MaxLength}");
        var device = model.Device;
        var outIds = new List<long[]>();
        var outLogp = new List<float[]>();
        var done = new bool[b];
        long generated = 0;

        using var noGrad = no_grad();
        using var batch = SequenceBatch.Build(prompts, null, padId, device);
        using var cache = options.UseKvCache ? model.NewCache(b, maxPrompt + steps) : null;
        Tensor tokens = batch.Tokens.alias(), positions = batch.Positions.alias(), valid = batch.KeyValid.alias();
        var nextPos = batch.Positions.select(1, maxPrompt - 1) + 1;
        Tensor input = tokens, inputPos = positions;
        try
        {
            for (int s = 0; s < steps; s++)
            {
                using var scope = NewDisposeScope();
                var logits = (cache is null
                        ? model.Forward(tokens, positions, valid, null)
                        : model.Forward(input, inputPos, valid, cache))
                    .select(1, -1); // B, V
                var logp = nn.functional.log_softmax(logits, -1);
                Tensor next;
                if (options.Temperature <= 0) next = logits.argmax(-1);
                else
                {
                    var scaled = logits / options.Temperature;
                    if (options.TopK > 0 && options.TopK < scaled.shape[1])
                    {
                        var (vals, _) = topk(scaled, options.TopK, dim: -1);
                        var threshold = vals.select(1, options.TopK - 1).unsqueeze(1);
                        scaled = scaled.masked_fill(scaled.lt(threshold), float.NegativeInfinity);
                    }
                    next = multinomial(nn.functional.softmax(scaled, -1), 1, generator: generator).squeeze(1);
                }
                var chosenLogp = logp.gather(1, next.unsqueeze(1)).squeeze(1);
                var ids = next.cpu().data<long>().ToArray();
                var lps = chosenLogp.cpu().data<float>().ToArray();
                for (int r = 0; r < b; r++)
                {
                    if (done[r]) { ids[r] = padId; lps[r] = 0f; continue; }
                    generated++;
                    if (ids[r] == eosId || ids[r] == padId) done[r] = true;
                }
                outIds.Add(ids);
                outLogp.Add(lps);
                if (done.All(x => x)) break;

                var nextTok = tensor(ids, new long[] { b, 1 }, device: device);
                var nextPosT = (nextPos + s).unsqueeze(1);
                var newValid = cat(new[] { valid, ones(b, 1, dtype: ScalarType.Bool, device: device) }, 1);
                if (cache is null)
                {
                    var newTokens = cat(new[] { tokens, nextTok }, 1);
                    var newPositions = cat(new[] { positions, nextPosT }, 1);
                    tokens.Dispose(); positions.Dispose();
                    tokens = newTokens.MoveToOuterDisposeScope();
                    positions = newPositions.MoveToOuterDisposeScope();
                }
                else
                {
                    if (!ReferenceEquals(input, tokens)) { input.Dispose(); inputPos.Dispose(); }
                    input = nextTok.MoveToOuterDisposeScope();
                    inputPos = nextPosT.MoveToOuterDisposeScope();
                }
                valid.Dispose();
                valid = newValid.MoveToOuterDisposeScope();
            }
        }
        finally
        {
            if (!ReferenceEquals(input, tokens)) { input.Dispose(); inputPos.Dispose(); }
            tokens.Dispose(); positions.Dispose(); valid.Dispose(); nextPos.Dispose();
        }

        int len = outIds.Count;
        var completions = new int[b][];
        var logps = new float[b][];
        for (int r = 0; r < b; r++)
        {
            completions[r] = new int[len];
            logps[r] = new float[len];
            for (int j = 0; j < len; j++) { completions[r][j] = (int)outIds[j][r]; logps[r][j] = outLogp[j][r]; }
        }
        return new SampleResult(completions, logps, generated);
    }
}
