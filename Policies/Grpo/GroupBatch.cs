using RlActors.Policies.Lm;

namespace RlActors.Policies.Grpo;

/// <summary>One prompt's completions and their rewards, as a sampler and the reward actors produce them.</summary>
/// <param name="Prompt">Prompt ids.</param>
/// <param name="Completions">G completions (rows may differ in length between groups, not within one).</param>
/// <param name="Rewards">One reward per completion.</param>
/// <param name="TokenRewards">Optional per-token rewards [G][len] that add to the sequence advantage (token-level credit, e.g. CAPO).</param>
public sealed record ScoredGroup(int[] Prompt, int[][] Completions, float[] Rewards, float[][]? TokenRewards = null);

/// <summary>Turns scored groups into a <see cref="GrpoBatch"/>: group-relative advantages spread over each completion's tokens.</summary>
public static class GroupBatch
{
    /// <summary>
    /// Builds the batch in the given group order (callers order by slot, not arrival, so the result is reproducible).
    /// Completions are right-padded with <paramref name="padId"/> to a common length.
    /// </summary>
    public static (GrpoBatch Batch, GroupAdvantages Advantages) Build(IReadOnlyList<ScoredGroup> groups, GrpoOptions o, int eosId, int padId)
    {
        if (groups.Count == 0) throw new ArgumentException("no groups");
        int g = groups[0].Completions.Length;
        if (groups.Any(x => x.Completions.Length != g || x.Rewards.Length != g))
            throw new ArgumentException("every group must have the same number of completions and rewards");
        int length = groups.Max(x => x.Completions.Max(c => c.Length));
        var prompts = new List<int[]>();
        var completions = new List<int[]>();
        var rewards = new float[groups.Count * g];
        for (int i = 0; i < groups.Count; i++)
            for (int j = 0; j < g; j++)
            {
                prompts.Add(groups[i].Prompt);
                var c = groups[i].Completions[j];
                var padded = new int[length];
                Array.Copy(c, padded, c.Length);
                for (int k = c.Length; k < length; k++) padded[k] = padId;
                completions.Add(padded);
                rewards[i * g + j] = groups[i].Rewards[j];
            }
        var adv = GrpoMath.Compute(rewards, g, o.NormalizeStd, o.StdEpsilon);
        var mask = LmScoring.CompletionMask(completions, length, eosId, padId);
        var tokenAdv = GrpoMath.PerToken(adv.Advantages, mask, length);
        for (int i = 0; i < groups.Count; i++)
        {
            if (groups[i].TokenRewards is not { } tr) continue;
            for (int j = 0; j < g; j++)
            {
                int row = i * g + j;
                for (int k = 0; k < tr[j].Length && k < length; k++) tokenAdv[row * length + k] += tr[j][k] * mask[row * length + k];
            }
        }
        return (new GrpoBatch(prompts, completions, tokenAdv, mask), adv);
    }
}
