using RlActors.Rewards.Capo;

namespace RlActors.Rewards;

/// <summary>
/// Sums of <see cref="GroupScores.Counters"/> and the metrics derived from them. Counters are additive so any
/// number of groups, slots and worker nodes can be merged in any order; ratios (precision, agreement) are derived
/// once per step from the sums, never averaged.
/// </summary>
public static class RewardCounters
{
    /// <summary>Adds <paramref name="counters"/> into <paramref name="sums"/> (null adds nothing).</summary>
    public static void AddInto(IDictionary<string, double> sums, IReadOnlyDictionary<string, double>? counters)
    {
        ArgumentNullException.ThrowIfNull(sums);
        if (counters is null) return;
        foreach (var (name, value) in counters)
            sums[name] = sums.TryGetValue(name, out double v) ? v + value : value;
    }

    /// <summary>
    /// The step metrics of summed counters: every counter not starting with '_' as is, plus the metrics derived
    /// from known counters (CAPO's <c>wrong_step_fraction</c>, <c>vote_agreement</c>, <c>prm_precision</c>,
    /// <c>prm_recall</c>, <c>prm_f1</c>, see <see cref="CapoMetrics"/>).
    /// </summary>
    public static Dictionary<string, double> ToMetrics(IReadOnlyDictionary<string, double> sums)
    {
        ArgumentNullException.ThrowIfNull(sums);
        var metrics = sums.Where(kv => !kv.Key.StartsWith('_')).ToDictionary(kv => kv.Key, kv => kv.Value);
        CapoMetrics.Derive(sums, metrics);
        return metrics;
    }
}
