using RlActors.Policies.Algorithms;
using System.Globalization;
using RlActors.Actors.Experiment;
using RlActors.Actors.Ccl;
using RlActors.Policies.Ccl;
using RlActors.Policies.Grpo;

namespace RlActors.Host;

/// <summary>How a run's progress looks for one kind of experiment: the logged step line, the live one-line summary, and
/// what curves.png draws. Used by <see cref="RunObserver"/>.</summary>
public sealed record RunDisplay
{
    /// <summary>Name of the training phase, e.g. "GRPO" (progress bar, log prefix, curves title).</summary>
    public required string Title { get; init; }
    /// <summary>Training metric drawn in curves.png (moving average of 10 steps).</summary>
    public required string CurveMetric { get; init; }
    /// <summary>Legend of <see cref="CurveMetric"/>.</summary>
    public required string CurveLabel { get; init; }
    /// <summary>Metric of <see cref="EvalReport"/>s drawn in curves.png (GRPO's evaluations draw their accuracy).</summary>
    public required string EvalMetric { get; init; }
    /// <summary>Legend of the held-out curve.</summary>
    public required string EvalLabel { get; init; }
    /// <summary>How a value of <see cref="EvalMetric"/> is written in the closing line (accuracies as percentages).</summary>
    public Func<double, string> EvalValue { get; init; } = v => v.ToString("G4", CultureInfo.InvariantCulture);
    /// <summary>One-line summary of a step for the live progress bar, given the total steps.</summary>
    public required Func<StepReport, long, string> Summary { get; init; }
    /// <summary>The logged line of a step, given the total steps and the estimated time left.</summary>
    public required Func<StepReport, long, TimeSpan, string> Line { get; init; }
    /// <summary>The logged line of an <see cref="EvalReport"/>.</summary>
    public Func<EvalReport, string> EvalLine { get; init; } = r => $"[eval] {r.Phase} step {r.Step}";

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
    private static string Percent(double v) => F($"{100 * v:F1} %");

    /// <summary>GRPO: reward, accuracy, loss, entropy, throughput.</summary>
    public static RunDisplay Grpo { get; } = Lm("grpo");

    /// <summary>An RL algorithm on the language-model policy (<c>algorithm</c>: grpo, ppo): reward, accuracy, loss, entropy,
    /// throughput, and the critic's value loss and explained variance when the algorithm has one.</summary>
    public static RunDisplay Lm(string algorithm) => new()
    {
        Title = algorithm.ToUpperInvariant(),
        CurveMetric = GrpoMetrics.RewardMean,
        CurveLabel = "training reward",
        EvalMetric = LmEvalMetrics.Accuracy,
        EvalLabel = "held-out accuracy",
        EvalValue = Percent,
        // Percentages in the current culture, as this line has always been written.
        EvalLine = r => $"[eval] {r.Phase,-5} step {r.Step,5}  accuracy {r.Metrics[LmEvalMetrics.Accuracy]:P1}  " +
                        $"step-accuracy {r.Metrics[LmEvalMetrics.StepAccuracy]:P1}  on {r.Metrics[LmEvalMetrics.Problems]:F0} held-out problems",
        Summary = (r, total) => F($"step {r.Step}/{total}  reward {r.Metrics[GrpoMetrics.RewardMean]:F3}  acc {r.Metrics[GrpoMetrics.Accuracy]:F3}  {r.Metrics[RuntimeMetrics.TokensPerSecond]:N0} tok/s"),
        Line = (r, total, eta) =>
        {
            var m = r.Metrics;
            string critic = m.TryGetValue(PpoMetrics.ValueLoss, out var vl) && m.TryGetValue(PpoMetrics.ExplainedVariance, out var ev)
                ? F($"value-loss {vl:F4}  expl-var {ev:F2}  ") : "";
            return F($"[{algorithm}] step {r.Step,5}/{total} v{r.PolicyVersion}  reward {m[GrpoMetrics.RewardMean]:F3}  acc {m[GrpoMetrics.Accuracy]:F3}  ") +
                   F($"loss {m[GrpoMetrics.Loss]:+0.0000;-0.0000;0.0000}  entropy {m[GrpoMetrics.Entropy]:F3}  zero-std {m[GrpoMetrics.ZeroStdGroups]:F0}  ") + critic +
                   F($"{m[RuntimeMetrics.TokensPerSecond]:N0} tok/s  {m[RuntimeMetrics.StepSeconds]:F2} s/step  stale {m[RuntimeMetrics.StaleDropped]:F0}  ") +
                   F($"reward-failures {m[RuntimeMetrics.RewardFailures]:F0}  ETA {eta:mm\\:ss}");
        },
    };

    /// <summary>A supervised CCL (or baseline) run: loss and batch accuracy (classification) or reconstruction MSE
    /// (autoencoder) per step; test accuracy or test reconstruction MSE at every epoch's end.</summary>
    public static RunDisplay Ccl(CclTask task, string title)
    {
        bool classify = task == CclTask.Classification;
        string train = classify ? CclMetrics.TrainAccuracy : CclMetrics.ReconstructionMse;
        string test = classify ? SupervisedMetrics.TestAccuracy : SupervisedMetrics.TestReconstructionMse;
        string Batch(StepReport r) => classify ? F($"acc {r.Metrics[train]:F3}") : F($"mse {r.Metrics[train]:F4}");
        return new RunDisplay
        {
            Title = title,
            CurveMetric = train,
            CurveLabel = classify ? "training batch accuracy" : "training reconstruction MSE",
            EvalMetric = test,
            EvalLabel = classify ? "test accuracy" : "test reconstruction MSE",
            EvalValue = classify ? Percent : v => F($"{v:F4}"),
            Summary = (r, total) => F($"step {r.Step}/{total}  epoch {r.Metrics[SupervisedMetrics.Epoch]:F2}  loss {r.Metrics[CclMetrics.Loss]:F4}  {Batch(r)}"),
            Line = (r, total, eta) => F($"[{title.ToLowerInvariant()}] step {r.Step,5}/{total}  epoch {r.Metrics[SupervisedMetrics.Epoch]:F2}  ") +
                                      F($"loss {r.Metrics[CclMetrics.Loss]:F4}  {Batch(r)}  {r.Metrics[RuntimeMetrics.StepSeconds]:F3} s/step  ETA {eta:mm\\:ss}"),
            EvalLine = r =>
            {
                var m = r.Metrics;
                string Pct(string k) => m.TryGetValue(k, out var v) ? F($"{100 * v:F2}%") : "-";
                string Mse(string k) => m.TryGetValue(k, out var v) ? F($"{v:F4}") : "-";
                return F($"[eval] {(r.Phase == "epoch" ? "" : r.Phase + " ")}step {r.Step,5}  epoch {m[SupervisedMetrics.Epoch]:F2}  ") + (classify
                    ? $"test accuracy {Pct(SupervisedMetrics.TestAccuracy)}  validation accuracy {Pct(SupervisedMetrics.ValidationAccuracy)}"
                    : $"test reconstruction MSE {Mse(SupervisedMetrics.TestReconstructionMse)}  validation {Mse(SupervisedMetrics.ValidationReconstructionMse)}");
            },
        };
    }
}
