using System.Globalization;
using System.Text;
using System.Text.Json;
using RlActors.Environments.FashionMnist;
using RlActors.Host.Configuration;
using RlActors.Policies.Ccl;
using RlActors.Policies.Runtime;

namespace RlActors.Host.Evidence;

/// <summary>
/// Evidence for issue 7: counter-current learning against backpropagation on Fashion-MNIST, with the two controls
/// (output layer only; CCL with frozen feedback). Every (model, method, layer loss, learning rate, seed) trains for the
/// same number of epochs; after each epoch the forward network is evaluated on the validation and test sets. A run's
/// result is its test accuracy at the epoch of best validation accuracy; with a learning-rate grid, the rate with the
/// best mean validation accuracy over the seeds is reported (all rates are listed too). Writes ccl-compare.md (tables),
/// ccl-compare.jsonl (every epoch of every run) and PNG curves into the report folder.
/// </summary>
public static class CclCompare
{
    /// <summary>Command-line arguments, as typed (parsed and checked by <see cref="Execute"/>).</summary>
    public sealed record Args
    {
        /// <summary>Comma-separated models: mlp, cnn.</summary>
        public string Models { get; init; } = "mlp";
        /// <summary>Comma-separated methods: bp, ccl, output-only, frozen-feedback.</summary>
        public string Methods { get; init; } = "bp,ccl,output-only,frozen-feedback";
        /// <summary>Comma-separated CCL layer losses, or "auto" (MLP: batch-normalised and class-template; CNN: template-decorrelated).</summary>
        public string CclLoss { get; init; } = "auto";
        /// <summary>Epochs per run (equal for every method).</summary>
        public int Epochs { get; init; } = 20;
        /// <summary>Comma-separated seeds.</summary>
        public string Seeds { get; init; } = "1,2,3";
        /// <summary>Report folder.</summary>
        public string Report { get; init; } = "docs/ccl";
        /// <summary>Keep only this many training images (quick runs).</summary>
        public int? TrainLimit { get; init; }
        /// <summary>Learning-rate overrides, e.g. "bp=0.1,ccl=0.3" (keys: methods, or model:method).</summary>
        public string? LearningRates { get; init; }
        /// <summary>Comma-separated learning rates to try for every method (overrides the defaults and --lr).</summary>
        public string? LearningRateGrid { get; init; }
        /// <summary>Folder of the Fashion-MNIST IDX files (default: the Debian package's).</summary>
        public string? DataDirectory { get; init; }
        /// <summary>Images held out of the 60k training file for validation.</summary>
        public int ValidationSize { get; init; } = 5000;
        /// <summary>Examples per step.</summary>
        public int BatchSize { get; init; } = 256;
        /// <summary>The command line to print in the report (to reproduce it).</summary>
        public string CommandLine { get; init; } = "";
    }

    private static readonly Dictionary<string, CclMethod> MethodNames = new()
    {
        ["bp"] = CclMethod.Backprop, ["ccl"] = CclMethod.Ccl, ["output-only"] = CclMethod.OutputOnly, ["frozen-feedback"] = CclMethod.CclFrozenFeedback,
    };

    private static readonly Dictionary<string, CclSimilarity> LossNames = new()
    {
        ["batch-normalised"] = CclSimilarity.BatchNormalised, ["class-template"] = CclSimilarity.ClassTemplate,
        ["template-decorrelated"] = CclSimilarity.ClassTemplateDecorrelated,
    };

    /// <summary>Default learning rates (SGD, clip 1, batch 256), per model and method. MLP values from short runs on
    /// 10k images here; CNN CCL is the authors' 1.0 (with their 100 warm-up steps). Use --lr-grid to select properly.</summary>
    public static double DefaultLearningRate(string model, CclMethod method) => (model, method) switch
    {
        (_, CclMethod.Backprop) => 0.1,
        ("cnn", CclMethod.Ccl or CclMethod.CclFrozenFeedback) => 1.0,
        _ => 0.3,
    };

    /// <summary>Warm-up steps: the authors' 100 for the CNN (every method), none for the MLP.</summary>
    public static int WarmupSteps(string model) => model == "cnn" ? 100 : 0;

