using System.Globalization;
using RlActors.Actors.Flow;
using RlActors.Environments.FashionMnist;
using RlActors.Environments.Flow2d;
using RlActors.Policies.Flow;
using SkiaSharp;

namespace RlActors.Host;

/// <summary>
/// The before/after picture of a flow run, samples.png: ODE samples of the pretrained model next to those of the trained one.
/// 2-D tasks: a scatter per model, one colour per class, the reward's target points circled. Fashion-MNIST: a grid of images
/// per model, one row per class.
/// </summary>
public static class FlowPictures
{
    /// <summary>File name of the picture in the run's folder.</summary>
    public const string FileName = "samples.png";

    /// <summary>Draws <see cref="FileName"/> into <paramref name="dir"/>; <paramref name="before"/> may be null (unknown).</summary>
    public static string Draw(string dir, FlowTaskOptions task, FlowSamples? before, FlowSamples after)
    {
        string path = Path.Combine(dir, FileName);
        string tmp = path + ".tmp";
        var panels = before is null ? new[] { after } : [before, after];
        using (var image = task.Is2d ? Scatter(new Flow2dTask(task.Flow2dWithKind), panels) : Grid(panels))
        using (var data = image.Encode(SKEncodedImageFormat.Png, 100))
        using (var file = File.Create(tmp))
            data.SaveTo(file);
        File.Move(tmp, path, overwrite: true);
        return path;
    }

    private static string Title(FlowSamples s) => string.Create(CultureInfo.InvariantCulture, $"{s.Label}: mean reward {s.MeanReward:F3}");

    private static SKImage Scatter(Flow2dTask task, IReadOnlyList<FlowSamples> panels)
    {
        const int w = 600, h = 600;
        // One shared range so both panels have the same scale.
        double lim = panels.SelectMany(p => p.Values).Select(v => Math.Abs((double)v)).Where(double.IsFinite).DefaultIfEmpty(1).Max();
        lim = Math.Min(Math.Max(lim, task.Options.Radius + 1), 3 * (task.Options.Radius + 1));
        using var surface = SKSurface.Create(new SKImageInfo(w * panels.Count, h));
        surface.Canvas.Clear(SKColors.White);
        for (int p = 0; p < panels.Count; p++)
        {
            var s = panels[p];
            var plot = new ScottPlot.Plot();
            for (int c = 0; c < s.Classes; c++)
            {
                var xs = new double[s.PerClass];
                var ys = new double[s.PerClass];
                for (int i = 0; i < s.PerClass; i++)
                {
                    int at = (c * s.PerClass + i) * s.Dim;
                    xs[i] = s.Values[at];
                    ys[i] = s.Values[at + 1];
                }
                var points = plot.Add.Scatter(xs, ys);
                points.LineWidth = 0;
                points.MarkerSize = 3;
                points.LegendText = $"class {c}";
                var targets = task.Targets(c);
                var t = plot.Add.Scatter(targets.Select(q => q.X).ToArray(), targets.Select(q => q.Y).ToArray());
                t.LineWidth = 0;
                t.MarkerSize = 16;
                t.MarkerShape = ScottPlot.MarkerShape.OpenCircle;
                t.Color = points.Color;
            }
            plot.Axes.SetLimits(-lim, lim, -lim, lim);
            plot.Title(Title(s));
            plot.ShowLegend();
            // A plot clears the whole canvas it renders on: render each panel alone, then place it.
            using var panel = SKSurface.Create(new SKImageInfo(w, h));
            plot.Render(panel.Canvas, w, h);
            using var snapshot = panel.Snapshot();
            surface.Canvas.DrawImage(snapshot, p * w, 0);
        }
        return surface.Snapshot();
    }

    private static SKImage Grid(IReadOnlyList<FlowSamples> panels)
    {
        const int scale = 4, pad = 2, header = 28;
        int side = FashionMnist14.Side, cell = side * scale + pad;
        int columns = Math.Min(8, panels[0].PerClass), rows = panels[0].Classes;
        int panelWidth = columns * cell + 130, height = header + rows * cell;
        using var surface = SKSurface.Create(new SKImageInfo(panelWidth * panels.Count, height));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var font = new SKFont(SKTypeface.Default, 12);
        using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        for (int p = 0; p < panels.Count; p++)
        {
            var s = panels[p];
            float x0 = p * panelWidth;
            canvas.DrawText(Title(s), x0 + 4, 18, font, ink);
            for (int c = 0; c < rows; c++)
            {
                canvas.DrawText(c < FashionMnist.ClassNames.Count ? FashionMnist.ClassNames[c] : $"class {c}", x0 + 4, header + c * cell + cell / 2f + 4, font, ink);
                for (int j = 0; j < columns; j++)
                {
                    using var bitmap = new SKBitmap(side, side, SKColorType.Gray8, SKAlphaType.Opaque);
                    int at = (c * s.PerClass + j) * s.Dim;
                    for (int y = 0; y < side; y++)
                        for (int x = 0; x < side; x++)
                        {
                            double v = Math.Clamp((s.Values[at + y * side + x] + 1) / 2, 0, 1);
                            byte g = (byte)Math.Round(255 * v);
                            bitmap.SetPixel(x, y, new SKColor(g, g, g));
                        }
                    var dest = SKRect.Create(x0 + 126 + j * cell, header + c * cell, side * scale, side * scale);
                    using var img = SKImage.FromBitmap(bitmap);
                    canvas.DrawImage(img, dest, new SKSamplingOptions(SKFilterMode.Nearest));
                }
            }
        }
        return surface.Snapshot();
    }
}
