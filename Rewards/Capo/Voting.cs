using System.Globalization;

namespace RlActors.Rewards.Capo;

/// <summary>How the wrong-step lists of several critiques of one response are combined.</summary>
public enum VoteRule
{
    /// <summary>A step is wrong when any critique flags it (high recall, low precision).</summary>
    Union,

    /// <summary>A step is wrong when every critique flags it (high precision, low recall).</summary>
    Intersection,

    /// <summary>A step is wrong when more than half of the critiques flag it (a tie is not wrong).</summary>
    Majority,

    /// <summary>A step is wrong when the fraction of critiques flagging it is at least τ.</summary>
    Average,
}

/// <summary>Combines the wrong-step lists of the valid critiques of one response.</summary>
public static class Voting
{
    /// <summary>The names accepted by <see cref="ParseRule"/>, as written in configuration.</summary>
    public static IReadOnlyList<string> RuleNames { get; } = ["union", "intersection", "majority", "average"];

    /// <summary>Reads a rule name ("union", "intersection", "majority", "average"; case and surrounding spaces ignored).</summary>
    /// <exception cref="ArgumentException">The name is none of those; the message names the value and the choices.</exception>
    public static VoteRule ParseRule(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Trim().ToLowerInvariant() switch
        {
            "union" => VoteRule.Union,
            "intersection" => VoteRule.Intersection,
            "majority" => VoteRule.Majority,
            "average" => VoteRule.Average,
            _ => throw new ArgumentException(
                $"Unknown vote rule '{text}'; choose one of {string.Join(", ", RuleNames)}.", nameof(text)),
        };
    }

    /// <summary>The configuration name of a rule ("majority", ...).</summary>
    public static string Name(VoteRule rule) => rule switch
    {
        VoteRule.Union => "union",
        VoteRule.Intersection => "intersection",
        VoteRule.Majority => "majority",
        VoteRule.Average => "average",
        _ => throw new ArgumentOutOfRangeException(nameof(rule), rule, "Unknown vote rule."),
    };

    /// <summary>
    /// The voted wrong steps, sorted ascending. With N sets, a step flagged by k of them is wrong under
    /// <see cref="VoteRule.Union"/> when k ≥ 1, <see cref="VoteRule.Intersection"/> when k = N,
    /// <see cref="VoteRule.Majority"/> when 2k &gt; N, and <see cref="VoteRule.Average"/> when k / N ≥ τ.
    /// </summary>
    /// <param name="validWrongSets">The wrong-step lists of the valid critiques (at least one; each may be empty).</param>
    /// <param name="rule">The rule.</param>
    /// <param name="tau">The threshold of <see cref="VoteRule.Average"/>, in (0, 1]; ignored by the other rules.</param>
    /// <exception cref="ArgumentException">There are no sets, or τ is outside (0, 1] for the average rule.</exception>
    public static int[] Vote(IReadOnlyList<int[]> validWrongSets, VoteRule rule, double tau)
    {
        ArgumentNullException.ThrowIfNull(validWrongSets);
        if (validWrongSets.Count == 0)
            throw new ArgumentException("Voting needs at least one valid critique.", nameof(validWrongSets));
        if (rule == VoteRule.Average && !(tau > 0 && tau <= 1))
            throw new ArgumentOutOfRangeException(nameof(tau), tau, "The average rule's threshold tau must be in (0, 1].");

        var counts = new SortedDictionary<int, int>();
        foreach (int[] set in validWrongSets)
        {
            ArgumentNullException.ThrowIfNull(set, nameof(validWrongSets));
            foreach (int step in set.Distinct())
                counts[step] = counts.TryGetValue(step, out int k) ? k + 1 : 1;
        }
        int n = validWrongSets.Count;
        var voted = new List<int>();
        foreach (var (step, k) in counts)
        {
            bool wrong = rule switch
            {
                VoteRule.Union => k >= 1,
                VoteRule.Intersection => k == n,
                VoteRule.Majority => 2 * k > n,
                VoteRule.Average => k >= tau * n - 1e-9,
                _ => throw new ArgumentOutOfRangeException(nameof(rule), rule, "Unknown vote rule."),
            };
            if (wrong)
                voted.Add(step);
        }
        return [.. voted];
    }
}

/// <summary>How much the critiques of the same responses agree.</summary>
public static class VoteStatistics
{
    /// <summary>
    /// Fleiss' kappa of binary per-step ratings (wrong / not wrong): every step of every response is a subject,
    /// every valid critique of the response a rater.
    /// </summary>
    /// <remarks>
    /// <para>Subjects may have different numbers of raters n: with w of n flagging a step, its agreement is
    /// P = (w(w−1) + (n−w)(n−w−1)) / (n(n−1)); P̄ is the mean over subjects; p is the share of "wrong" among all
    /// ratings and P̄e = p² + (1−p)²; κ = (P̄ − P̄e) / (1 − P̄e). For a constant n this is Fleiss' original formula.</para>
    /// <para>Degenerate cases, so the result is never NaN: responses with fewer than 2 critiques (or no steps) are
    /// ignored; with no subject left the result is 0 (no evidence of agreement beyond chance); when every rating
    /// is the same (P̄e = 1, e.g. all critiques call every step correct) the agreement is complete and the result is 1.</para>
    /// </remarks>
    /// <param name="items">Per response: its step count and the wrong-step sets of its valid critiques.</param>
    public static double FleissKappa(IReadOnlyList<(int StepCount, IReadOnlyList<int[]> Sets)> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        var counts = new KappaCounts();
        foreach (var (stepCount, sets) in items)
        {
            ArgumentNullException.ThrowIfNull(sets, nameof(items));
            counts = counts.Add(stepCount, sets);
        }
        return counts.Subjects == 0 ? 0.0 : counts.Kappa();
    }
}

