using System.Text.Json;

namespace RlActors.Actors.Persistence;

/// <summary>
/// The files of a run folder that the journal can rebuild (metrics.jsonl: one line per step; eval.jsonl: one line per
/// held-out evaluation), their line formats, and reading them back.
/// </summary>
public static class RunFiles
{
    /// <summary>File name of the per-step metrics.</summary>
    public const string Metrics = "metrics.jsonl";
    /// <summary>File name of the held-out evaluations.</summary>
    public const string Evaluations = "eval.jsonl";

    /// <summary>One metrics.jsonl line: the step, then every metric.</summary>
    public static string MetricsLine(long step, IEnumerable<KeyValuePair<string, double>> metrics)
    {
        var row = new Dictionary<string, object> { ["step"] = step };
        foreach (var (k, v) in metrics) row[k] = v;
        return JsonSerializer.Serialize(row);
    }

    /// <summary>One eval.jsonl line: phase, step, then every metric.</summary>
    public static string EvalLine(string phase, long step, IReadOnlyDictionary<string, double> metrics)
    {
        var row = new Dictionary<string, object> { ["phase"] = phase, ["step"] = step };
        foreach (var (k, v) in metrics) row[k] = v;
        return JsonSerializer.Serialize(row);
    }

    /// <summary>The rows of a jsonl file (metrics.jsonl, eval.jsonl) as fields by name, skipping a row cut short by a killed
    /// process; no file, no rows.</summary>
    public static IEnumerable<Dictionary<string, JsonElement>> ReadRows(string path)
    {
        if (!File.Exists(path)) yield break;
        foreach (var line in File.ReadAllLines(path))
        {
            Dictionary<string, JsonElement>? row;
            try { row = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(line); }
            catch (JsonException) { continue; }
            if (row is not null) yield return row;
        }
    }

    /// <summary>Drops the rows of a jsonl file (eval.jsonl) whose <c>step</c> is above <paramref name="step"/>, and a row cut short
    /// by a killed process; no file, nothing to do.</summary>
    public static void KeepRowsUpTo(string path, long step)
    {
        if (!File.Exists(path)) return;
        var kept = File.ReadAllLines(path).Where(l =>
        {
            try
            {
                using var row = JsonDocument.Parse(l);
                return !row.RootElement.TryGetProperty("step", out var s) || s.GetInt64() <= step;
            }
            catch (JsonException) { return false; }
        }).ToList();
        File.WriteAllLines(path, kept);
    }

    /// <summary>
    /// Prepares the run folder <paramref name="dir"/> (created if missing) for a resume from the checkpoint of step
    /// <paramref name="upToStep"/>: metrics.jsonl gets each step up to it exactly once, from the journal's
    /// <paramref name="events"/> (the later ones are redone); eval.jsonl keeps the evaluations up to it (later ones are
    /// redone too) — from the journal when it holds evaluations (also on a machine without the run folder; the last of each
    /// phase and step wins, a redone evaluation equals the first), else the file's own rows (an older store's runs).
    /// </summary>
    public static void RebuildForResume(string dir, IEnumerable<IExperimentEvent> events, long upToStep)
    {
        Directory.CreateDirectory(dir);
        var all = events as IReadOnlyCollection<IExperimentEvent> ?? events.ToList();
        using (var metrics = new StreamWriter(Path.Combine(dir, Metrics), append: false))
            foreach (var step in all.OfType<StepCompleted>().Where(e => e.Step <= upToStep).OrderBy(e => e.Step))
                metrics.WriteLine(MetricsLine(step.Step, step.Metrics));
        var evaluations = all.OfType<EvaluationRecorded>().Where(e => e.Step <= upToStep)
            .GroupBy(e => (e.Phase, e.Step)).Select(g => g.Last()).ToList();
        if (evaluations.Count > 0)
            File.WriteAllLines(Path.Combine(dir, Evaluations), evaluations.Select(e => EvalLine(e.Phase, e.Step, e.Metrics)));
        else KeepRowsUpTo(Path.Combine(dir, Evaluations), upToStep);
    }
}