    private sealed record Variant(string Model, CclMethod Method, CclSimilarity? Loss)
    {
        public string MethodName => MethodNames.First(kv => kv.Value == Method).Key;
        public string LossName => Loss is { } l ? LossNames.First(kv => kv.Value == l).Key : "-";
        public string Label => Method switch
        {
            CclMethod.Backprop => "BP",
            CclMethod.OutputOnly => "output layer only",
            CclMethod.Ccl => $"CCL ({LossName})",
            _ => $"CCL, frozen feedback ({LossName})",
        };
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private sealed record EpochRecord(string Model, string Method, string Loss, double Lr, ulong Seed, int Epoch, double TrainLoss,
        double TrainAccuracy, double ValidationAccuracy, double ValidationLoss, double TestAccuracy, double TestLoss, double Seconds, double Flops);

    private sealed record RunResult(Variant Variant, double Lr, ulong Seed, List<EpochRecord> Epochs)
    {
        public EpochRecord Best => Epochs.OrderByDescending(e => e.ValidationAccuracy).ThenBy(e => e.Epoch).First();
    }

    /// <summary>Parses and checks every argument, loads the data, runs everything, writes the report. Returns the exit code.</summary>
    public static async Task<int> Execute(Args args, TextWriter log, CancellationToken ct)
    {
        var models = List(args.Models, "--models", ["mlp", "cnn"]);
        var methods = List(args.Methods, "--methods", MethodNames.Keys).Select(m => MethodNames[m]).ToList();
        var seeds = args.Seeds.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : throw new ConfigError($"--seeds: '{s}' is not a non-negative integer"))
            .ToList();
        if (seeds.Count == 0) throw new ConfigError("--seeds needs at least one seed");
        if (seeds.Distinct().Count() != seeds.Count) throw new ConfigError($"--seeds: '{args.Seeds}' repeats a seed");
        if (args.Epochs < 1) throw new ConfigError($"--epochs must be >= 1 (got {args.Epochs})");
        if (args.BatchSize < 1) throw new ConfigError($"--batch-size must be >= 1 (got {args.BatchSize})");
        if (args.TrainLimit is < 1) throw new ConfigError($"--train-limit must be >= 1 (got {args.TrainLimit})");
        if (args.ValidationSize is < 1 or >= FashionMnist.TrainFileSize)
            throw new ConfigError($"--validation-size must be in [1, {FashionMnist.TrainFileSize}) (got {args.ValidationSize}): model selection needs a validation set");
        List<CclSimilarity>? losses = args.CclLoss.Trim() == "auto" ? null
            : List(args.CclLoss, "--ccl-loss", LossNames.Keys).Select(l => LossNames[l]).ToList();
        var overrides = ParseLearningRates(args.LearningRates);
        List<double>? grid = args.LearningRateGrid is null ? null : args.LearningRateGrid
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0 ? v
                : throw new ConfigError($"--lr-grid: '{s}' is not a positive number")).ToList();
        if (grid is { Count: 0 }) throw new ConfigError("--lr-grid needs at least one learning rate");

        var variants = new List<Variant>();
        foreach (var model in models)
            foreach (var method in methods)
            {
                if (method is CclMethod.Backprop or CclMethod.OutputOnly) { variants.Add(new Variant(model, method, null)); continue; }
                var ls = losses ?? (model == "mlp" ? [CclSimilarity.BatchNormalised, CclSimilarity.ClassTemplate] : [CclSimilarity.ClassTemplateDecorrelated]);
                foreach (var l in ls) variants.Add(new Variant(model, method, l));
            }
        List<double> RatesOf(Variant v) => grid ?? [overrides.TryGetValue($"{v.Model}:{v.MethodName}", out var a) ? a
            : overrides.TryGetValue(v.MethodName, out var b) ? b : DefaultLearningRate(v.Model, v.Method)];

        var dataOptions = new FashionMnistOptions { Directory = args.DataDirectory, ValidationSize = args.ValidationSize, TrainLimit = args.TrainLimit };
        FashionMnist fashion;
        try { fashion = FashionMnist.Load(dataOptions); }
        catch (FileNotFoundException e) { throw new ConfigError(e.Message.Replace("data.directory", "--data")); }
        catch (ArgumentException e) { throw new ConfigError(e.Message.Replace("data.validation-size", "--validation-size").Replace("data.train-limit", "--train-limit")); }