/// <summary>
/// The sums Fleiss' kappa of binary per-step ratings is computed from (see <see cref="VoteStatistics.FleissKappa"/>):
/// additive, so the counts of groups, slots and nodes merge by summing and the kappa of the union comes out of the sums.
/// </summary>
/// <param name="Subjects">Steps rated by at least two critiques.</param>
/// <param name="AgreementSum">Sum over those steps of the agreement P = (w(w−1) + (n−w)(n−w−1)) / (n(n−1)).</param>
/// <param name="Flagged">"Wrong" ratings over those steps.</param>
/// <param name="Ratings">All ratings over those steps.</param>
public readonly record struct KappaCounts(double Subjects, double AgreementSum, double Flagged, double Ratings)
{
    /// <summary>These counts plus the steps of one response with <paramref name="stepCount"/> steps and the wrong-step
    /// sets of its valid critiques (a response with fewer than two critiques adds nothing).</summary>
    public KappaCounts Add(int stepCount, IReadOnlyList<int[]> sets)
    {
        int n = sets.Count;
        if (n < 2) return this;
        double subjects = Subjects, agreement = AgreementSum, flagged = Flagged, ratings = Ratings;
        for (int step = 1; step <= stepCount; step++)
        {
            int wrong = 0;
            foreach (int[] set in sets)
                if (Array.IndexOf(set, step) >= 0)
                    wrong++;
            int right = n - wrong;
            subjects++;
            agreement += (wrong * (wrong - 1.0) + right * (right - 1.0)) / (n * (n - 1.0));
            flagged += wrong;
            ratings += n;
        }
        return new KappaCounts(subjects, agreement, flagged, ratings);
    }

    /// <summary>κ = (P̄ − P̄e) / (1 − P̄e) with P̄ the mean agreement and P̄e = p² + (1−p)², p the share of "wrong"
    /// ratings; 1 when every rating is the same (P̄e = 1). Needs at least one subject.</summary>
    public double Kappa()
    {
        if (Subjects <= 0 || Ratings <= 0) throw new InvalidOperationException("Fleiss' kappa of no rated step");
        double pBar = AgreementSum / Subjects;
        double p = Flagged / Ratings;
        double pe = p * p + (1 - p) * (1 - p);
        return pe >= 1 - 1e-12 ? 1.0 : (pBar - pe) / (1 - pe);
    }
}

/// <summary>
/// Confusion counts of predicted wrong steps against true wrong steps, micro-averaged over steps (a "positive" is
/// a wrong step). Not thread-safe.
/// </summary>
/// <remarks>
/// Zero denominators: <see cref="Precision"/> is 1 when nothing was predicted wrong (no false alarm was raised),
/// <see cref="Recall"/> is 1 when nothing was truly wrong (nothing was missed), and <see cref="F1"/> is
/// 2TP / (2TP + FP + FN), which is 1 when there were no wrong steps and none was predicted. So a perfect judge scores
/// 1 on every measure, and an F1 of 0 means no wrong step was found.
/// </remarks>
public sealed class PrmConfusion
{
    /// <summary>Steps predicted wrong that are wrong.</summary>
    public long TruePositives { get; private set; }

    /// <summary>Steps predicted wrong that are correct.</summary>
    public long FalsePositives { get; private set; }

    /// <summary>Wrong steps not predicted wrong.</summary>
    public long FalseNegatives { get; private set; }

    /// <summary>TP / (TP + FP); 1 when nothing was predicted wrong.</summary>
    public double Precision => TruePositives + FalsePositives == 0 ? 1.0 : (double)TruePositives / (TruePositives + FalsePositives);

    /// <summary>TP / (TP + FN); 1 when nothing was truly wrong.</summary>
    public double Recall => TruePositives + FalseNegatives == 0 ? 1.0 : (double)TruePositives / (TruePositives + FalseNegatives);

    /// <summary>2TP / (2TP + FP + FN), the harmonic mean of precision and recall; 1 when there is nothing to find and nothing was flagged.</summary>
    public double F1
    {
        get
        {
            long denominator = 2 * TruePositives + FalsePositives + FalseNegatives;
            return denominator == 0 ? 1.0 : 2.0 * TruePositives / denominator;
        }
    }

    /// <summary>Adds one response: the steps predicted wrong and the steps truly wrong (duplicates ignored).</summary>
    public void Add(int[] predicted, int[] truth)
    {
        ArgumentNullException.ThrowIfNull(predicted);
        ArgumentNullException.ThrowIfNull(truth);
        var truthSet = new HashSet<int>(truth);
        var predictedSet = new HashSet<int>(predicted);
        foreach (int step in predictedSet)
        {
            if (truthSet.Contains(step))
                TruePositives++;
            else
                FalsePositives++;
        }
        foreach (int step in truthSet)
            if (!predictedSet.Contains(step))
                FalseNegatives++;
    }

    /// <summary>Adds the counts of another confusion.</summary>
    public void Add(PrmConfusion other)
    {
        ArgumentNullException.ThrowIfNull(other);
        TruePositives += other.TruePositives;
        FalsePositives += other.FalsePositives;
        FalseNegatives += other.FalseNegatives;
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"TP {TruePositives}, FP {FalsePositives}, FN {FalseNegatives}: precision {Precision:F3}, recall {Recall:F3}, F1 {F1:F3}");
}
