namespace RlActors.Host;

/// <summary>Small helpers for the curves the command line draws.</summary>
public static class Curves
{
    /// <summary>Trailing moving average over <paramref name="window"/> points (fewer at the start).</summary>
    public static double[] MovingAverage(double[] xs, int window)
    {
        var result = new double[xs.Length];
        double sum = 0;
        for (int i = 0; i < xs.Length; i++)
        {
            sum += xs[i];
            if (i >= window) sum -= xs[i - window];
            result[i] = sum / Math.Min(i + 1, window);
        }
        return result;
    }

    /// <summary>Saves a line chart of one or more labelled series as an 800 × 450 PNG (legend shown when any series has a label).</summary>
    public static void SaveLinePlot(string path, string title, string xLabel, string yLabel,
        IEnumerable<(string Label, double[] X, double[] Y)> series)
    {
        var plot = new ScottPlot.Plot();
        bool legend = false;
        foreach (var (label, x, y) in series)
        {
            var line = plot.Add.ScatterLine(x, y);
            if (label.Length > 0) { line.LegendText = label; legend = true; }
        }
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        if (legend) plot.ShowLegend();
        plot.SavePng(path, 800, 450);
    }

    /// <summary>One eval.jsonl line: phase, step, then every metric.</summary>
    public static string EvalLine(string phase, long step, IReadOnlyDictionary<string, double> metrics)
    {
        var row = new Dictionary<string, object> { ["phase"] = phase, ["step"] = step };
        foreach (var (k, v) in metrics) row[k] = v;
        return System.Text.Json.JsonSerializer.Serialize(row);
    }

    /// <summary>The rows of a jsonl file (metrics.jsonl, eval.jsonl) as fields by name, skipping a row cut short by a killed
    /// process; no file, no rows.</summary>
    public static IEnumerable<Dictionary<string, System.Text.Json.JsonElement>> ReadRows(string path)
    {
        if (!File.Exists(path)) yield break;
        foreach (var line in File.ReadAllLines(path))
        {
            Dictionary<string, System.Text.Json.JsonElement>? row;
            try { row = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, System.Text.Json.JsonElement>>(line); }
            catch (System.Text.Json.JsonException) { continue; }
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
                using var row = System.Text.Json.JsonDocument.Parse(l);
                return !row.RootElement.TryGetProperty("step", out var s) || s.GetInt64() <= step;
            }
            catch (System.Text.Json.JsonException) { return false; }
        }).ToList();
        File.WriteAllLines(path, kept);
    }

    /// <summary>One metrics.jsonl line: the step, then every metric.</summary>
    public static string MetricsLine(long step, IEnumerable<KeyValuePair<string, double>> metrics)
    {
        var row = new Dictionary<string, object> { ["step"] = step };
        foreach (var (k, v) in metrics) row[k] = v;
        return System.Text.Json.JsonSerializer.Serialize(row);
    }
}
