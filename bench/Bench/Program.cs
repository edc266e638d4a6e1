// Benchmarks of the learning core, with warm-up and medians (a Stopwatch harness: BenchmarkDotNet copies the
// 480 MB libtorch per job and refuses Debug builds). Usage: see --help below.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using RlActors.Policies.Lm;
using TorchSharp;
using static TorchSharp.torch;

// Worker process of the weight-distribution benchmark (issue 14): before anything loads torch.
if (args.Length > 0 && args[0] == "--weights-client") { Environment.ExitCode = RlActors.Bench.WeightsBench.Child(args); return; }

if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine("""
        rlactors-bench: measured numbers for docs/performance.md (medians after warm-up)
          dotnet run -c Release --project bench/Bench -- [options]
        options:
          --quick             fewer repetitions
          --checkpoint-only   only the checkpoint save/load of a ~10M-parameter policy + Adam through the SQLite store
          --resume-only       only the time from 'rlactors resume' to the first new step (main job, real processes)
          --pipeline-only     only the actor pipeline against the library loop
          --weights-only      only weight distribution: 100 MB to 2 worker processes against a raw loopback TCP copy
          --hf-only           only the Hugging Face-layout decoder (~25M and ~100M parameters): sampling, GRPO learner MFU,
                              memory, HF checkpoint save/load
          --scaling-only      only sampler scaling: 1 vs 2 sampler processes (taskset, one torch thread each), rollouts/s
          --big-model-only    only a d512 x 8 policy (~100 MB weights) with a sampler node process: step times against the host alone
          --write FILE        put this run's table between the bench markers of FILE (e.g. docs/performance.md);
                              a run of one section replaces only that section's rows
        """);
    return;
}
bool quick = args.Contains("--quick");
bool checkpointOnly = args.Contains("--checkpoint-only"), resumeOnly = args.Contains("--resume-only"), pipelineOnly = args.Contains("--pipeline-only");
bool weightsOnly = args.Contains("--weights-only"), scalingOnly = args.Contains("--scaling-only");
bool hfOnly = args.Contains("--hf-only"), bigOnly = args.Contains("--big-model-only");
bool only = checkpointOnly || resumeOnly || pipelineOnly || weightsOnly || scalingOnly || hfOnly || bigOnly;
bool RunSection(bool flag) => !only || flag;
int writeAt = Array.IndexOf(args, "--write");
string? writePath = writeAt >= 0 && writeAt + 1 < args.Length ? args[writeAt + 1] : null;
int reps = quick ? 3 : 9;
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var rows = new List<(string Name, string Value, string Note)>();
void Report(string name, string value, string note = "")
{
    rows.Add((name, value, note));
    Console.WriteLine($"{name,-52} {value,-18} {note}");
}

static double Median(List<double> xs) { xs.Sort(); return xs[xs.Count / 2]; }
static double TimeMedian(int warmup, int reps, Action body)
{
    for (int i = 0; i < warmup; i++) body();
    var times = new List<double>();
    for (int i = 0; i < reps; i++)
    {
        var w = Stopwatch.StartNew();
        body();
        times.Add(w.Elapsed.TotalSeconds);
    }
    return Median(times);
}

Console.WriteLine($"torch threads: {torch.get_num_threads()}, cores: {Environment.ProcessorCount}, reps: {reps} (median)");

// Sections 1-3 run on the process's torch thread, like all torch work in the runtime (see TorchThread).
if (!only) RlActors.Policies.Runtime.TorchThread.Shared.Run(() => { Micro(); return 0; }).GetAwaiter().GetResult();

// 1. Reference: dense fp32 matmul throughput (FLOP/s), the denominator of every MFU row.
// report false: a later section's own reference (its rows name it), which must not replace this row.
double MeasureMatmul(bool report = true)
{
    var gen = new Generator(1);
    using var a = randn(1024, 1024, generator: gen);
    using var b = randn(1024, 1024, generator: gen);
    double t = TimeMedian(3, reps * 3, () => { using var c = a.matmul(b); });
    double flops = 2.0 * 1024 * 1024 * 1024 / t;
    if (report) Report("matmul 1024x1024 fp32", $"{flops / 1e9:F1} GFLOP/s", $"{t * 1e3:F2} ms");
    return flops;
}

