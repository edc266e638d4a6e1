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

    /// <summary>One metrics.jsonl line: the step, then every metric.</summary>
    public static string MetricsLine(long step, IEnumerable<KeyValuePair<string, double>> metrics)
    {
        var row = new Dictionary<string, object> { ["step"] = step };
        foreach (var (k, v) in metrics) row[k] = v;
        return System.Text.Json.JsonSerializer.Serialize(row);
    }
}