        int runs = variants.Sum(v => RatesOf(v).Count) * seeds.Count;
        log.WriteLine($"ccl-compare: {runs} runs x {args.Epochs} epochs on {fashion.Train.Count} train / {fashion.Validation.Count} validation / {fashion.Test.Count} test images");
        Directory.CreateDirectory(args.Report);

        var data = await TorchThread.Shared.Run(() => CclData.From(fashion), ct);
        var results = new List<RunResult>();
        var jsonl = Path.Combine(args.Report, "ccl-compare.jsonl");
        try
        {
            await using var records = new StreamWriter(jsonl, append: false);
            foreach (var v in variants)
                foreach (var lr in RatesOf(v))
                    foreach (var seed in seeds)
                    {
                        var options = new CclOptions
                        {
                            Seed = seed,
                            Architecture = v.Model == "mlp" ? CclArchitecture.FashionMlp : CclArchitecture.FashionCnn,
                            Method = v.Method,
                            Similarity = v.Loss ?? CclSimilarity.BatchNormalised,
                            BatchSize = args.BatchSize,
                            ForwardLearningRate = lr,
                            FeedbackLearningRate = lr,
                            WarmupSteps = WarmupSteps(v.Model),
                        };
                        var epochs = await TorchThread.Shared.Run(() => Train(v, options, data, args.Epochs, log, ct), ct);
                        foreach (var e in epochs) await records.WriteLineAsync(JsonSerializer.Serialize(e, JsonOptions));
                        await records.FlushAsync(ct);
                        results.Add(new RunResult(v, lr, seed, epochs));
                    }
        }
        finally
        {
            await TorchThread.Shared.Run(() => { data.Dispose(); return 0; });
        }