void Micro()
{
double matmulFlops = MeasureMatmul();

// 2. LM training throughput and model-FLOPs utilisation of a learner step.
foreach (var (d, layers) in new[] { (128, 2), (256, 4) })
{
    var cfg = new LmConfig { VocabSize = 23, DModel = d, Layers = layers, Heads = 4, Context = 65 };
    using var model = new TransformerLm(cfg, 7);
    var opt = optim.Adam(model.parameters(), 1e-4);
    const int B = 64, T = 64;
    var gen = new Generator(2);
    using var tokens = randint(0, 23, new long[] { B, T + 1 }, generator: gen);
    using var input = tokens.narrow(1, 0, T);
    using var target = tokens.narrow(1, 1, T);
    double t = TimeMedian(2, reps, () =>
    {
        using var scope = NewDisposeScope();
        var logits = model.call(input);
        var loss = nn.functional.cross_entropy(logits.reshape(B * T, 23), target.reshape(B * T));
        opt.zero_grad();
        loss.backward();
        opt.step();
    });
    double tokensPerSec = B * T / t;
    // forward ≈ F per token; backward ≈ 2F; so a training step ≈ 3F per token.
    double stepFlops = 3 * cfg.ForwardFlopsPerToken(T) * B * T;
    double mfu = stepFlops / t / matmulFlops;
    Report($"LM train step d{d} L{layers} B{B}xT{T} (fwd+bwd+Adam)", $"{tokensPerSec:N0} tok/s", $"{t * 1e3:F0} ms/step");
    Report($"learner MFU d{d} L{layers} (vs matmul above)", $"{mfu:P0}", $"{stepFlops / t / 1e9:F1} GFLOP/s model FLOPs");
}

// 3. Sampling throughput with and without the KV cache.
foreach (var (d, layers) in new[] { (64, 2), (128, 2) })
{
    var cfg = new LmConfig { VocabSize = 23, DModel = d, Layers = layers, Heads = 4, Context = 72 };
    using var model = new TransformerLm(cfg, 7);
    model.eval();
    const int B = 64, New = 64;
    var prompts = Enumerable.Range(0, B).Select(i => new[] { 11 + i % 3, 3, 4, 5, 6, 7, 8, 12 }).ToList();
    // eos/pad ids that are never drawn, so every row generates exactly New tokens.
    double Run(bool cache)
    {
        var gen = new Generator(3);
        var opts = new SampleOptions { Temperature = 1, MaxNewTokens = New, UseKvCache = cache };
        return TimeMedian(1, quick ? 2 : 5, () => LmSampler.Sample(model, prompts, opts, gen, eosId: -1, padId: -1));
    }
    double tc = Run(true), tn = Run(false);
    Report($"sampling d{d} L{layers} B{B} x {New} new tokens, KV cache", $"{B * New / tc:N0} tok/s", $"{tc:F3} s");
    Report($"sampling d{d} L{layers} B{B} x {New} new tokens, no cache", $"{B * New / tn:N0} tok/s", $"{tn:F3} s");
    Report($"KV-cache speed-up d{d}", $"{tn / tc:F1}x", "target >= 3x");
}

}

// 5. Checkpoint save and load through the SQLite store (on the torch thread: it loads weights into a model).
if (RunSection(checkpointOnly))
{
    var c = RlActors.Policies.Runtime.TorchThread.Shared.Run(() => RlActors.Bench.CheckpointBench.Run(Console.Out)).GetAwaiter().GetResult();
    Report($"checkpoint save, {c.Parameters / 1e6:F1}M params + Adam ({c.Bytes / 1e6:F0} MB), SQLite", $"{c.Save * 1e3:F0} ms",
        $"target <= 1 s; snapshot to bytes {c.Snapshot * 1e3:F0} ms (torch thread) + streamed chunked write {c.Write * 1e3:F0} ms");
    Report($"checkpoint load, same", $"{c.Load * 1e3:F0} ms", "read + sha256 verify + decode + load weights and Adam state");
}

// 6. Resume to the first new step: the real command line, separate processes.
if (RunSection(resumeOnly))
{
    var r = RlActors.Bench.ResumeBench.Run(Console.Out, quick ? 3 : 5);
    Report("resume to first new step (main job d64 L2, SQLite)", $"{r.FirstStep:F2} s", $"target <= 3 s; `rlactors resume` process start to the step's line, median of {r.Repetitions}");
    Report("resume, part 1: process start, store checked and read, checkpoint loaded", $"{r.StoreRead:F2} s", $"a bare `rlactors keys` process takes {r.ProcessStart:F2} s");
    Report("resume, part 2: Akka started, one-node cluster up", $"{r.ClusterUp - r.StoreRead:F2} s", "the journal recovers meanwhile");
    Report("resume, part 3: experiment actor started", $"{r.ExperimentStarted - r.ClusterUp:F2} s", "its resume records are written meanwhile");
    Report("resume, part 4: learner loads the checkpoint, first step runs", $"{r.FirstStep - r.ExperimentStarted:F2} s", $"that step's step_s {r.FirstStepSeconds:F2} s; steady state {r.SteadyStepSeconds:F2} s");
}

