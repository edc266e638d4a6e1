namespace RlActors.Rewards;

/// <summary>
/// What a reward function returns for a <see cref="RewardGroup"/>: one scalar per sample and, optionally, dense
/// scores per token or per parsed step. Check it with <see cref="Validate"/> (the runtime does, and treats a
/// violation as a failure of the reward, see <see cref="RewardGuard"/>).
/// </summary>
/// <param name="Sequence">One score per sample, in group order. Required.</param>
/// <param name="PerToken">
/// Optional: per sample, one score per completion token (length = <see cref="RewardSample.CompletionTokens"/>.Count,
/// padding positions included; the learner masks padding).
/// </param>
/// <param name="PerStep">Optional: per sample, one score per parsed step (length = Parsed.Steps.Count).</param>
public sealed record GroupScores(double[] Sequence, double[][]? PerToken = null, double[][]? PerStep = null)
{
    /// <summary>
    /// Optional additive counters about this group (e.g. <c>critiques_requested</c>): the runtime sums them over the
    /// groups, slots and workers of a step and reports the sums in the step's metrics (see <see cref="RewardCounters"/>).
    /// Names starting with '_' are internal: they feed derived metrics and are not reported themselves.
    /// </summary>
    public IReadOnlyDictionary<string, double>? Counters { get; init; }

    /// <summary>
    /// Checks the shapes against <paramref name="group"/> and that every value is finite.
    /// </summary>
    /// <exception cref="RewardContractException">
    /// A length does not match or a value is NaN or infinite; the message names the array, the sample and the index.
    /// </exception>
    public void Validate(RewardGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        int n = group.Samples.Count;
        if (Sequence is null)
            throw new RewardContractException("Sequence is missing: a reward must return one score per sample.");
        if (Sequence.Length != n)
            throw new RewardContractException($"Sequence has {Sequence.Length} scores but the group has {n} samples.");
        for (int i = 0; i < n; i++)
            CheckFinite(Sequence[i], $"Sequence[{i}] (sample {i})");

        if (PerToken is not null)
            CheckDense(PerToken, nameof(PerToken), n, i => group.Samples[i].CompletionTokens.Count, "completion tokens");
        if (PerStep is not null)
            CheckDense(PerStep, nameof(PerStep), n, i => group.Samples[i].Parsed.Steps.Count, "parsed steps");
        if (Counters is not null)
            foreach (var (name, value) in Counters)
                CheckFinite(value, $"Counters[\"{name}\"]");
    }

    private static void CheckDense(double[][] values, string name, int n, Func<int, int> expectedLength, string unit)
    {
        if (values.Length != n)
            throw new RewardContractException($"{name} has {values.Length} entries but the group has {n} samples.");
        for (int i = 0; i < n; i++)
        {
            double[]? row = values[i];
            int expected = expectedLength(i);
            if (row is null)
                throw new RewardContractException($"{name}[{i}] (sample {i}) is missing.");
            if (row.Length != expected)
                throw new RewardContractException(
                    $"{name}[{i}] (sample {i}) has {row.Length} scores but the sample has {expected} {unit}.");
            for (int j = 0; j < row.Length; j++)
                CheckFinite(row[j], $"{name}[{i}][{j}] (sample {i}, index {j})");
        }
    }

    private static void CheckFinite(double value, string where)
    {
        if (double.IsNaN(value))
            throw new RewardContractException($"{where} is NaN.");
        if (double.IsInfinity(value))
            throw new RewardContractException($"{where} is {(value > 0 ? "+∞" : "-∞")}.");
    }
}

/// <summary>A reward function returned scores that break the contract of <see cref="GroupScores"/>.</summary>
public sealed class RewardContractException : Exception
{
    /// <summary>Creates the exception with a message naming what is wrong.</summary>
    public RewardContractException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public RewardContractException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
