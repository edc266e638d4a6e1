using System.Globalization;
using System.Text;
using System.Text.Json;
using RlActors.Host.Configuration;

namespace RlActors.Host.Evidence;

/// <summary>
/// Evidence runs: the same experiment over several seeds, summarised as a Markdown table and learning-curve PNGs
/// (held-out accuracy and training reward against GRPO step). Runs go to runs/sweep-&lt;name&gt;/seed-N; the report
/// (Markdown + PNGs) to the report folder, e.g. docs/learning.
/// </summary>
public static class Sweep
{
    /// <summary>
    /// Runs every experiment for every seed (seed by seed, so a partial sweep already compares every experiment) and
    /// rewrites the reports after each seed: one per experiment and, with several experiments, a comparison
    /// (<paramref name="comparison"/>.md and PNGs). Runs live in runs/sweep-&lt;name&gt;/&lt;experiment&gt;/seed-N; a run
    /// that finished before with the same configuration (file, overrides and seed, compared as parsed HOCON, so comments
    /// do not count) is reused, so an interrupted sweep continues
    /// where it stopped (delete the folder to start over). SFT results are cached per seed in runs/sft-cache, so
    /// experiments that differ only after SFT start from the same checkpoint. Returns the exit code.
    /// </summary>
    public static async Task<int> Execute(IReadOnlyList<string> paths, IReadOnlyList<ulong> seeds, IReadOnlyList<string> overrides, string reportDir,
        string? comparison, TextWriter log, CancellationToken ct)
    {
        if (seeds.Count == 0) throw new ConfigError("--seeds needs at least one seed");
        if (paths.Count == 0) throw new ConfigError("name at least one experiment file");
        var exps = paths.Select(p => GrpoExperimentFile.Load(p, overrides)).ToList(); // validate everything before running anything
        var dup = exps.GroupBy(e => e.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new ConfigError($"two experiment files have the name '{dup.Key}'; names label the comparison, make them distinct");
        string name = comparison ?? string.Join("-vs-", exps.Select(e => e.Name));
        string sweepRoot = Path.Combine("runs", $"sweep-{name}");
        var results = exps.Select(_ => new List<SeedResult>()).ToList();
        foreach (var seed in seeds)
        {
            for (int i = 0; i < exps.Count; i++)
            {
                string dir = Path.Combine(sweepRoot, exps[i].Name, $"seed-{seed}");
                var runOverrides = overrides.Append($"seed={seed}").ToList();
                if (IsFinishedRunOf(dir, paths[i], runOverrides))
                    log.WriteLine($"=== {exps[i].Name} seed {seed}: done before, reusing {dir}");
                else
                {
                    if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); // unfinished or from another configuration
                    log.WriteLine($"=== {exps[i].Name} seed {seed} -> {dir}");
                    int code = await LibraryRun.Execute(paths[i], runOverrides, dir, log, ct, Path.Combine("runs", "sft-cache"));
                    if (code != 0) return code;
                }
                results[i].Add(SeedResult.Read(seed, dir));
            }
            Directory.CreateDirectory(reportDir);
            var done = seeds.TakeWhile(s => s != seed).Append(seed).ToList();
            for (int i = 0; i < exps.Count; i++)
                Write(exps[i], paths[i], done, overrides, results[i], reportDir);
            if (exps.Count > 1)
                WriteComparison(name, exps.Select((e, i) => (e, paths[i], results[i])).ToList(), done, overrides, reportDir);
            log.WriteLine($"reports after seed {seed}: {Path.Combine(reportDir, (exps.Count > 1 ? name : exps[0].Name) + ".md")}");
        }
        return 0;
    }

    /// <summary>What a finished run of the sweep depends on: the experiment file's text, the overrides and the seed.</summary>
    /// <summary>
    /// Whether <paramref name="dir"/> holds a finished run (summary.json) of the file with these overrides: its recorded
    /// experiment.conf must mean the same configuration. Both texts are compared as parsed HOCON, so editing a comment
    /// in the file does not throw away finished runs, while any changed value does.
    /// </summary>
    private static bool IsFinishedRunOf(string dir, string path, IReadOnlyList<string> overrides)
    {
        string recorded = Path.Combine(dir, "experiment.conf");
        if (!File.Exists(recorded) || !File.Exists(Path.Combine(dir, "summary.json"))) return false;
        string current = File.ReadAllText(path) + "\n# --set\n" + string.Join("\n", overrides) + "\n";
        try { return Canonical(File.ReadAllText(recorded)) == Canonical(current); }
        catch (Exception e) when (e is FormatException or Akka.Configuration.ConfigurationException) { return false; }
    }

    /// <summary>A configuration text as parsed HOCON, rendered back: comments and layout gone, values and their order kept.</summary>
    internal static string Canonical(string hocon) => Akka.Configuration.ConfigurationFactory.ParseString(hocon).Root.ToString();

