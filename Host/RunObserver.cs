using System.Globalization;
using System.Text.Json;
using RlActors.Actors.Experiment;
using RlActors.Actors.Persistence;

namespace RlActors.Host;

/// <summary>
/// Receives the experiment's progress: prints one line per logged step, appends metrics.jsonl and eval.jsonl,
/// and redraws curves.png as the run goes; what a step line shows and what is drawn depends on the experiment's kind
/// (<see cref="RunDisplay"/>). Completes <see cref="Completion"/> when the run ends.
/// </summary>
public sealed class RunObserver : IExperimentObserver, IDisposable
{
    private readonly string dir;
    private readonly TextWriter log;
    private readonly int logEvery;
    private readonly long totalSteps;
    private readonly StreamWriter metrics;
    private readonly StreamWriter evals;
    private readonly RunDisplay display;
    private readonly List<(long Step, double Value)> curve = new();
    private readonly List<(long Step, double Value)> evalCurve = new();
    private readonly System.Diagnostics.Stopwatch watch = System.Diagnostics.Stopwatch.StartNew();
    private readonly object gate = new();
    private DateTime lastDrawn = DateTime.MinValue;
    private double? sftAccuracy;
    private double? finalAccuracy;
    private int stepsHere; // steps completed by this process (the ETA's rate), not the ones a resume found

    /// <summary>Where log lines go while a live display owns the terminal; null writes to the log writer.</summary>
    public Action<string>? LineSink { get; set; }

    private void Write(string line)
    {
        if (LineSink is { } sink) sink(line);
        else log.WriteLine(line);
    }

    /// <summary>Live progress (step, one-line summary) when the output is a terminal; null for plain lines.</summary>
    public Action<long, string>? Progress { get; set; }

    /// <summary>Result of <see cref="Completion"/> when the experiment stopped on request (SIGINT, SIGTERM) after its checkpoint.</summary>
    public const int StoppedOnRequest = -1;

    /// <summary>Completes with the exit code: 0 finished, 1 failed, or <see cref="StoppedOnRequest"/>.</summary>
    public TaskCompletionSource<int> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Writes into <paramref name="dir"/> (which must exist); <paramref name="display"/> defaults to GRPO's.</summary>
    public RunObserver(string dir, TextWriter log, int logEvery, long totalSteps, RunDisplay? display = null)
    {
        this.display = display ?? RunDisplay.Grpo;
        this.dir = dir;
        this.log = log;
        this.logEvery = logEvery;
        this.totalSteps = totalSteps;
        LoadEarlierRows();
        metrics = new StreamWriter(Path.Combine(dir, RunFiles.Metrics), append: true);
        evals = new StreamWriter(Path.Combine(dir, RunFiles.Evaluations), append: true);
    }

