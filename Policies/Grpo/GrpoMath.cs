using static TorchSharp.torch;

namespace RlActors.Policies.Grpo;

/// <summary>Group-relative advantages of one batch.</summary>
/// <param name="Advantages">One per completion, in input order.</param>
/// <param name="ZeroStdGroups">Groups whose rewards were all equal.</param>
public sealed record GroupAdvantages(float[] Advantages, int ZeroStdGroups);

/// <summary>Scalars reported by <see cref="GrpoMath.Loss"/>.</summary>
public sealed record GrpoLossStats(double ClipFrac, double ApproxKl, double KlRef);

/// <summary>The maths of GRPO, free of models and data: advantages and the clipped policy loss.</summary>
public static class GrpoMath
{
    /// <summary>
    /// A_i = (r_i − mean(group)) / (std(group) + ε) when <paramref name="normalizeStd"/>, else r_i − mean(group).
    /// Rewards are laid out group after group: completions [g·G, (g+1)·G) belong to prompt g. std is the sample
    /// standard deviation (n − 1), as in TRL's GRPO.
    /// </summary>
    public static GroupAdvantages Compute(ReadOnlySpan<float> rewards, int groupSize, bool normalizeStd, double epsilon)
    {
        if (groupSize < 1) throw new ArgumentException($"group size must be >= 1 (got {groupSize})");
        if (rewards.Length % groupSize != 0) throw new ArgumentException($"{rewards.Length} rewards are not whole groups of {groupSize}");
        var adv = new float[rewards.Length];
        int zero = 0;
        for (int g = 0; g < rewards.Length / groupSize; g++)
        {
            var group = rewards.Slice(g * groupSize, groupSize);
            double mean = 0;
            foreach (var r in group) mean += r;
            mean /= groupSize;
            double ss = 0;
            foreach (var r in group) ss += (r - mean) * (r - mean);
            double std = groupSize > 1 ? Math.Sqrt(ss / (groupSize - 1)) : 0;
            if (ss == 0) zero++;
            for (int i = 0; i < groupSize; i++)
            {
                double a = group[i] - mean;
                if (normalizeStd) a /= std + epsilon;
                adv[g * groupSize + i] = (float)a;
            }
        }
        return new GroupAdvantages(adv, zero);
    }

    /// <summary>Spreads one advantage per sequence over its unmasked tokens: result[r, j] = adv[r] · mask[r, j].</summary>
    public static float[] PerToken(ReadOnlySpan<float> sequenceAdvantages, ReadOnlySpan<float> mask, int length)
    {
        if (mask.Length != sequenceAdvantages.Length * length) throw new ArgumentException("mask does not match advantages × length");
        var result = new float[mask.Length];
        for (int r = 0; r < sequenceAdvantages.Length; r++)
            for (int j = 0; j < length; j++) result[r * length + j] = sequenceAdvantages[r] * mask[r * length + j];
        return result;
    }

    /// <summary>
    /// The GRPO objective on per-token inputs, all [B, T]:
    /// per token, ρ = exp(logp − oldLogp), loss = max(−A·ρ, −A·clip(ρ, 1 − ClipLow, 1 + ClipHigh)) + β·k3(ref, new),
    /// with k3 = exp(ref − new) − (ref − new) − 1; averaged by <see cref="GrpoOptions.Aggregation"/> over mask.
    /// Advantages are per token, so token-level credit (CAPO) needs no change here.
    /// </summary>
    public static (Tensor Loss, GrpoLossStats Stats) Loss(Tensor logp, Tensor oldLogp, Tensor? refLogp, Tensor advantages, Tensor mask, GrpoOptions o)
    {
        using var scope = NewDisposeScope();
        var logRatio = logp - oldLogp;
        var ratio = logRatio.exp();
        var unclipped = -advantages * ratio;
        var clipped = -advantages * ratio.clamp(1 - o.ClipLow, 1 + o.ClipHigh);
        var perToken = maximum(unclipped, clipped);
        Tensor? k3Ref = null;
        if (refLogp is not null && o.KlCoef > 0)
        {
            var d = refLogp - logp;
            k3Ref = d.exp() - d - 1;
            perToken = perToken + o.KlCoef * k3Ref;
        }
        var loss = Aggregate(perToken, mask, o.Aggregation);

        double clipFrac, approxKl, klRef = 0;
        using (no_grad())
        {
            var n = mask.sum().clamp_min(1);
            var outside = ratio.lt(1 - o.ClipLow).logical_or(ratio.gt(1 + o.ClipHigh)).to_type(ScalarType.Float32);
            clipFrac = ((outside * mask).sum() / n).item<float>();
            var k3Old = (-logRatio).exp() + logRatio - 1; // KL(old || new), k3
            approxKl = ((k3Old * mask).sum() / n).item<float>();
            if (k3Ref is not null) klRef = ((k3Ref * mask).sum() / n).item<float>();
        }
        return (loss.MoveToOuterDisposeScope(), new GrpoLossStats(clipFrac, approxKl, klRef));
    }

    /// <summary>Averages per-token values [B, T] over the mask.</summary>
    public static Tensor Aggregate(Tensor perToken, Tensor mask, LossAggregation aggregation) => aggregation switch
    {
        LossAggregation.TokenMean => (perToken * mask).sum() / mask.sum().clamp_min(1),
        LossAggregation.SequenceMean => ((perToken * mask).sum(1) / mask.sum(1).clamp_min(1)).mean(),
        _ => throw new ArgumentOutOfRangeException(nameof(aggregation)),
    };
}