    /// <summary>Mean held-out accuracy per evaluation step over seeds (steps every seed evaluated).</summary>
    private static (double[] Steps, double[] Mean, double[] Sd) MeanCurve(List<SeedResult> results)
    {
        var steps = results.Select(r => r.Evals.Select(e => e.Step).ToHashSet()).Aggregate((a, b) => { a.IntersectWith(b); return a; })
            .Where(x => x >= 0).OrderBy(x => x).ToArray();
        var mean = new double[steps.Length];
        var sd = new double[steps.Length];
        for (int i = 0; i < steps.Length; i++)
        {
            var xs = results.Select(r => 100 * r.Evals.Last(e => e.Step == steps[i]).Accuracy).ToArray();
            mean[i] = xs.Average();
            sd[i] = xs.Length > 1 ? Math.Sqrt(xs.Sum(x => (x - mean[i]) * (x - mean[i])) / (xs.Length - 1)) : 0;
        }
        return (steps.Select(x => (double)x).ToArray(), mean, sd);
    }

    private static void WriteComparison(string name, List<(GrpoExperiment Exp, string Path, List<SeedResult> Results)> all,
        IReadOnlyList<ulong> seeds, IReadOnlyList<string> overrides, string reportDir)
    {
        var inv = CultureInfo.InvariantCulture;
        string png = name + "-accuracy.png";
        var plot = new ScottPlot.Plot();
        foreach (var (exp, _, results) in all)
        {
            var (x, mean, _) = MeanCurve(results);
            var line = plot.Add.ScatterLine(x, mean);
            line.LegendText = exp.Name;
        }
        plot.Title($"{name}: held-out greedy accuracy, mean of {seeds.Count} seeds");
        plot.XLabel("GRPO step (0 = after SFT)");
        plot.YLabel("accuracy (%)");
        plot.ShowLegend();
        plot.SavePng(Path.Combine(reportDir, png), 900, 500);

        var sb = new StringBuilder();
        sb.AppendLine($"# {name}: {all.Count} experiments × {seeds.Count} seeds");
        sb.AppendLine();
        sb.AppendLine("Reproduce with:");
        sb.AppendLine();
        sb.AppendLine("```");
        var sets = string.Concat(overrides.Select(o => $" --set {o}"));
        sb.AppendLine($"dotnet run -c Release --project Host -- sweep {string.Join(' ', all.Select(a => a.Path))} --seeds {string.Join(',', seeds)}{sets} --report {reportDir} --name {name}");
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine($"Generated {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores. Every experiment starts each seed from the same SFT checkpoint (runs/sft-cache). " +
                      $"Held-out greedy accuracy on {all[0].Exp.Options.EvalProblems} fixed problems; ± is the standard deviation over seeds; " +
                      "'start + 3' is the first evaluated step where the seed-mean accuracy is at least 3 points above its start.");
        sb.AppendLine();
        sb.AppendLine($"| experiment | after SFT | final | gain (points) | final − {all[0].Exp.Name}, paired by seed | start + 3 at step | s/run |");
        sb.AppendLine("| --- | --- | --- | --- | --- | --- | --- |");
        static (double Mean, double Sd) Stats(double[] xs)
        {
            double m = xs.Average();
            return (m, xs.Length > 1 ? Math.Sqrt(xs.Sum(x => (x - m) * (x - m)) / (xs.Length - 1)) : 0);
        }
        var firstBySeed = all[0].Results.ToDictionary(r => r.Seed, r => 100 * r.FinalAccuracy);
        foreach (var (exp, _, results) in all)
        {
            var (g, sdG) = Stats(results.Select(r => 100 * (r.FinalAccuracy - r.SftAccuracy)).ToArray());
            var (f, sdF) = Stats(results.Select(r => 100 * r.FinalAccuracy).ToArray());
            var paired = results.Where(r => firstBySeed.ContainsKey(r.Seed)).Select(r => 100 * r.FinalAccuracy - firstBySeed[r.Seed]).ToArray();
            var (d, sdD) = paired.Length > 0 ? Stats(paired) : (0, 0);
            var (x, mean, _) = MeanCurve(results);
            int hit = Array.FindIndex(mean, m => m >= mean[0] + 3);
            sb.AppendLine(string.Create(inv, $"| {exp.Name} | {results.Average(r => 100 * r.SftAccuracy):F1}% | {f:F1} ± {sdF:F1}% | {g:+0.0;-0.0} ± {sdG:F1} | {d:+0.0;-0.0} ± {sdD:F1} ({paired.Count(v => v > 0)}/{paired.Length} seeds above) | {(hit < 0 ? "never" : x[hit].ToString("0", inv))} | {results.Average(r => r.Seconds):F0} |"));
        }
        sb.AppendLine();
        sb.AppendLine("Final held-out accuracy per seed (SFT accuracy in brackets; the same for every experiment of a seed):");
        sb.AppendLine();
        sb.AppendLine("| seed | " + string.Join(" | ", all.Select(a => a.Exp.Name)) + " |");
        sb.AppendLine("| --- |" + string.Concat(all.Select(_ => " --- |")));
        foreach (var r0 in all[0].Results)
            sb.AppendLine(string.Create(inv, $"| {r0.Seed} ({100 * r0.SftAccuracy:F1}%) | ") +
                          string.Join(" | ", all.Select(a => a.Results.FirstOrDefault(r => r.Seed == r0.Seed) is { } r ? (100 * r.FinalAccuracy).ToString("F1", inv) + "%" : "")) + " |");
        sb.AppendLine();
        sb.AppendLine($"![held-out accuracy]({png})");
        sb.AppendLine();
        sb.AppendLine("Per-seed tables and curves: " + string.Join(", ", all.Select(a => $"[{a.Exp.Name}]({a.Exp.Name}.md)")) + ".");
        File.WriteAllText(Path.Combine(reportDir, name + ".md"), sb.ToString());
    }

