using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using RlActors.Host.Configuration;
using RlActors.Policies.Flow;
using RlActors.Host.Kinds;

namespace RlActors.Host.Evidence;

/// <summary>
/// Evidence for issue 6: Flow-GRPO, TempFlow-GRPO and the two ablations (branching only, weighting only) from the same
/// pretrained model. For every seed the task's model is pretrained once (<see cref="FlowTaskSetup.Pretrained"/>, cached), then
/// every objective runs for the same number of steps with the plain library loop (<see cref="FlowEvidence.RunCurve(FlowRlTrainer, FlowCurveOptions, Action{FlowCurvePoint}?)"/>;
/// same plan, explorer and learner code as the actor runtime), its ODE reward evaluated on a fixed set every few steps.
/// Reported: steps and model evaluations (NFE) until the ODE reward first reaches the threshold, per method and seed, their
/// ratio TempFlow/Flow-GRPO, and curves of reward against steps and NFE (mean over seeds). Every finished curve is kept in
/// runs/flow-compare/&lt;name&gt;/ (keyed by its settings), so an interrupted comparison continues where it stopped.
/// </summary>
public static class FlowCompare
{
    /// <summary>Command-line arguments.</summary>
    public sealed record Args
    {
        /// <summary>The flow experiment file every run starts from (task, model, pretraining, hyperparameters).</summary>
        public required string File { get; init; }
        /// <summary>--set key=value overrides of the file.</summary>
        public IReadOnlyList<string> Overrides { get; init; } = [];
        /// <summary>Comma-separated seeds.</summary>
        public string Seeds { get; init; } = "1,2,3";
        /// <summary>Comma-separated objectives.</summary>
        public string Objectives { get; init; } = "flow-grpo,tempflow,branch-only,weight-only";
        /// <summary>RL steps per run (default: the file's flow.steps).</summary>
        public int? Steps { get; init; }
        /// <summary>Evaluate every this many steps (default: the file's flow.eval-every).</summary>
        public int? EvalEvery { get; init; }
        /// <summary>Reward threshold.</summary>
        public double Threshold { get; init; } = 0.9;
        /// <summary>Stop a run once it reaches the threshold (its curve ends there).</summary>
        public bool StopAtThreshold { get; init; }
        /// <summary>Report folder.</summary>
        public string Report { get; init; } = "docs/flow";
        /// <summary>Report name (default: the task, e.g. early).</summary>
        public string? Name { get; init; }
        /// <summary>The command line to print in the report.</summary>
        public string CommandLine { get; init; } = "";
    }

    private sealed record Stored(string Fingerprint, FlowObjective Objective, ulong Seed, double Threshold, long? StepsToThreshold, long? NfeToThreshold,
        double Seconds, long[] Steps, long[] Nfe, double[] Reward);

