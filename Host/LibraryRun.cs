using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using RlActors.Host.Configuration;
using RlActors.Policies.Grpo;
using RlActors.Policies.Training;

namespace RlActors.Host;

/// <summary>The library trainer behind <c>run</c>: SFT, then GRPO, no actors. Writes metrics.jsonl, eval.jsonl,
/// summary.json, the resolved experiment text and the final weights into the output folder.</summary>
public static class LibraryRun
{
    /// <summary>Runs the experiment in <paramref name="path"/>; returns the exit code.</summary>
    /// <param name="path">The experiment file.</param>
    /// <param name="overrides">key=value overrides.</param>
    /// <param name="outDir">Output folder (default runs/&lt;name&gt;/&lt;timestamp&gt;).</param>
    /// <param name="log">Progress output.</param>
    /// <param name="ct">Cancels the run.</param>
    /// <param name="sftCache">A folder of SFT results keyed by everything SFT depends on (seed, model, task, SFT
    /// options): a hit loads the weights instead of training, so runs that differ only after SFT (a method
    /// comparison) start from the very same checkpoint. Null: no cache.</param>
    public static Task<int> Execute(string path, IReadOnlyList<string> overrides, string? outDir, TextWriter log, CancellationToken ct,
        string? sftCache = null)
    {
        var exp = GrpoExperimentFile.Load(path, overrides); // throws ConfigError before anything is written
        var o = exp.Options;
        string dir = outDir ?? Path.Combine("runs", exp.Name, DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any())
            throw new ConfigError($"output folder {dir} already exists and is not empty");

        var total = Stopwatch.StartNew();
        using var trainer = new GrpoTrainer(o);
        using var scorer = LibraryScorer.IsDefault(exp) ? null : new LibraryScorer(exp);
        if (scorer is not null && o.Data is not null)
            throw new ConfigError($"{path}: the train command scores a task.type = \"jsonl\" task with the outcome reward only; use run for other rewards");
        if (scorer is not null) trainer.Scorer = scorer.Score;
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "experiment.conf"), exp.SourceText + (overrides.Count > 0 ? "\n# --set\n" + string.Join("\n", overrides) + "\n" : ""));
        string model = o.Pretrained?.Describe() ?? $"d{o.Model.DModel}x{o.Model.Layers} ({o.Model.ParameterCount():N0} params)";
        log.WriteLine($"experiment {exp.Name}: model {model}, " +
                      (o.Data is { } data ? $"task {data.Train} ({data.Verifier} verifier), "
                          : $"task {o.Task.MinOps}-{o.Task.MaxOps} ops of {o.Task.OperandDigits}-digit operands '{o.Task.Operators}', ") +
                      $"SFT {o.Sft.Steps} steps, {o.Algorithm.ToUpperInvariant()} {o.GrpoSteps} steps of {o.Grpo.PromptsPerStep}x{o.Grpo.GroupSize}, seed {o.Seed}, device {o.Device}");
        log.WriteLine($"output: {dir}");

        using var metrics = new StreamWriter(Path.Combine(dir, "metrics.jsonl"));
        using var evals = new StreamWriter(Path.Combine(dir, "eval.jsonl"));
        double Eval(string phase, int step)
        {
            var r = trainer.Evaluate();
            log.WriteLine($"[eval] {phase,-4} step {step,5}  accuracy {r.Accuracy:P1}  step-accuracy {r.StepAccuracy:P1}  on {r.Problems} held-out problems");
            evals.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["phase"] = phase, ["step"] = step, ["accuracy"] = r.Accuracy, ["step_accuracy"] = r.StepAccuracy,
                ["statuses"] = r.Statuses.ToDictionary(kv => kv.Key.ToString(), kv => kv.Value),
            }));
            evals.Flush();
            return r.Accuracy;
        }

        var sftWatch = Stopwatch.StartNew();
        string? cached = sftCache is null ? null : Path.Combine(sftCache, SftKey(o) + ".weights");
        if (cached is not null && File.Exists(cached))
        {
            trainer.Policy.LoadWeights(File.ReadAllBytes(cached));
            log.WriteLine($"[sft]  loaded from the SFT cache: {cached}");
        }
        else
        {
            trainer.RunSft((s, loss) =>
            {
                ct.ThrowIfCancellationRequested();
                if (s % 50 == 0 || s == o.Sft.Steps) log.WriteLine(SftTrainer.ProgressLine(s, o.Sft.Steps, loss, sftWatch.Elapsed.TotalSeconds));
            });
            if (cached is not null)
            {
                Directory.CreateDirectory(sftCache!);
                string tmp = cached + ".tmp";
                File.WriteAllBytes(tmp, trainer.Policy.SaveWeights());
                File.Move(tmp, cached, overwrite: true);
            }
        }
        double sftAccuracy = Eval("sft", 0);

        var grpoWatch = Stopwatch.StartNew();
        for (int step = 1; step <= o.GrpoSteps; step++)
        {
            ct.ThrowIfCancellationRequested();
            var m = trainer.GrpoStep();
            metrics.WriteLine(RlActors.Actors.Persistence.RunFiles.MetricsLine(step, m));
            if (step % exp.LogEvery == 0 || step == o.GrpoSteps)
            {
                metrics.Flush();
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"[{o.Algorithm}] step {step,5}/{o.GrpoSteps}  reward_mean {m[GrpoMetrics.RewardMean]:F3}  accuracy {m[GrpoMetrics.Accuracy]:F3}  " +
                    $"loss {m[GrpoMetrics.Loss]:+0.0000;-0.0000;0.0000}  clip_frac {m[GrpoMetrics.ClipFrac]:F3}  approx_kl {m[GrpoMetrics.ApproxKl]:E1}  " +
                    $"entropy {m[GrpoMetrics.Entropy]:F3}  zero_std_groups {m[GrpoMetrics.ZeroStdGroups]:F0}/{o.Grpo.PromptsPerStep}  " +
                    $"{CapoPart(m)}({grpoWatch.Elapsed.TotalSeconds / step:F2} s/step)"));
            }
            if (o.EvalEvery > 0 && step % o.EvalEvery == 0 && step != o.GrpoSteps) Eval("grpo", step);
        }
        var final = trainer.Evaluate();
        evals.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object> { ["phase"] = "final", ["step"] = o.GrpoSteps, ["accuracy"] = final.Accuracy, ["step_accuracy"] = final.StepAccuracy }));
        File.WriteAllBytes(Path.Combine(dir, "policy.weights"), trainer.Policy.SaveWeights());
        var summary = new Dictionary<string, object>
        {
            ["name"] = exp.Name, ["seed"] = o.Seed, ["sft_accuracy"] = sftAccuracy, ["final_accuracy"] = final.Accuracy,
            ["gain_points"] = 100 * (final.Accuracy - sftAccuracy), ["grpo_steps"] = o.GrpoSteps, ["eval_problems"] = o.EvalProblems,
            ["seconds"] = total.Elapsed.TotalSeconds,
        };
        File.WriteAllText(Path.Combine(dir, "summary.json"), JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true }));
        log.WriteLine($"done in {total.Elapsed.TotalSeconds:F0} s: held-out accuracy {sftAccuracy:P1} after SFT -> {final.Accuracy:P1} after {o.Algorithm.ToUpperInvariant()} " +
                      $"({100 * (final.Accuracy - sftAccuracy):+0.0;-0.0} points)");
        return Task.FromResult(0);
    }

    /// <summary>CAPO's step metrics for the progress line, or "" without CAPO.</summary>
    private static string CapoPart(IReadOnlyDictionary<string, double> m) =>
        m.TryGetValue("critiques_requested", out double asked) && asked > 0
            ? string.Create(CultureInfo.InvariantCulture, $"critiques_valid {m.GetValueOrDefault("critiques_valid") / asked:P0}  wrong_step_fraction {m.GetValueOrDefault("wrong_step_fraction"):F3}  ") +
              (m.TryGetValue("prm_f1", out double f1) ? string.Create(CultureInfo.InvariantCulture, $"prm_f1 {f1:F3}  ") : "")
            : "";

    /// <summary>Everything the SFT result depends on, hashed: seed, device, model shape, task and SFT options.</summary>
    private static string SftKey(GrpoRunOptions o)
    {
        string text = string.Join("|", o.Seed, o.Device, o.Model, o.Task, o.Sft, Environment.ProcessorCount, TorchSharp.torch.get_num_threads());
        if (o.Data is { } data) text += "|" + data; // a data set's files by name and SHA-256 (arithmetic keys are as before)
        if (o.Pretrained is { } p)
        {
            // A pretrained start: the tokenizer (its SHA-256) and the weight files by name, size and time written (hashing
            // gigabytes of weights each run would cost more than the SFT the cache saves).
            text += "|" + p + "|" + o.Tokenizer;
            foreach (var file in Directory.GetFiles(p.Path).Where(f => f.EndsWith(".safetensors", StringComparison.Ordinal) || f.EndsWith(".json", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
                text += $"|{Path.GetFileName(file)}:{new FileInfo(file).Length}:{File.GetLastWriteTimeUtc(file).Ticks}";
        }
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)))[..24];
    }
}