    /// <summary>A resumed run's files already hold the steps and evaluations up to its checkpoint: curves.png and the
    /// closing line cover the whole run, not only what this process adds.</summary>
    private void LoadEarlierRows()
    {
        static double? Number(Dictionary<string, JsonElement> row, string key) =>
            row.TryGetValue(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
        foreach (var row in RunFiles.ReadRows(Path.Combine(dir, RunFiles.Metrics)))
            if (Number(row, "step") is double step && Number(row, display.CurveMetric) is double value)
                curve.Add(((long)step, value));
        foreach (var row in RunFiles.ReadRows(Path.Combine(dir, RunFiles.Evaluations)))
        {
            if (Number(row, "step") is not double step || Number(row, display.EvalMetric) is not double value) continue;
            evalCurve.Add(((long)step, value));
            if (row.TryGetValue("phase", out var phase) && phase.ValueKind == JsonValueKind.String && phase.GetString() == "sft") sftAccuracy = value;
        }
    }

    /// <summary>Name of the training phase (progress bar label).</summary>
    public string Title => display.Title;

    /// <summary>Held-out accuracy after SFT and at the end, when known.</summary>
    public (double? Sft, double? Final) Accuracy => (sftAccuracy, finalAccuracy);

    /// <inheritdoc />
    public void Log(string line) { lock (gate) Write(line); }

    /// <inheritdoc />
    public void PhaseDone(string phase, double seconds) => Log($"[{phase}]  done in {seconds:F1} s; {display.Title} starts");

    /// <inheritdoc />
    public void StepCompleted(StepReport r)
    {
        lock (gate)
        {
            metrics.WriteLine(RunFiles.MetricsLine(r.Step, r.Metrics));
            metrics.Flush();
            curve.Add((r.Step, r.Metrics[display.CurveMetric]));
            stepsHere++;
            Progress?.Invoke(r.Step, display.Summary(r, totalSteps));
            if (r.Step % logEvery == 0 || r.Step == totalSteps)
            {
                double perStep = watch.Elapsed.TotalSeconds / Math.Max(1, stepsHere);
                Write(display.Line(r, totalSteps, TimeSpan.FromSeconds(perStep * (totalSteps - r.Step))));
                DrawCurves();
            }
        }
    }

    /// <inheritdoc />
    public void Evaluation(EvalReport report)
    {
        lock (gate)
        {
            if (report.Metrics.TryGetValue(display.EvalMetric, out var value))
            {
                evalCurve.Add((report.Step, value));
                // The closing line compares the warm-up's evaluation ("sft", GRPO's) with the final one, when there are both.
                if (report.Phase == "sft") sftAccuracy = value;
                if (report.Phase == "final") finalAccuracy = value;
            }
            evals.WriteLine(RunFiles.EvalLine(report.Phase, report.Step, report.Metrics));
            evals.Flush();
            Write(display.EvalLine(report));
            DrawCurves();
        }
    }

    /// <inheritdoc />
    public void Finished(byte[] finalWeights)
    {
        lock (gate)
        {
            File.WriteAllBytes(Path.Combine(dir, "policy.weights"), finalWeights);
            DrawCurves(force: true);
            if (sftAccuracy is double s && finalAccuracy is double f)
                Write($"done in {watch.Elapsed.TotalSeconds:F0} s: held-out accuracy {s:P1} after SFT -> {f:P1} after {display.Title} ({100 * (f - s):+0.0;-0.0} points)");
            else if (evalCurve.Count > 0)
                Write($"done in {watch.Elapsed.TotalSeconds:F0} s: {display.EvalLabel} {display.EvalValue(evalCurve[^1].Value)} after step {evalCurve[^1].Step}");
        }
        Completion.TrySetResult(0);
    }

    /// <inheritdoc />
    /// <remarks>This observer writes files only; checkpoints go to the experiment store through
    /// <see cref="PersistingObserver"/>, which wraps it and never hands them on.</remarks>
    public void CheckpointTaken(long step, RlActors.Policies.Checkpoints.TrainingCheckpoint checkpoint) =>
        throw new NotSupportedException("RunObserver does not store checkpoints: wrap it in a PersistingObserver");

    /// <inheritdoc />
    public void Failed(string reason)
    {
        Log($"failed: {reason}");
        Completion.TrySetResult(1);
    }

    /// <inheritdoc />
    public void Stopped(long step, string reason)
    {
        lock (gate)
        {
            DrawCurves(force: true);
            Write($"stopped ({reason}) after step {step} of {totalSteps}");
        }
        Completion.TrySetResult(StoppedOnRequest);
    }

    private static readonly TimeSpan RedrawInterval = TimeSpan.FromSeconds(2);

    /// <summary>Redraws curves.png: at most every <see cref="RedrawInterval"/> while the run goes (drawing costs ~0.1 s), always when <paramref name="force"/>d.</summary>
    private void DrawCurves(bool force = false)
    {
        if (curve.Count == 0 || (!force && DateTime.UtcNow - lastDrawn < RedrawInterval)) return;
        lastDrawn = DateTime.UtcNow;
        try
        {
            var plot = new ScottPlot.Plot();
            var xs = curve.Select(c => (double)c.Step).ToArray();
            var train = plot.Add.ScatterLine(xs, Curves.MovingAverage(curve.Select(c => c.Value).ToArray(), 10));
            train.LegendText = $"{display.CurveLabel} (moving avg 10)";
            if (evalCurve.Count > 0)
            {
                var e = plot.Add.ScatterLine(evalCurve.Select(x => (double)x.Step).ToArray(), evalCurve.Select(x => x.Value).ToArray());
                e.LegendText = display.EvalLabel;
            }
            plot.Title($"{display.Title} progress");
            plot.XLabel("step");
            plot.ShowLegend();
            string tmp = Path.Combine(dir, "curves.png.tmp");
            plot.SavePng(tmp, 800, 450);
            File.Move(tmp, Path.Combine(dir, "curves.png"), overwrite: true);
        }
        catch (Exception e) { Write($"(could not draw curves.png: {e.Message})"); }
    }

    /// <inheritdoc />
    public void Dispose() { metrics.Dispose(); evals.Dispose(); }
}