        var markdown = Write(args, fashion, variants, results, seeds);
        log.WriteLine();
        log.WriteLine(markdown);
        log.WriteLine($"report: {Path.Combine(args.Report, "ccl-compare.md")}");
        return 0;
    }

    private static List<EpochRecord> Train(Variant v, CclOptions options, CclData data, int epochs, TextWriter log, CancellationToken ct)
    {
        using var trainer = new CclTrainer(options, data);
        var records = new List<EpochRecord>();
        var inv = CultureInfo.InvariantCulture;
        for (int e = 0; e < epochs; e++)
        {
            var r = trainer.TrainEpoch(ct);
            var val = trainer.Evaluate(CclSplit.Validation);
            var test = trainer.Evaluate(CclSplit.Test);
            var rec = new EpochRecord(v.Model, v.MethodName, v.LossName, options.ForwardLearningRate, options.Seed, e + 1, r.OutputLoss,
                r.TrainAccuracy, val.Accuracy, val.Loss, test.Accuracy, test.Loss, r.Seconds, r.Flops);
            records.Add(rec);
            log.WriteLine(string.Create(inv, $"{v.Model} {v.Label} lr {options.ForwardLearningRate} seed {options.Seed} epoch {e + 1}/{epochs}: " +
                $"train loss {r.OutputLoss:F4} acc {100 * r.TrainAccuracy:F1}% | val {100 * val.Accuracy:F2}% | test {100 * test.Accuracy:F2}% | {r.Seconds:F1} s, {r.Flops / 1e9:F1} GFLOP"));
        }
        return records;
    }

    private static List<string> List(string value, string option, IEnumerable<string> allowed)
    {
        var known = allowed.ToList();
        var items = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        if (items.Count == 0) throw new ConfigError($"{option} needs at least one of {string.Join(", ", known)}");
        foreach (var i in items)
            if (!known.Contains(i)) throw new ConfigError($"{option}: '{i}' is not one of {string.Join(", ", known)}");
        if (items.Distinct().Count() != items.Count) throw new ConfigError($"{option}: '{value}' repeats an entry");
        return items;
    }

    private static Dictionary<string, double> ParseLearningRates(string? value)
    {
        var result = new Dictionary<string, double>();
        if (value is null) return result;
        foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split('=', 2, StringSplitOptions.TrimEntries);
            if (kv.Length != 2) throw new ConfigError($"--lr: '{part}' is not METHOD=RATE or MODEL:METHOD=RATE (e.g. bp=0.1,cnn:ccl=1)");
            var key = kv[0].Split(':', 2);
            string method = key[^1];
            if (!MethodNames.ContainsKey(method)) throw new ConfigError($"--lr: '{method}' is not one of {string.Join(", ", MethodNames.Keys)}");
            if (key.Length == 2 && key[0] is not ("mlp" or "cnn")) throw new ConfigError($"--lr: model '{key[0]}' is not one of mlp, cnn");
            if (!double.TryParse(kv[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var lr) || !(lr > 0))
                throw new ConfigError($"--lr: '{kv[1]}' in '{part}' is not a positive number");
            result[kv[0]] = lr;
        }
        return result;
    }

    private static (double Mean, double Sd) MeanSd(IReadOnlyList<double> xs)
    {
        double mean = xs.Average();
        double sd = xs.Count > 1 ? Math.Sqrt(xs.Sum(x => (x - mean) * (x - mean)) / (xs.Count - 1)) : 0;
        return (mean, sd);
    }

    private static string Write(Args args, FashionMnist fashion, List<Variant> variants, List<RunResult> results, List<ulong> seeds)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine("# Counter-current learning vs backpropagation on Fashion-MNIST");
        sb.AppendLine();
        sb.AppendLine("Reproduce with:");
        sb.AppendLine();
        sb.AppendLine("```");
        sb.AppendLine(args.CommandLine);
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine(string.Create(inv, $"Generated {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores. Data: Fashion-MNIST ({fashion.Train.Count} training / ") +
            string.Create(inv, $"{fashion.Validation.Count} validation images split from the 60k training file with split seed {fashion.Options.SplitSeed}; the 10k test file). ") +
            string.Create(inv, $"{args.Epochs} epoch(s) for every method, batch {args.BatchSize}, plain SGD (momentum 0), gradient-norm clipping 1 for each network ") +
            string.Create(inv, $"(forward, feedback), warm-up {WarmupSteps("mlp")} steps (MLP) / {WarmupSteps("cnn")} steps (CNN). Seeds {string.Join(", ", seeds)} ") +
            "(seed = weight initialisation and data order).");
        sb.AppendLine();
        sb.AppendLine("Model selection: each run's result is its **test accuracy at the epoch of best validation accuracy**. " +
            "When several learning rates were run, the rate with the best mean (over seeds) validation accuracy is reported; every rate is listed at the end. " +
            "Time per epoch is the wall time of the training steps (no evaluation), mean over epochs and seeds. " +
            "FLOPs per epoch are an analytic estimate: 2 per multiply-add of every matrix product and convolution (forward, weight gradients, " +
            "input gradients for backpropagation, the feedback network, the similarity products), no elementwise work.");
        sb.AppendLine();

        var selected = new Dictionary<Variant, List<RunResult>>();
        foreach (var v in variants)
        {
            var byLr = results.Where(r => r.Variant == v).GroupBy(r => r.Lr)
                .OrderByDescending(g => g.Average(r => r.Best.ValidationAccuracy)).ThenBy(g => g.Key).First();
            selected[v] = byLr.ToList();
        }

        foreach (var model in variants.Select(v => v.Model).Distinct())
        {
            var arch = model == "mlp" ? CclArchitecture.FashionMlp : CclArchitecture.FashionCnn;
            var mv = variants.Where(v => v.Model == model).ToList();
            var bp = mv.FirstOrDefault(v => v.Method == CclMethod.Backprop);
            double? bpMean = bp is null ? null : selected[bp].Average(r => r.Best.TestAccuracy);
            sb.AppendLine($"## {model.ToUpperInvariant()}: {arch}");
            sb.AppendLine();
            sb.AppendLine("| method | lr | test accuracy at best validation epoch (mean ± sd) | per seed | best epochs | best validation accuracy | s / epoch | GFLOP / epoch | vs BP (points) |");
            sb.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
            foreach (var v in mv)
            {
                var runs = selected[v];
                var (mean, sd) = MeanSd(runs.Select(r => 100 * r.Best.TestAccuracy).ToList());
                double val = runs.Average(r => 100 * r.Best.ValidationAccuracy);
                double secs = runs.SelectMany(r => r.Epochs).Average(e => e.Seconds);
                double flops = runs[0].Epochs[0].Flops;
                string vs = bpMean is { } b && v != bp ? string.Create(inv, $"{mean - 100 * b:+0.00;-0.00}") : "";
                sb.AppendLine(string.Create(inv, $"| {v.Label} | {runs[0].Lr} | {mean:F2} ± {sd:F2} | {string.Join(", ", runs.Select(r => (100 * r.Best.TestAccuracy).ToString("F2", inv)))} | ") +
                    string.Create(inv, $"{string.Join(", ", runs.Select(r => r.Best.Epoch))} of {args.Epochs} | {val:F2} | {secs:F2} | {flops / 1e9:F1} | {vs} |"));
            }
            sb.AppendLine();

            string png = $"ccl-{model}-validation.png", lossPng = $"ccl-{model}-train-loss.png";
            var epochsAxis = Enumerable.Range(1, args.Epochs).Select(e => (double)e).ToArray();
            Curves.SaveLinePlot(Path.Combine(args.Report, png), $"{model.ToUpperInvariant()}: validation accuracy (mean over {seeds.Count} seeds)",
                "epoch", "validation accuracy (%)",
                mv.Select(v => (v.Label, epochsAxis, epochsAxis.Select((_, i) => selected[v].Average(r => 100 * r.Epochs[i].ValidationAccuracy)).ToArray())));
            Curves.SaveLinePlot(Path.Combine(args.Report, lossPng), $"{model.ToUpperInvariant()}: training output loss (cross-entropy, mean over seeds)",
                "epoch", "cross-entropy",
                mv.Select(v => (v.Label, epochsAxis, epochsAxis.Select((_, i) => selected[v].Average(r => r.Epochs[i].TrainLoss)).ToArray())));
            sb.AppendLine($"![validation accuracy]({png})");
            sb.AppendLine();
            sb.AppendLine($"![training loss]({lossPng})");
            sb.AppendLine();

            var rising = mv.Where(v => selected[v].Any(r => r.Best.Epoch == args.Epochs)).Select(v => v.Label).ToList();
            if (rising.Count > 0)
                sb.AppendLine($"Best validation accuracy at the last epoch (may still be improving) for: {string.Join("; ", rising)}.");
            var outputOnly = mv.FirstOrDefault(v => v.Method == CclMethod.OutputOnly);
            foreach (var ccl in mv.Where(v => v.Method == CclMethod.Ccl))
            {
                double c = selected[ccl].Average(r => 100 * r.Best.TestAccuracy);
                var parts = new List<string>();
                if (bpMean is { } b) parts.Add(string.Create(inv, $"{c - 100 * b:+0.00;-0.00} points vs BP (issue target for the MLP: within 2)"));
                if (outputOnly is not null)
                    parts.Add(string.Create(inv, $"{c - selected[outputOnly].Average(r => 100 * r.Best.TestAccuracy):+0.00;-0.00} points vs output layer only (target: at least +2)"));
                var frozen = mv.FirstOrDefault(v => v.Method == CclMethod.CclFrozenFeedback && v.Loss == ccl.Loss);
                if (frozen is not null)
                    parts.Add(string.Create(inv, $"frozen feedback {selected[frozen].Average(r => 100 * r.Best.TestAccuracy) - c:+0.00;-0.00} points vs learned feedback"));
                if (parts.Count > 0) sb.AppendLine($"- {ccl.Label}: {string.Join("; ", parts)}.");
            }
            sb.AppendLine();
        }

        if (results.GroupBy(r => r.Variant).Any(g => g.Select(r => r.Lr).Distinct().Count() > 1))
        {
            sb.AppendLine("## Every learning rate");
            sb.AppendLine();
            sb.AppendLine("| model | method | lr | best validation accuracy (mean) | test accuracy at that epoch (mean ± sd) |");
            sb.AppendLine("| --- | --- | --- | --- | --- |");
            foreach (var g in results.GroupBy(r => (r.Variant, r.Lr)))
            {
                var (mean, sd) = MeanSd(g.Select(r => 100 * r.Best.TestAccuracy).ToList());
                sb.AppendLine(string.Create(inv, $"| {g.Key.Variant.Model} | {g.Key.Variant.Label} | {g.Key.Lr} | {g.Average(r => 100 * r.Best.ValidationAccuracy):F2} | {mean:F2} ± {sd:F2} |"));
            }
            sb.AppendLine();
        }
        sb.AppendLine("Every epoch of every run (train loss and accuracy, validation and test accuracy and loss, seconds, FLOPs): [ccl-compare.jsonl](ccl-compare.jsonl).");
        var text = sb.ToString();
        File.WriteAllText(Path.Combine(args.Report, "ccl-compare.md"), text);
        return text;
    }
}
