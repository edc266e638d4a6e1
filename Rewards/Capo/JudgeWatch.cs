using System.Globalization;

namespace RlActors.Rewards.Capo;

/// <summary>
/// Watches the critiques of each step: one line per step in which some critiques did not vote, counting them by reason
/// kind (<see cref="CritiqueFailure"/>) and naming the judge; a WARNING when more than
/// <see cref="CapoSettings.MaxFailedFraction"/> of them did not vote, which also stops the run when
/// <see cref="CapoSettings.OnJudgeFailure"/> is "stop". Pure: the experiment actor calls it with the step's summed counters.
/// </summary>
public sealed class JudgeWatch(CapoSettings settings)
{
    /// <summary>What the step's critiques call for: a log line, and whether the run must stop.</summary>
    public sealed record Verdict(string Line, bool Stop);

    /// <summary>The verdict of step <paramref name="step"/> from its summed reward counters; null when every critique voted (or there were none).</summary>
    public Verdict? Check(long step, IReadOnlyDictionary<string, double> counters)
    {
        ArgumentNullException.ThrowIfNull(counters);
        double requested = counters.GetValueOrDefault(CapoMetrics.Requested), valid = counters.GetValueOrDefault(CapoMetrics.Valid);
        int missing = (int)Math.Round(requested - valid);
        if (requested <= 0 || missing <= 0) return null;
        var reasons = CapoMetrics.Reasons(counters);
        string why = reasons.Count == 0 ? "reason not recorded" : string.Join(", ", reasons.Select(r => $"{r.Kind} {r.Count}"));
        double fraction = missing / requested;
        string body = string.Create(CultureInfo.InvariantCulture,
            $"step {step}: {missing} of {requested:0} critiques did not vote ({why}); judge {settings.Judge.Describe()}");
        if (fraction <= settings.MaxFailedFraction)
            return new Verdict(body, Stop: false);
        string limit = string.Create(CultureInfo.InvariantCulture, $"more than capo.max-failed-fraction = {settings.MaxFailedFraction:0.###}");
        return settings.OnJudgeFailure == "stop"
            ? new Verdict($"{body}: {limit}, and capo.on-judge-failure = \"stop\"", Stop: true)
            : new Verdict($"WARNING: {body}: {limit}; those responses get only the outcome reward (capo.on-judge-failure = \"stop\" ends the run instead)", Stop: false);
    }
}
