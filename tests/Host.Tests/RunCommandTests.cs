using System.Text.Json;
using System.Text.RegularExpressions;

namespace RlActors.Host.Tests;

/// <summary>The <c>run</c> command end to end: a real process runs examples/smoke.conf on the actor runtime.</summary>
public sealed class RunCommandTests
{
    [Fact]
    public async Task Run_smoke_completes_and_writes_metrics()
    {
        using var dir = new TempFolder();
        string conf = File.ReadAllText(Repo.InRepo("examples/smoke.conf"));
        dir.Write("smoke.conf", conf);
        int steps = int.Parse(Regex.Match(conf, @"grpo\s*\{[^}]*\bsteps\s*=\s*(\d+)").Groups[1].Value);

        await using var run = await CliProcess.RunAsync(dir.Path, TimeSpan.FromSeconds(120), "run", "smoke.conf");

        Experiments.AssertSucceeded(run);
        string output = dir["runs/smoke"];
        var rows = Experiments.ReadJsonLines(Path.Combine(output, "metrics.jsonl"));
        Assert.Equal(Enumerable.Range(1, steps), rows.Select(r => r["step"].GetInt32()));
        foreach (var row in rows)
            foreach (var key in Experiments.MetricKeys)
            {
                Assert.True(row.TryGetValue(key, out var v), $"step {row["step"]}: no '{key}' in metrics.jsonl");
                Assert.True(v.ValueKind == JsonValueKind.Number && double.IsFinite(v.GetDouble()), $"step {row["step"]}: {key} = {v}");
            }
        Assert.Equal(Enumerable.Range(1, steps), rows.Select(r => r["policy_version"].GetInt32()));
        // The smoke run really learns: groups whose rewards vary, so advantages are non-zero and the update moves the
        // weights (a smoke run at 0% after SFT has zero-variance groups only, and a reward plug-in's effect cannot show).
        int prompts = int.Parse(Regex.Match(conf, @"prompts-per-step\s*=\s*(\d+)").Groups[1].Value);
        int updating = rows.Count(r => r["zero_std_groups"].GetDouble() < prompts && r["grad_norm"].GetDouble() > 0);
        Assert.True(updating >= steps / 2, $"only {updating} of {steps} steps had a group with reward variance and a non-zero gradient");
        Assert.True(rows.Max(r => r["reward_mean"].GetDouble()) > 0, "no rollout was ever rewarded");

        var evals = Experiments.ReadJsonLines(Path.Combine(output, "eval.jsonl"));
        Assert.Equal(["sft", "final"], evals.Select(e => e["phase"].GetString()));
        // The evaluation's line, its eval.jsonl row (keys in this order) and the closing line, as a user reads them.
        Assert.All(evals, e => Assert.Equal(["phase", "step", "accuracy", "step_accuracy", "problems"], e.Keys));
        Assert.Contains("[sft]  done in ", run.Stdout);
        int sft = int.Parse(Regex.Match(conf, @"sft\s*\{[^}]*\bsteps\s*=\s*(\d+)").Groups[1].Value);
        Assert.Matches($@"\[sft\]  step +{sft}/{sft}  loss \d+\.\d{{4}}  \([\d.]+ s\)", run.Stdout); // SFT shows its progress
        Assert.Matches(@"\[eval\] sft   step     0  accuracy [\d.,]+ ?%  step-accuracy [\d.,]+ ?%  on \d+ held-out problems", run.Stdout);
        Assert.Matches(@"held-out accuracy [\d.,]+ ?% after SFT -> [\d.,]+ ?% after GRPO \([+-]\d+\.\d points\)", run.Stdout);
        byte[] png = File.ReadAllBytes(Path.Combine(output, "curves.png"));
        Assert.True(png.Length > 8 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', "curves.png is not a PNG");
        Assert.True(new FileInfo(Path.Combine(output, "policy.weights")).Length > 0, "policy.weights is empty");
        Assert.Equal(conf, File.ReadAllText(Path.Combine(output, "experiment.conf")));
        Assert.Contains("done in", run.Stdout);
    }
}
