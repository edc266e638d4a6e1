using RlActors.Policies.Lm;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RlActors.Policies.Grpo;

/// <summary>One batch of scored completions, ready for an update. Rows are in a fixed order (group after group).</summary>
/// <param name="Prompts">Prompt ids per completion.</param>
/// <param name="Completions">Completion ids, all the same length Lc (padding after the end token).</param>
/// <param name="TokenAdvantages">[B·Lc] advantage of each completion token (0 where masked).</param>
/// <param name="Mask">[B·Lc] 1 for tokens that carry loss (up to and including the first end/padding token).</param>
public sealed record GrpoBatch(IReadOnlyList<int[]> Prompts, IReadOnlyList<int[]> Completions, float[] TokenAdvantages, float[] Mask)
{
    /// <summary>Completion columns.</summary>
    public int Length => Completions.Count == 0 ? 0 : Completions[0].Length;
}

/// <summary>
/// The GRPO learner: a policy, an optional frozen reference, and Adam. <see cref="Update"/> runs PPO-clip epochs
/// over one batch. All state that a resume needs is in <see cref="SaveOptimizer"/> and the policy's weights.
/// </summary>
public sealed class GrpoLearner : IDisposable
{
    private readonly Adam optimizer;
    private readonly int padId;

    /// <summary>The trained policy.</summary>
    public ICausalLm Policy { get; }
    /// <summary>The frozen reference policy (a copy of the starting policy) when KlCoef &gt; 0.</summary>
    public ICausalLm? Reference { get; }
    /// <summary>Hyperparameters.</summary>
    public GrpoOptions Options { get; }

    /// <summary>Wraps <paramref name="policy"/>; the reference is a frozen copy of it as it is now (when KlCoef &gt; 0).</summary>
    public GrpoLearner(ICausalLm policy, GrpoOptions options, int padId)
    {
        options.Validate();
        Policy = policy;
        Options = options;
        this.padId = padId;
        optimizer = optim.Adam(policy.parameters(), options.LearningRate, options.AdamBeta1, options.AdamBeta2, options.AdamEps);
        if (options.KlCoef > 0)
        {
            Reference = policy.Clone();
            Reference.eval();
            foreach (var p in Reference.parameters()) p.requires_grad = false;
        }
    }

    /// <summary>Runs <see cref="GrpoOptions.UpdateEpochs"/> × <see cref="GrpoOptions.MiniBatches"/> optimizer steps on the batch. Returns the metrics of the update.</summary>
    public Dictionary<string, double> Update(GrpoBatch batch)
    {
        int b = batch.Completions.Count, lc = batch.Length;
        if (batch.Prompts.Count != b) throw new ArgumentException($"{batch.Prompts.Count} prompts for {b} completions");
        if (batch.TokenAdvantages.Length != b * lc || batch.Mask.Length != b * lc)
            throw new ArgumentException($"advantages/mask must have {b}×{lc} entries");
        var device = Policy.Device;
        Policy.train();

        using var outer = NewDisposeScope();
        using var seqs = SequenceBatch.Build(batch.Prompts, batch.Completions, padId, device);
        var adv = tensor(batch.TokenAdvantages, new long[] { b, lc }, device: device);
        var mask = tensor(batch.Mask, new long[] { b, lc }, device: device);
        Tensor oldLogp, entropy;
        Tensor? refLogp = null;
        using (no_grad())
        {
            var (lp, ent) = LmScoring.CompletionLogProbs(Policy, seqs, withEntropy: true);
            oldLogp = lp; entropy = ent!;
            if (Reference is not null) refLogp = LmScoring.CompletionLogProbs(Reference, seqs).LogProbs;
        }

        double lossSum = 0, clipSum = 0, klSum = 0, klRefSum = 0, gradNorm = 0;
        int parts = Options.MiniBatches;
        for (int epoch = 0; epoch < Options.UpdateEpochs; epoch++)
        {
            lossSum = clipSum = klSum = klRefSum = 0;
            for (int m = 0; m < parts; m++)
            {
                using var scope = NewDisposeScope();
                long start = (long)b * m / parts, end = (long)b * (m + 1) / parts;
                var rows = arange(start, end, dtype: int64, device: device);
                using var mb = Slice(seqs, rows);
                var (logp, _) = LmScoring.CompletionLogProbs(Policy, mb);
                var (loss, stats) = GrpoMath.Loss(logp, oldLogp.index_select(0, rows), refLogp?.index_select(0, rows),
                    adv.index_select(0, rows), mask.index_select(0, rows), Options);
                optimizer.zero_grad();
                loss.backward();
                gradNorm = Options.MaxGradNorm > 0
                    ? nn.utils.clip_grad_norm_(Policy.parameters(), Options.MaxGradNorm)
                    : TotalGradNorm();
                optimizer.step();
                lossSum += loss.item<float>();
                clipSum += stats.ClipFrac; klSum += stats.ApproxKl; klRefSum += stats.KlRef;
            }
        }

        double n = Math.Max(1, mask.sum().item<float>());
        var metrics = new Dictionary<string, double>
        {
            [GrpoMetrics.Loss] = lossSum / parts,
            [GrpoMetrics.ClipFrac] = clipSum / parts,
            [GrpoMetrics.ApproxKl] = klSum / parts,
            [GrpoMetrics.Entropy] = (entropy * mask).sum().item<float>() / n,
            [GrpoMetrics.GradNorm] = gradNorm,
            [GrpoMetrics.CompletionLength] = n / b,
        };
        if (Reference is not null) metrics[GrpoMetrics.KlRef] = klRefSum / parts;
        return metrics;
    }

    private double TotalGradNorm()
    {
        double ss = 0;
        foreach (var p in Policy.parameters())
            if (p.grad is not null) ss += p.grad.pow(2).sum().item<float>();
        return Math.Sqrt(ss);
    }

    private static SequenceBatch Slice(SequenceBatch s, Tensor rows) => SequenceBatch.FromTensors(
        s.Tokens.index_select(0, rows), s.Positions.index_select(0, rows), s.KeyValid.index_select(0, rows), s.PromptLength, s.CompletionLength);

    private int savedOptimizerSize; // size of the last SaveOptimizer: the next one writes into a buffer of that size, no copy

    /// <summary>Adam's state (moments and step counts) as bytes.</summary>
    public byte[] SaveOptimizer() => Runtime.TorchBytes.SaveOptimizer(optimizer, ref savedOptimizerSize);

    /// <summary>Restores Adam's state saved by <see cref="SaveOptimizer"/>.</summary>
    public void LoadOptimizer(byte[] bytes) => Runtime.TorchBytes.LoadOptimizer(optimizer, bytes);

    /// <summary>Restores the frozen reference policy (saved with the checkpoint: it is the policy as it was when GRPO began).</summary>
    public void LoadReference(byte[] weights)
    {
        if (Reference is null) throw new InvalidOperationException("this learner has no reference model (grpo.kl-coef = 0)");
        Reference.LoadWeights(weights);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        optimizer.Dispose();
        Reference?.Dispose();
    }
}