// 7. The Hugging Face-layout decoder (issue 15), on the torch thread.
if (hfOnly)
{
    var results = RlActors.Policies.Runtime.TorchThread.Shared.Run(() =>
    {
        return RlActors.Bench.HfBench.Configs
            .Select(c => RlActors.Bench.HfBench.Run(c.Name, c.Config, body => TimeMedian(1, quick ? 2 : 3, body), () => MeasureMatmul(report: false), Console.Out)).ToList();
    }).GetAwaiter().GetResult();
    foreach (var r in results)
    {
        Report($"{r.Name} ({r.Parameters / 1e6:F1}M params) sampling B{r.SampleRows} x {r.SampleNew} new tokens, KV cache", $"{r.SampleRows * r.SampleNew / r.SampleSeconds:N0} tok/s", $"{r.SampleSeconds:F2} s");
        Report($"{r.Name} GRPO learner step, {r.LearnRows} rows x {r.LearnTokens / r.LearnRows} tokens", $"{r.LearnTokens / r.LearnSeconds:N0} tok/s", $"{r.LearnSeconds:F2} s/step");
        Report($"{r.Name} learner MFU (vs the matmul measured just before)", $"{r.LearnFlops / r.LearnSeconds / r.MatmulFlops:P0}",
            $"{r.LearnFlops / r.LearnSeconds / 1e9:F1} GFLOP/s model FLOPs (scoring pass + fwd/bwd = 4 forwards); matmul {r.MatmulFlops / 1e9:F1} GFLOP/s");
        Report($"{r.Name} memory", $"{r.RssModel / 1e6:F0} MB RSS", $"after building the model; peak {r.PeakRss / 1e6:F0} MB after the learner steps (process, cumulative)");
        Report($"{r.Name} HF checkpoint save / load", $"{r.SaveSeconds:F2} s / {r.LoadSeconds:F2} s", $"model.safetensors {r.SavedBytes / 1e6:F0} MB (F32) + config.json");
    }
}

// 4. Actor pipeline against the bare library loop (same configuration, same run).
if (RunSection(pipelineOnly))
{
    int steps = quick ? 30 : 80;
    Console.WriteLine($"actor pipeline vs library loop, d64 L2, 16 prompts x 8, {steps} GRPO steps each (steady state: steps 11+):");
    var (lib, act) = RlActors.Bench.PipelineBench.Run(steps, Console.Out);
    Report("GRPO step, library loop (d64 L2, 16x8)", $"{lib * 1e3:F0} ms", "median of steps 11+, two runs averaged");
    Report("GRPO step, actor pipeline (same config)", $"{act * 1e3:F0} ms", "one node, all roles, sync");
    Report("actor / library step time", $"{act / lib:F3}x", "target <= 1.05x");
}

// 7. Weight distribution to worker processes against a raw loopback TCP copy (same run).
if (RunSection(weightsOnly))
{
    Console.WriteLine("weight distribution, 100 MB to 2 worker processes on loopback:");
    var w = RlActors.Bench.WeightsBench.Run(Console.Out, 100, quick ? 3 : 5);
    double total = w.Megabytes * w.Workers;
    Report($"weights {w.Megabytes} MB to {w.Workers} worker processes (side channel, sha256 checked)", $"{w.Weights:F3} s",
        $"{total / w.Weights:F0} MB/s in all; target <= 1 s; median of {w.Rounds}");
    Report($"raw loopback TCP copy, same bytes, same processes", $"{w.Raw:F3} s", $"{total / w.Raw:F0} MB/s in all (the machine's limit)");
    Report("raw TCP copy into a fresh array + sha256, same processes", $"{w.RawVerified:F3} s", $"{total / w.RawVerified:F0} MB/s in all (the least a checked copy costs)");
    Report("weights / raw TCP throughput", $"{w.Raw / w.Weights:P0}", $"target >= 50%; against the checked raw copy {w.RawVerified / w.Weights:P0}");
}

