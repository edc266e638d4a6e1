namespace RlActors.Rewards;

/// <summary>The outcome of one reward component for one group, as input to <see cref="WeightedReward.Combine"/>.</summary>
/// <param name="Name">The component's name (e.g. "outcome").</param>
/// <param name="Weight">Its weight in the sum; any finite value, negative weights allowed.</param>
/// <param name="Scores">Its scores when it succeeded (already validated, e.g. by <see cref="RewardGuard"/>); null when it failed.</param>
/// <param name="Failure">Why it failed, or null when it succeeded. A non-null failure wins over non-null scores.</param>
public sealed record ComponentResult(string Name, double Weight, GroupScores? Scores, string? Failure)
{
    /// <summary>Whether the component contributes to the sum: it has scores and no failure.</summary>
    public bool Succeeded => Scores is not null && Failure is null;

    /// <summary>Makes a component result from the outcome of <see cref="RewardGuard.RunAsync"/>.</summary>
    public static ComponentResult FromGuarded(string name, double weight, GuardedResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return new ComponentResult(name, weight, result.Kind == FailureKind.None ? result.Scores : null,
            result.Kind == FailureKind.None ? null : result.Failure ?? result.Kind.ToString());
    }
}

/// <summary>The combined reward of one group.</summary>
/// <param name="Sequence">Per sample, Σ weight·score over the components that succeeded.</param>
/// <param name="FailedComponents">The names of the components that failed for this group, in input order.</param>
public sealed record CombinedScores(double[] Sequence, IReadOnlyList<string> FailedComponents)
{
    /// <summary>
    /// Per sample and token, Σ weight·token score over the successful components, or null when no successful
    /// component has per-token scores. See <see cref="WeightedReward.Combine"/>.
    /// </summary>
    public double[][]? PerToken { get; init; }

    /// <summary>The sums of the successful components' <see cref="GroupScores.Counters"/> (unweighted), or null when none has any.</summary>
    public IReadOnlyDictionary<string, double>? Counters { get; init; }

    /// <summary>
    /// Per sample and token, the combined token reward minus the sample's sequence reward (e.g. CAPO's −P on the tokens
    /// of wrong steps), or null without per-token scores: what the learner adds, unnormalised, to the group-normalised
    /// sequence advantage.
    /// </summary>
    public float[][]? TokenExtras() => PerToken?.Select((row, i) => row.Select(x => (float)(x - Sequence[i])).ToArray()).ToArray();

    /// <summary>Whether every component succeeded.</summary>
    public bool AllSucceeded => FailedComponents.Count == 0;
}

/// <summary>Combines several reward components into one reward per sample (and per token).</summary>
public static class WeightedReward
{
    /// <summary>
    /// Sums the weighted scores of the components that succeeded.
    /// </summary>
    /// <remarks>
    /// <para>Failures: a failed component contributes nothing for this group, its weight is simply missing from
    /// the sum. The others are <em>not</em> renormalised, so the scale of the reward stays comparable between
    /// groups; the failure is reported in <see cref="CombinedScores.FailedComponents"/> so it can be counted
    /// (and a learner can choose to drop groups with failures).</para>
    /// <para>Per-token: when at least one successful component has <see cref="GroupScores.PerToken"/>, the
    /// combined per-token reward of sample i, token t is Σ weight·(the component's PerToken[i][t], or, for a
    /// component without per-token scores, its sequence score broadcast to every token, padding included).
    /// Otherwise <see cref="CombinedScores.PerToken"/> is null. Per-step scores are not combined.</para>
    /// </remarks>
    /// <param name="parts">The components, each with its weight and its result for this group.</param>
    /// <param name="sampleCount">The number of samples in the group.</param>
    /// <exception cref="ArgumentException">A weight is not finite.</exception>
    /// <exception cref="RewardContractException">Successful scores do not have <paramref name="sampleCount"/>
    /// entries, or two components disagree on a sample's token count.</exception>
    public static CombinedScores Combine(IReadOnlyList<ComponentResult> parts, int sampleCount)
    {
        ArgumentNullException.ThrowIfNull(parts);
        ArgumentOutOfRangeException.ThrowIfNegative(sampleCount);

        var sequence = new double[sampleCount];
        var failed = new List<string>();
        var succeeded = new List<ComponentResult>();
        foreach (ComponentResult part in parts)
        {
            ArgumentNullException.ThrowIfNull(part, nameof(parts));
            if (!double.IsFinite(part.Weight))
                throw new ArgumentException($"Reward component '{part.Name}' has weight {part.Weight}; weights must be finite.", nameof(parts));
            if (!part.Succeeded)
            {
                failed.Add(part.Name);
                continue;
            }
            GroupScores scores = part.Scores!;
            if (scores.Sequence.Length != sampleCount)
                throw new RewardContractException(
                    $"Reward component '{part.Name}' has {scores.Sequence.Length} sequence scores for {sampleCount} samples.");
            if (scores.PerToken is { } pt && pt.Length != sampleCount)
                throw new RewardContractException(
                    $"Reward component '{part.Name}' has per-token scores for {pt.Length} samples, not {sampleCount}.");
            for (int i = 0; i < sampleCount; i++)
                sequence[i] += part.Weight * scores.Sequence[i];
            succeeded.Add(part);
        }

        Dictionary<string, double>? counters = null;
        foreach (ComponentResult part in succeeded)
            if (part.Scores!.Counters is { } c)
                RewardCounters.AddInto(counters ??= new Dictionary<string, double>(), c);
        return new CombinedScores(sequence, failed.AsReadOnly())
        {
            PerToken = CombinePerToken(succeeded, sampleCount),
            Counters = counters,
        };
    }

    private static double[][]? CombinePerToken(List<ComponentResult> succeeded, int sampleCount)
    {
        ComponentResult? withTokens = succeeded.Find(p => p.Scores!.PerToken is not null);
        if (withTokens is null)
            return null;

        var perToken = new double[sampleCount][];
        for (int i = 0; i < sampleCount; i++)
        {
            int tokens = withTokens.Scores!.PerToken![i].Length;
            var row = new double[tokens];
            foreach (ComponentResult part in succeeded)
            {
                GroupScores scores = part.Scores!;
                if (scores.PerToken is { } pt)
                {
                    if (pt[i].Length != tokens)
                        throw new RewardContractException(
                            $"Reward components '{withTokens.Name}' and '{part.Name}' disagree on the token count of sample {i} ({tokens} vs {pt[i].Length}).");
                    for (int t = 0; t < tokens; t++)
                        row[t] += part.Weight * pt[i][t];
                }
                else
                {
                    double broadcast = part.Weight * scores.Sequence[i];
                    for (int t = 0; t < tokens; t++)
                        row[t] += broadcast;
                }
            }
            perToken[i] = row;
        }
        return perToken;
    }
}
