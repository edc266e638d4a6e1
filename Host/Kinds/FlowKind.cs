using System.Globalization;
using Akka.Actor;
using RlActors.Actors.Experiment;
using RlActors.Actors.Flow;
using RlActors.Actors.Runtime;
using RlActors.Environments.FashionMnist;
using RlActors.Host.Configuration;
using RlActors.Policies.Checkpoints;
using RlActors.Policies.Flow;

namespace RlActors.Host.Kinds;

/// <summary>kind = "flow": Flow-GRPO / TempFlow-GRPO on a flow-matching policy, with explorer actors.</summary>
internal sealed class FlowKind : IExperimentKind
{
    public string Name => ExperimentKinds.Flow;
    public string Summary => "Flow-GRPO / TempFlow-GRPO on a flow-matching policy with explorer actors (2-D tasks, Fashion-MNIST 14x14); docs/flow.md";
    public IEnumerable<(string Name, string Doc)> Keys => FlowExperimentFile.Keys;
    public string StepsKey => "flow.steps";

    public IRunnableExperiment Parse(string text, string origin, IReadOnlyList<string> overrides) => FlowRun.Prepare(FlowExperimentFile.Parse(text, origin, overrides), origin);

    /// <summary>The velocity field.</summary>
    public string Export(string configText, string origin, TrainingCheckpoint checkpoint, string outPath)
    {
        ExperimentKinds.RequireSafetensorsPath(outPath);
        var spec = FlowExperimentFile.Parse(configText, origin, []).Model;
        using var model = spec.Create(0);
        model.LoadWeights(checkpoint.PolicyWeights);
        SafetensorsExport.Write(model, outPath);
        return $"velocity field {spec}";
    }
}

/// <summary>A flow experiment: explorer actors and a learner, run by <see cref="FlowPlan"/>.</summary>
internal sealed class FlowRun(FlowExperiment exp) : IRunnableExperiment
{
    /// <summary>Checks what can be checked before anything starts: for Fashion-MNIST, that its files are there.</summary>
    public static FlowRun Prepare(FlowExperiment exp, string origin)
    {
        if (!exp.Task.Is2d)
        {
            string dir = new FashionMnistOptions { Directory = exp.Task.DataDirectory }.ResolvedDirectory;
            foreach (var stem in new[] { "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" })
                if (!File.Exists(Path.Combine(dir, stem + ".gz")) && !File.Exists(Path.Combine(dir, stem)))
                    throw new ConfigError($"{origin}: data.directory: {FashionMnist.MissingMessage(dir, stem + ".gz")}");
        }
        return new FlowRun(exp);
    }

    public string Name => exp.Name;
    public string EffectiveText => exp.EffectiveText;
    public ulong Seed => exp.Seed;
    public long TotalSteps => exp.Steps;
    public int LogEvery => exp.LogEvery;
    public int KeepCheckpoints => exp.Runtime.KeepCheckpoints;
    public RunDisplay Display => FlowDisplay.For(exp.Grpo.Objective);
    public string Description => FlowExperimentFile.Describe(exp);
    public string FromScratch => "it starts again from the pretrained model";
    public string? WorkerRoles => Roles.Explorer;

    public NodeOptions Node(string hostname, int port, string? publicHostname) =>
        new(hostname, port, publicHostname, [Roles.Learner, Roles.Explorer], [], [], ExplorersPerNode: exp.Runtime.WorkersPerNode);

    public Props Coordinator(IExperimentObserver observer, TrainingCheckpoint? resumeFrom) => Settings(resumeFrom, null, null, observer);

    public Props Coordinator(IExperimentObserver observer, TrainingCheckpoint? resumeFrom, string outputDir, TextWriter log) =>
        Settings(resumeFrom, outputDir, log, observer);

    private Props Settings(TrainingCheckpoint? resumeFrom, string? dir, TextWriter? log, IExperimentObserver observer)
    {
        var learner = new FlowLearnerSettings(exp.Task, exp.Model, exp.Grpo, exp.Pretrain, exp.InitSeed, exp.CacheDir)
        {
            EvalPerClass = exp.EvalPerClass, EvalSeed = exp.EvalSeed, PictureSamplesPerClass = exp.PictureSamples,
        };
        var task = exp.Task;
        return FlowPlan.Props(new FlowExperimentSettings(exp.Name, learner, exp.Steps, exp.Runtime)
        {
            EvalEvery = exp.EvalEvery,
            ResumeFrom = resumeFrom,
            Pictures = dir is null ? null : (before, after) => observer.Log($"[flow] before/after samples: {FlowPictures.Draw(dir, task, before, after)}"),
        }, observer);
    }
}

/// <summary>How flow runs print and draw their progress.</summary>
public static class FlowDisplay
{
    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>The method's name as printed: TempFlow-GRPO, Flow-GRPO, branch-only, weight-only.</summary>
    public static string Title(FlowObjective o) => o switch
    {
        FlowObjective.TempFlow => "TempFlow-GRPO",
        FlowObjective.FlowGrpo => "Flow-GRPO",
        FlowObjective.BranchOnly => "Branch-only",
        _ => "Weight-only",
    };

    /// <summary>Training reward per step (curves.png: moving average) and the ODE reward of the evaluations.</summary>
    public static RunDisplay For(FlowObjective objective)
    {
        string title = Title(objective), tag = objective.ConfigName();
        return new RunDisplay
        {
            Title = title,
            CurveMetric = FlowMetrics.RewardMean,
            CurveLabel = "training reward",
            EvalMetric = FlowRunMetrics.OdeReward,
            EvalLabel = "ODE reward (evaluation set)",
            Summary = (r, total) => F($"step {r.Step}/{total}  reward {r.Metrics[FlowMetrics.RewardMean]:F3}  nfe {r.Metrics[FlowMetrics.Nfe]:N0}"),
            Line = (r, total, eta) =>
            {
                var m = r.Metrics;
                string ode = m.TryGetValue(FlowRunMetrics.OdeReward, out var o) ? F($"  ode {o:F3}") : "";
                return F($"[{tag}] step {r.Step,5}/{total}  reward {m[FlowMetrics.RewardMean]:F3} ± {m[FlowMetrics.RewardStd]:F3}{ode}  ") +
                       F($"loss {m[FlowMetrics.Loss]:+0.0000;-0.0000;0.0000}  clip {m[FlowMetrics.ClipFrac]:F3}  kl {m[FlowMetrics.Kl]:F4}  nfe {m[FlowMetrics.Nfe]:N0}  ") +
                       F($"{m[RuntimeMetrics.StepSeconds]:F2} s/step  explorers {m[FlowRunMetrics.Explorers]:F0}  ETA {eta:mm\\:ss}");
            },
            EvalLine = r => F($"[eval] {r.Phase} step {r.Step,5}  ODE reward {r.Metrics[FlowRunMetrics.OdeReward]:F3}  per class ") +
                            string.Join(" ", r.Metrics.Where(kv => kv.Key.StartsWith(FlowRunMetrics.OdeReward + "_c", StringComparison.Ordinal))
                                .OrderBy(kv => int.Parse(kv.Key[(FlowRunMetrics.OdeReward.Length + 2)..], CultureInfo.InvariantCulture))
                                .Select(kv => F($"{kv.Value:F2}"))),
        };
    }
}
