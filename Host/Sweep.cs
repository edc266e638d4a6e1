using System.Globalization;
using System.Text;
using System.Text.Json;
using RlActors.Host.Configuration;

namespace RlActors.Host;

/// <summary>
/// Evidence runs: the same experiment over several seeds, summarised as a Markdown table and learning-curve PNGs
/// (held-out accuracy and training reward against GRPO step). Runs go to runs/sweep-&lt;name&gt;/seed-N; the report
/// (Markdown + PNGs) to the report folder, e.g. docs/learning.
/// </summary>
public static class Sweep
{
    /// <summary>Runs every seed in turn, then writes the report. Returns the exit code.</summary>
    public static async Task<int> Execute(string path, IReadOnlyList<ulong> seeds, IReadOnlyList<string> overrides, string reportDir,
        TextWriter log, CancellationToken ct)
    {
        if (seeds.Count == 0) throw new ConfigError("--seeds needs at least one seed");
        var exp = ExperimentFile.Load(path, overrides); // validate before running anything
        string runsRoot = Path.Combine("runs", $"sweep-{exp.Name}-{DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}");
        var results = new List<SeedResult>();
        foreach (var seed in seeds)
        {
            string dir = Path.Combine(runsRoot, $"seed-{seed}");
            log.WriteLine($"=== seed {seed} -> {dir}");
            int code = await LibraryRun.Execute(path, [.. overrides, $"seed={seed}"], dir, log, ct);
            if (code != 0) return code;
            results.Add(SeedResult.Read(seed, dir));
        }
        Directory.CreateDirectory(reportDir);
        Write(exp, path, seeds, overrides, results, reportDir);
        log.WriteLine($"report: {Path.Combine(reportDir, exp.Name + ".md")}");
        return 0;
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

    private static void Write(Experiment exp, string path, IReadOnlyList<ulong> seeds, IReadOnlyList<string> overrides,
        List<SeedResult> results, string reportDir)
    {
        var inv = CultureInfo.InvariantCulture;
        string accPng = exp.Name + "-accuracy.png", rewardPng = exp.Name + "-reward.png";

        var acc = new ScottPlot.Plot();
        foreach (var r in results)
        {
            var line = acc.Add.ScatterLine(r.Evals.Select(e => (double)e.Step).ToArray(), r.Evals.Select(e => 100 * e.Accuracy).ToArray());
            line.LegendText = $"seed {r.Seed}";
        }
        acc.Title($"{exp.Name}: held-out greedy accuracy ({exp.Options.EvalProblems} problems)");
        acc.XLabel("GRPO step (0 = after SFT)");
        acc.YLabel("accuracy (%)");
        acc.ShowLegend();
        acc.SavePng(Path.Combine(reportDir, accPng), 800, 450);

        var rew = new ScottPlot.Plot();
        foreach (var r in results)
        {
            var smooth = Curves.MovingAverage(r.Rewards.Select(x => x.Reward).ToArray(), 25);
            var line = rew.Add.ScatterLine(r.Rewards.Select(x => (double)x.Step).ToArray(), smooth);
            line.LegendText = $"seed {r.Seed}";
        }
        rew.Title($"{exp.Name}: training reward_mean (moving average of 25 steps)");
        rew.XLabel("GRPO step");
        rew.YLabel("reward_mean");
        rew.ShowLegend();
        rew.SavePng(Path.Combine(reportDir, rewardPng), 800, 450);

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
        sb.AppendLine("| seed | after SFT | after GRPO | gain (points) | wall time |");
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