// 8. Sampler scaling: the same sampling-bound experiment with 1 and 2 sampler processes, each on its own core.
if (RunSection(scalingOnly))
{
    Console.WriteLine("sampler scaling, 1 vs 2 sampler processes (each pinned to its own core, one torch thread), this process the host:");
    var sc = RlActors.Bench.SamplerScalingBench.Run(Console.Out, quick ? 15 : 30);
    string Where(RlActors.Bench.SamplerScalingBench.Measured r) =>
        $"step {r.StepSeconds:F3} s = train {r.TrainSeconds:F3} s + the rest {r.StepSeconds - r.TrainSeconds:F3} s (sampling, scoring, messages; longest slot {r.SlotSeconds:F3} s); samplers used {r.CoreShare:P0} of their cores, the host process {r.HostCores:F2} cores; load {r.Load}"
        + (r.AllSamplersEveryStep ? "" : "; NOT every step took rollouts from every sampler");
    Report("sampler scaling: 1 sampler process (1st run)", $"{sc.One.RolloutsPerSecond:F0} rollouts/s", Where(sc.One));
    Report("sampler scaling: 2 sampler processes", $"{sc.Two.RolloutsPerSecond:F0} rollouts/s", Where(sc.Two));
    Report("sampler scaling: 1 sampler process (2nd run)", $"{sc.OneAgain.RolloutsPerSecond:F0} rollouts/s", Where(sc.OneAgain));
    Report("sampler scaling: 2 / 1 sampler processes, rollouts/s", $"{sc.Ratio:F2}x", $"target >= 1.8x; {sc.Setup}; medians");
}

// 9. The d512 x 8 policy (~100 MB of weights) with a sampler node: steady step times, not a 124 s first step.
if (RunSection(bigOnly))
{
    Console.WriteLine("a ~25M-parameter policy with a sampler node (weights over the remote frame size):");
    var big = RlActors.Bench.BigModelBench.Run(Console.Out, quick ? 4 : 8);
    double alone = RlActors.Bench.BigModelBench.Result.Steady(big.HostAlone), node = RlActors.Bench.BigModelBench.Result.Steady(big.WithNode);
    Report("d512 L8 policy, host alone: step time", $"{alone:F2} s", $"median after step 1 (step 1 {big.HostAlone[0]:F2} s); {big.Setup}; load {big.Load}");
    Report("d512 L8 policy, every rollout from a sampler node: step time", $"{node:F2} s",
        $"median after step 1 (step 1 {big.WithNode[0]:F2} s, before issue 14: 124 s); {node / alone:F2}x the host alone; each step fetches {big.WeightBytes / 1e6:F0} MB of new weights");
}

if (writePath is not null)
{
    string text = File.Exists(writePath) ? File.ReadAllText(writePath) : "";
    int s = text.IndexOf("<!-- bench:begin", StringComparison.Ordinal), e = text.IndexOf("<!-- bench:end -->", StringComparison.Ordinal);
    string header = $"Measured {DateTime.UtcNow:yyyy-MM-dd} on {Environment.ProcessorCount} cores, torch threads {torch.get_num_threads()}, median of {reps} runs.";
    if (only && s >= 0 && e > s)
    {
        // One section: its rows replace the rows of the same name in the existing table; the others stay as measured.
        var old = text[s..e].Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var oldRows = old.Where(l => l.StartsWith("| ", StringComparison.Ordinal) && !l.StartsWith("| benchmark", StringComparison.Ordinal)
                                     && !l.StartsWith("| ---", StringComparison.Ordinal))
            .Select(l => l.Split(" | ")).Select(c => (Name: c[0][2..], Value: c[1], Note: c[2].TrimEnd(' ', '|'))).ToList();
        var merged = oldRows.Select(o => rows.FirstOrDefault(n => n.Name == o.Name) is { Name: not null } n ? n : o).ToList();
        merged.AddRange(rows.Where(n => oldRows.All(o => o.Name != n.Name)));
        string flags = string.Join(' ', args.Where(a => a.EndsWith("-only", StringComparison.Ordinal)));
        header = string.Join('\n', old.Where(l => l.StartsWith("Measured", StringComparison.Ordinal) || l.StartsWith("Rows of", StringComparison.Ordinal))
            .Where(l => !l.Contains(flags, StringComparison.Ordinal)))
            + $"\nRows of `{flags}` re-measured {DateTime.UtcNow:yyyy-MM-dd} (each row says what it is a median of).";
        rows.Clear();
        rows.AddRange(merged);
    }
    var sb = new StringBuilder();
    sb.AppendLine("<!-- bench:begin (generated by bench/Bench; do not edit by hand) -->");
    sb.AppendLine(header);
    sb.AppendLine();
    sb.AppendLine("| benchmark | result | detail |");
    sb.AppendLine("| --- | --- | --- |");
    foreach (var (n, v, note) in rows) sb.AppendLine($"| {n} | {v} | {note} |");
    sb.AppendLine("<!-- bench:end -->");
    text = s >= 0 && e > s ? text[..s] + sb + text[(e + "<!-- bench:end -->".Length)..].TrimStart('\r', '\n') : text + "\n" + sb;
    File.WriteAllText(writePath, text);
    Console.WriteLine($"wrote {writePath}");
}
