namespace RlActors.Rewards.Capo;

/// <summary>
/// CAPO's step metrics as additive counters (so groups, slots and nodes merge by summing) and the ratios derived
/// from their sums once per step. Reported keys: <c>critiques_requested</c>, <c>critiques_valid</c>,
/// <c>critiques_unparseable</c>, <c>critiques_timed_out</c>, <c>critiques_failed</c>, <c>capo_fallbacks</c>
/// (responses scored outcome-only because no critique was valid), <c>wrong_step_fraction</c>,
/// <c>vote_agreement</c> (Fleiss' kappa over every judged step) and, when the oracle is available,
/// <c>prm_precision</c>, <c>prm_recall</c>, <c>prm_f1</c> of the voted wrong-step sets (micro over steps).
/// </summary>
public static class CapoMetrics
{
    /// <summary>Critiques asked for.</summary>
    public const string Requested = "critiques_requested";
    /// <summary>Critiques that parsed to a wrong-step list.</summary>
    public const string Valid = "critiques_valid";
    /// <summary>Critiques whose text had no recognisable conclusion (they abstain).</summary>
    public const string Unparseable = "critiques_unparseable";
    /// <summary>Critiques not back before the deadline (left out of the vote).</summary>
    public const string TimedOut = "critiques_timed_out";
    /// <summary>Critiques whose judge failed (HTTP error, voter crash).</summary>
    public const string Failed = "critiques_failed";
    /// <summary>Responses with no valid critique, scored with the outcome reward only.</summary>
    public const string Fallbacks = "capo_fallbacks";
    /// <summary>Fraction of judged steps voted wrong.</summary>
    public const string WrongStepFraction = "wrong_step_fraction";
    /// <summary>Fleiss' kappa of the critiques' per-step verdicts.</summary>
    public const string VoteAgreement = "vote_agreement";
    /// <summary>Precision of the voted wrong steps against the oracle.</summary>
    public const string PrmPrecision = "prm_precision";
    /// <summary>Recall of the voted wrong steps against the oracle.</summary>
    public const string PrmRecall = "prm_recall";
    /// <summary>F1 of the voted wrong steps against the oracle.</summary>
    public const string PrmF1 = "prm_f1";

    private const string StepsJudged = "_capo_steps_judged", StepsWrong = "_capo_steps_wrong";
    private const string KappaItems = "_capo_kappa_items", KappaAgreementSum = "_capo_kappa_p_sum",
        KappaFlagged = "_capo_kappa_flagged", KappaRatings = "_capo_kappa_ratings";
    private const string Tp = "_capo_prm_tp", Fp = "_capo_prm_fp", Fn = "_capo_prm_fn";

    /// <summary>The additive counters of one group's CAPO scoring.</summary>
    public static Dictionary<string, double> Counters(CapoGroupStats stats)
    {
        ArgumentNullException.ThrowIfNull(stats);
        var c = new Dictionary<string, double>
        {
            [Requested] = stats.Requested,
            [Valid] = stats.Valid,
            [Unparseable] = stats.Unparseable,
            [TimedOut] = stats.TimedOut,
            [Failed] = stats.Failed,
            [Fallbacks] = stats.Fallbacks,
            [StepsJudged] = stats.StepsJudged,
            [StepsWrong] = stats.StepsVotedWrong,
        };
        // Fleiss' kappa for two categories (wrong / not wrong): its additive sums, merged across groups and slots.
        var kappa = stats.AgreementItems.Aggregate(new KappaCounts(), (k, item) => k.Add(item.StepCount, item.Sets));
        foreach (var (kind, count) in stats.Reasons ?? new Dictionary<string, int>())
            c[ReasonCounter(kind)] = count;
        c[KappaItems] = kappa.Subjects;
        c[KappaAgreementSum] = kappa.AgreementSum;
        c[KappaFlagged] = kappa.Flagged;
        c[KappaRatings] = kappa.Ratings;
        if (stats.VsOracle is { } o)
        {
            c[Tp] = o.TruePositives;
            c[Fp] = o.FalsePositives;
            c[Fn] = o.FalseNegatives;
        }
        return c;
    }

    /// <summary>
    /// Adds the derived ratios to <paramref name="metrics"/> when <paramref name="sums"/> holds CAPO counters
    /// (<c>vote_agreement</c> by <see cref="KappaCounts.Kappa"/>, the one Fleiss' kappa of the framework). A ratio
    /// with a zero denominator is left out rather than reported as 0.
    /// </summary>
    public static void Derive(IReadOnlyDictionary<string, double> sums, IDictionary<string, double> metrics)
    {
        ArgumentNullException.ThrowIfNull(sums);
        ArgumentNullException.ThrowIfNull(metrics);
        if (Get(sums, StepsJudged) > 0) metrics[WrongStepFraction] = Get(sums, StepsWrong) / Get(sums, StepsJudged);
        var kappa = new KappaCounts(Get(sums, KappaItems), Get(sums, KappaAgreementSum), Get(sums, KappaFlagged), Get(sums, KappaRatings));
        if (kappa.Subjects > 0 && kappa.Ratings > 0) metrics[VoteAgreement] = kappa.Kappa();
        if (sums.ContainsKey(Tp))
        {
            double tp = Get(sums, Tp), fp = Get(sums, Fp), fn = Get(sums, Fn);
            if (tp + fp > 0) metrics[PrmPrecision] = tp / (tp + fp);
            if (tp + fn > 0) metrics[PrmRecall] = tp / (tp + fn);
            if (tp + fp + fn > 0) metrics[PrmF1] = 2 * tp / (2 * tp + fp + fn);
        }
    }

    /// <summary>The hidden counter of critiques that did not vote for reason <paramref name="kind"/> (summed like the others, not a metric).</summary>
    public static string ReasonCounter(string kind) => ReasonPrefix + kind;

    private const string ReasonPrefix = "_capo_why_";

    /// <summary>The reason counts in summed counters, most frequent first.</summary>
    public static IReadOnlyList<(string Kind, int Count)> Reasons(IReadOnlyDictionary<string, double> sums)
    {
        ArgumentNullException.ThrowIfNull(sums);
        return [.. sums.Where(kv => kv.Key.StartsWith(ReasonPrefix, StringComparison.Ordinal) && kv.Value > 0)
            .Select(kv => (kv.Key[ReasonPrefix.Length..], (int)kv.Value)).OrderByDescending(r => r.Item2).ThenBy(r => r.Item1, StringComparer.Ordinal)];
    }

    private static double Get(IReadOnlyDictionary<string, double> d, string key) => d.TryGetValue(key, out double v) ? v : 0;
}
