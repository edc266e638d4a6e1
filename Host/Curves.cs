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
}