    /// <summary>Runs the comparison and writes the report. Returns the exit code.</summary>
    public static int Execute(Args a, TextWriter log, CancellationToken ct)
    {
        if (!System.IO.File.Exists(a.File)) throw new ConfigError($"experiment file not found: {a.File}");
        string text = System.IO.File.ReadAllText(a.File);
        if (ConfigReader.Peek(text, a.Overrides, "kind") != ExperimentKinds.Flow)
            throw new ConfigError($"{a.File}: flow-compare takes a kind = \"flow\" experiment file");
        var seeds = ParseList<ulong>(a.Seeds, "--seeds", s => ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : null, "a non-negative integer");
        var objectives = ParseList<FlowObjective>(a.Objectives, "--objectives", s =>
        {
            try { return (FlowObjective?)FlowObjectiveExtensions.ParseObjective(s); }
            catch (ArgumentException) { return null; }
        }, "one of flow-grpo, tempflow, branch-only, weight-only");
        if (a.Steps is < 1) throw new ConfigError($"--steps must be >= 1 (got {a.Steps})");
        if (a.EvalEvery is < 1) throw new ConfigError($"--eval-every must be >= 1 (got {a.EvalEvery})");
        if (!double.IsFinite(a.Threshold)) throw new ConfigError($"--threshold must be a number (got {a.Threshold})");
        // Every seed's file parses before anything runs.
        var exps = seeds.Select(s => FlowExperimentFile.Parse(text, a.File, [.. a.Overrides, string.Create(CultureInfo.InvariantCulture, $"seed={s}")])).ToList();
        var first = exps[0];
        string name = a.Name ?? first.Task.KindName;
        ConfigReader.CheckName(name, "--name");
        int steps = a.Steps ?? (int)Math.Min(int.MaxValue, first.Steps);
        int evalEvery = a.EvalEvery ?? (first.EvalEvery > 0 ? first.EvalEvery : 10);
        string work = Path.Combine("runs", "flow-compare", name);
        Directory.CreateDirectory(work);
        Directory.CreateDirectory(a.Report);

        var curves = new List<Stored>();
        using var env = FlowTaskSetup.Open(first.Task, first.CacheDir, log.WriteLine);
        foreach (var exp in exps)
        {
            byte[]? pretrained = null;
            foreach (var objective in objectives)
            {
                ct.ThrowIfCancellationRequested();
                var options = exp.Grpo with { Objective = objective };
                var curve = new FlowCurveOptions
                {
                    Steps = steps, EvalEvery = evalEvery, EvalPerClass = exp.EvalPerClass, EvalSeed = exp.EvalSeed,
                    Threshold = a.Threshold, StopAtThreshold = a.StopAtThreshold,
                };
                string fingerprint = Fingerprint(exp, options, curve);
                string path = Path.Combine(work, $"{objective.ConfigName()}-seed{exp.Seed}.json");
                if (Load(path, fingerprint) is { } done)
                {
                    log.WriteLine($"[{objective.ConfigName()} seed {exp.Seed}] reused {path}");
                    curves.Add(done);
                    continue;
                }
                pretrained ??= FlowTaskSetup.Pretrained(env, exp.Model, exp.Pretrain, exp.InitSeed, exp.CacheDir, log.WriteLine);
                var model = exp.Model.Create(0);
                try { model.LoadWeights(pretrained); }
                catch { model.Dispose(); throw; }
                log.WriteLine($"[{objective.ConfigName()} seed {exp.Seed}] {steps} steps from the pretrained model");
                var result = FlowEvidence.RunCurve(new FlowRlTrainer(model, options, env.Reward), curve, p =>
                {
                    ct.ThrowIfCancellationRequested();
                    log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"[{objective.ConfigName()} seed {exp.Seed}] step {p.Step,5}  nfe {p.Nfe,9:N0}  ODE reward {p.OdeReward:F3}"));
                });
                var stored = new Stored(fingerprint, objective, exp.Seed, a.Threshold, result.StepsToThreshold, result.NfeToThreshold, result.Seconds,
                    result.Points.Select(p => p.Step).ToArray(), result.Points.Select(p => p.Nfe).ToArray(), result.Points.Select(p => p.OdeReward).ToArray());
                System.IO.File.WriteAllText(path, JsonSerializer.Serialize(stored));
                curves.Add(stored);
                WriteReport(a, name, first, objectives, seeds, steps, evalEvery, curves, log);
            }
        }
        WriteReport(a, name, first, objectives, seeds, steps, evalEvery, curves, log);
        return 0;
    }

    private static List<T> ParseList<T>(string text, string option, Func<string, T?> parse, string expected) where T : struct
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0) throw new ConfigError($"{option}: give at least one value");
        return parts.Select(p => parse(p) ?? throw new ConfigError($"{option}: '{p}' is not {expected}")).Distinct().ToList();
    }

    private static string Fingerprint(FlowExperiment exp, FlowGrpoOptions options, FlowCurveOptions curve) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('|',
            options.Fingerprint, $"eval-steps={options.EvalSteps}", exp.Task.ToJson(), exp.Model.ToString(), exp.InitSeed,
            JsonSerializer.Serialize(exp.Pretrain), JsonSerializer.Serialize(curve), $"threads={TorchSharp.torch.get_num_threads()}"))))[..16];

    private static Stored? Load(string path, string fingerprint)
    {
        if (!System.IO.File.Exists(path)) return null;
        try
        {
            var s = JsonSerializer.Deserialize<Stored>(System.IO.File.ReadAllText(path));
            return s is not null && s.Fingerprint == fingerprint ? s : null;
        }
        catch (JsonException) { return null; }
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static void WriteReport(Args a, string name, FlowExperiment exp, IReadOnlyList<FlowObjective> objectives, IReadOnlyList<ulong> seeds,
        int steps, int evalEvery, IReadOnlyList<Stored> curves, TextWriter log)
    {
        Stored? Get(FlowObjective o, ulong s) => curves.FirstOrDefault(c => c.Objective == o && c.Seed == s);
        string Cell(long? v) => v is long x ? x.ToString("N0", CultureInfo.InvariantCulture) : $"> {steps}";
        string NfeCell(Stored c) => c.NfeToThreshold is long x ? x.ToString("N0", CultureInfo.InvariantCulture) : "-";
        static string Mean(IEnumerable<double> xs)
        {
            var v = xs.ToArray();
            if (v.Length == 0) return "-";
            double m = v.Average(), sd = v.Length > 1 ? Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Length - 1)) : 0;
            return v.Length > 1 ? F($"{m:N0} ± {sd:N0}") : F($"{m:N0}");
        }

        var sb = new StringBuilder();
        sb.AppendLine($"# Flow RL evidence: {exp.Task.KindName} task ({name})");
        sb.AppendLine();
        sb.AppendLine(F($"Generated {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores (torch threads {TorchSharp.torch.get_num_threads()}) by:"));
        sb.AppendLine();
        sb.AppendLine("```");
        sb.AppendLine(a.CommandLine.Length > 0 ? a.CommandLine : $"rlactors flow-compare {a.File}");
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine($"Base experiment ({a.File}{(a.Overrides.Count > 0 ? ", with " + string.Join(" ", a.Overrides.Select(o => "--set " + o)) : "")}): {FlowExperimentFile.Describe(exp)}.");
        sb.AppendLine();
        sb.AppendLine(F($"Each seed pretrains one model (initialisation, pretraining data and RL plan all from the seed); every method starts from it and ") +
                      F($"runs up to {steps} steps of {exp.Grpo.PromptsPerStep} groups x {exp.Grpo.GroupSize} trajectories (equal rollouts per step). ") +
                      F($"Every {evalEvery} steps the mean ODE reward ({exp.Grpo.EvalSteps} Euler steps) of a fixed set of {exp.EvalPerClass} samples per class is measured; ") +
                      F($"a method reaches the threshold {a.Threshold} at the first evaluation at or above it (so steps are multiples of {evalEvery}). ") +
                      "NFE counts every model evaluation of training: sampling, the learner's forwards and, with a KL term, the reference's.");
        sb.AppendLine();
        sb.AppendLine("| method | " + string.Join(" | ", seeds.Select(s => $"steps (seed {s})")) + " | mean steps | " +
                      string.Join(" | ", seeds.Select(s => $"NFE (seed {s})")) + " | mean NFE | final ODE reward | s per run |");
        sb.AppendLine("|---|" + string.Concat(seeds.Select(_ => "---:|")) + "---:|" + string.Concat(seeds.Select(_ => "---:|")) + "---:|---:|---:|");
        foreach (var o in objectives)
        {
            var row = seeds.Select(s => Get(o, s)).ToList();
            var reached = row.Where(c => c?.StepsToThreshold is not null).ToList();
            string meanSteps = reached.Count == seeds.Count ? Mean(reached.Select(c => (double)c!.StepsToThreshold!.Value)) : reached.Count == 0 ? "-" : $"{reached.Count}/{seeds.Count} reached";
            string meanNfe = reached.Count == seeds.Count ? Mean(reached.Select(c => (double)c!.NfeToThreshold!.Value)) : "-";
            var finals = row.Where(c => c is not null).Select(c => c!.Reward[^1]).ToArray();
            string final = finals.Length == 0 ? "-" : F($"{finals.Average():F3}");
            string secs = row.Any(c => c is not null) ? F($"{row.Where(c => c is not null).Average(c => c!.Seconds):F0}") : "-";
            sb.AppendLine($"| {FlowDisplay.Title(o)} | " + string.Join(" | ", row.Select(c => c is null ? "…" : Cell(c.StepsToThreshold))) + $" | {meanSteps} | " +
                          string.Join(" | ", row.Select(c => c is null ? "…" : NfeCell(c))) + $" | {meanNfe} | {final} | {secs} |");
        }
        sb.AppendLine();

        if (objectives.Contains(FlowObjective.FlowGrpo))
        {
            sb.AppendLine("Ratio to Flow-GRPO (the method's steps or NFE to the threshold divided by Flow-GRPO's, same seed; below 1 is faster; " +
                          "the issue's target for TempFlow-GRPO on the early-decision task is at most 0.6 in steps):");
            sb.AppendLine();
            sb.AppendLine("| method | " + string.Join(" | ", seeds.Select(s => $"steps ratio (seed {s})")) + " | mean steps ratio | mean NFE ratio |");
            sb.AppendLine("|---|" + string.Concat(seeds.Select(_ => "---:|")) + "---:|---:|");
            foreach (var o in objectives.Where(o => o != FlowObjective.FlowGrpo))
            {
                var stepRatios = new List<double>();
                var nfeRatios = new List<double>();
                var cells = seeds.Select(s =>
                {
                    var (c, b) = (Get(o, s), Get(FlowObjective.FlowGrpo, s));
                    if (c?.StepsToThreshold is not long cs || b?.StepsToThreshold is not long bs) return c is null || b is null ? "…" : "-";
                    if (bs == 0) return "-"; // the pretrained model is already at the threshold: no ratio
                    stepRatios.Add((double)cs / bs);
                    nfeRatios.Add((double)c.NfeToThreshold!.Value / b.NfeToThreshold!.Value);
                    return F($"{(double)cs / bs:F2}");
                }).ToList();
                string mean(List<double> r) => r.Count == 0 ? "-" : F($"{r.Average():F2}") + (r.Count < seeds.Count ? $" ({r.Count} of {seeds.Count} seeds)" : "");
                sb.AppendLine($"| {FlowDisplay.Title(o)} | {string.Join(" | ", cells)} | {mean(stepRatios)} | {mean(nfeRatios)} |");
            }
            sb.AppendLine();
        }

        string stepPng = $"{name}-reward-vs-step.png", nfePng = $"{name}-reward-vs-nfe.png";
        var series = objectives.Select(o => (Label: FlowDisplay.Title(o), Curves: seeds.Select(s => Get(o, s)).Where(c => c is not null).Select(c => c!).ToList()))
            .Where(x => x.Curves.Count > 0).ToList();
        if (series.Count > 0 && !a.StopAtThreshold)
        {
            // Mean over seeds at each evaluated step (all seeds share the evaluation steps); NFE is averaged the same way.
            (string, double[], double[], double[]) MeanCurve((string Label, List<Stored> Curves) s)
            {
                int n = s.Curves.Min(c => c.Steps.Length);
                return (s.Label, Enumerable.Range(0, n).Select(i => (double)s.Curves[0].Steps[i]).ToArray(),
                    Enumerable.Range(0, n).Select(i => s.Curves.Average(c => (double)c.Nfe[i])).ToArray(),
                    Enumerable.Range(0, n).Select(i => s.Curves.Average(c => c.Reward[i])).ToArray());
            }
            var means = series.Select(MeanCurve).ToList();
            string title = $"{exp.Task.KindName} task: ODE reward, mean of {seeds.Count} seed{(seeds.Count == 1 ? "" : "s")}";
            Curves.SaveLinePlot(Path.Combine(a.Report, stepPng), title, "RL step", "ODE reward", means.Select(m => (m.Item1, m.Item2, m.Item4)));
            Curves.SaveLinePlot(Path.Combine(a.Report, nfePng), title, "model evaluations (NFE)", "ODE reward", means.Select(m => (m.Item1, m.Item3, m.Item4)));
            sb.AppendLine($"![ODE reward against steps]({stepPng})");
            sb.AppendLine();
            sb.AppendLine($"![ODE reward against model evaluations]({nfePng})");
            sb.AppendLine();
        }
        sb.AppendLine($"Curves of every run (step, nfe, ODE reward): runs/flow-compare/{name}/*.json.");
        string md = Path.Combine(a.Report, $"{name}.md");
        System.IO.File.WriteAllText(md, sb.ToString());
        log.WriteLine($"wrote {md}");
    }
}