    private sealed record SeedResult(ulong Seed, double SftAccuracy, double FinalAccuracy, double Seconds,
        List<(int Step, double Accuracy)> Evals, List<(int Step, double Reward)> Rewards)
    {
        public static SeedResult Read(ulong seed, string dir)
        {
            var evals = new List<(int, double)>();
            foreach (var line in File.ReadLines(Path.Combine(dir, "eval.jsonl")))
            {
                using var doc = JsonDocument.Parse(line);
                evals.Add((doc.RootElement.GetProperty("step").GetInt32(), doc.RootElement.GetProperty("accuracy").GetDouble()));
            }
            var rewards = new List<(int, double)>();
            foreach (var line in File.ReadLines(Path.Combine(dir, "metrics.jsonl")))
            {
                using var doc = JsonDocument.Parse(line);
                rewards.Add((doc.RootElement.GetProperty("step").GetInt32(), doc.RootElement.GetProperty("reward_mean").GetDouble()));
            }
            using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")));
            var s = summary.RootElement;
            return new SeedResult(seed, s.GetProperty("sft_accuracy").GetDouble(), s.GetProperty("final_accuracy").GetDouble(),
                s.GetProperty("seconds").GetDouble(), evals, rewards);
        }
    }

    private static void Write(GrpoExperiment exp, string path, IReadOnlyList<ulong> seeds, IReadOnlyList<string> overrides,
        List<SeedResult> results, string reportDir)
    {
        var inv = CultureInfo.InvariantCulture;
        string accPng = exp.Name + "-accuracy.png", rewardPng = exp.Name + "-reward.png";

        Curves.SaveLinePlot(Path.Combine(reportDir, accPng), $"{exp.Name}: held-out greedy accuracy ({exp.Options.EvalProblems} problems)",
            "GRPO step (0 = after SFT)", "accuracy (%)",
            results.Select(r => ($"seed {r.Seed}", r.Evals.Select(e => (double)e.Step).ToArray(), r.Evals.Select(e => 100 * e.Accuracy).ToArray())));
        Curves.SaveLinePlot(Path.Combine(reportDir, rewardPng), $"{exp.Name}: training reward_mean (moving average of 25 steps)",
            "GRPO step", "reward_mean",
            results.Select(r => ($"seed {r.Seed}", r.Rewards.Select(x => (double)x.Step).ToArray(),
                Curves.MovingAverage(r.Rewards.Select(x => x.Reward).ToArray(), 25))));

        double meanSft = results.Average(r => r.SftAccuracy), meanFinal = results.Average(r => r.FinalAccuracy);
        var gains = results.Select(r => 100 * (r.FinalAccuracy - r.SftAccuracy)).ToArray();
        double meanGain = gains.Average();
        double sdGain = gains.Length > 1 ? Math.Sqrt(gains.Sum(g => (g - meanGain) * (g - meanGain)) / (gains.Length - 1)) : 0;
        var sb = new StringBuilder();
        sb.AppendLine($"# {exp.Name}: {results.Count} seeds");
        sb.AppendLine();
        sb.AppendLine("Reproduce with:");
        sb.AppendLine();
        sb.AppendLine("```");
        var sets = string.Concat(overrides.Select(o => $" --set {o}"));
        sb.AppendLine($"dotnet run --project Host -- sweep {path} --seeds {string.Join(',', seeds)}{sets} --report {reportDir}");
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine($"Generated {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores. Held-out greedy accuracy on {exp.Options.EvalProblems} fixed problems (eval seed {exp.Options.EvalSeed}).");
        sb.AppendLine();
        sb.AppendLine("| seed | after SFT | after RL | gain (points) | wall time |");
        sb.AppendLine("| --- | --- | --- | --- | --- |");
        foreach (var r in results)
            sb.AppendLine(string.Create(inv, $"| {r.Seed} | {100 * r.SftAccuracy:F1}% | {100 * r.FinalAccuracy:F1}% | {100 * (r.FinalAccuracy - r.SftAccuracy):+0.0;-0.0} | {r.Seconds:F0} s |"));
        sb.AppendLine(string.Create(inv, $"| mean | {100 * meanSft:F1}% | {100 * meanFinal:F1}% | {meanGain:+0.0;-0.0} ± {sdGain:F1} (sd) | |"));
        sb.AppendLine();
        sb.AppendLine($"![held-out accuracy]({accPng})");
        sb.AppendLine();
        sb.AppendLine($"![training reward]({rewardPng})");
        File.WriteAllText(Path.Combine(reportDir, exp.Name + ".md"), sb.ToString());
    }
}
