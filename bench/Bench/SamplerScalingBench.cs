using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using Akka.Cluster;
using RlActors.Actors.Experiment;
using RlActors.Actors.Grpo;
using RlActors.Actors.Protocol;
using RlActors.Actors.Runtime;
using RlActors.Environments.Arithmetic;
using RlActors.Policies.Grpo;
using RlActors.Policies.Lm;
using RlActors.Policies.Runtime;
using RlActors.Policies.Training;
using TorchSharp;

namespace RlActors.Bench;

/// <summary>
/// Sampler scaling (issue 14): the same sampling-bound synchronous GRPO experiment with 1 and then 2 sampler processes
/// (<c>rlactors node --roles sampler</c>, the real command line), each pinned to its own core (<c>taskset -c i</c>) with
/// one torch thread (<c>OMP_NUM_THREADS=1</c>). The host is this process, a cluster node with the learner and reward roles
/// only, so every rollout comes from the sampler processes; it is not pinned (the machine has only the two cores the
/// samplers use) and its learner also runs with one torch thread (with two, OpenMP's spinning barrier made the update
/// 0.1-0.9 s on a loaded machine). In synchronous mode it trains while the samplers wait. The experiment starts when
/// every sampler has joined. Order 1, 2, 1 (the two 1-sampler runs are averaged
/// to cancel drift); per run the medians of the steps after the first <see cref="WarmupSteps"/>.
/// </summary>
public static class SamplerScalingBench
{
    /// <summary>Steps of each run that are not counted (weights first loaded, code paths warmed).</summary>
    public const int WarmupSteps = 3;

    /// <summary>Medians of one run over its counted steps.</summary>
    /// <param name="Samplers">Sampler processes.</param>
    /// <param name="RolloutsPerSecond">Completions per second of step wall time (metric rollouts_per_s).</param>
    /// <param name="StepSeconds">Step wall time, first slot handed out to new weights (step_s).</param>
    /// <param name="TrainSeconds">The learner's update (train_s).</param>
    /// <param name="SlotSeconds">Sampling time of the step's longest slot on its sampler (sample_s).</param>
    /// <param name="AllSamplersEveryStep">Whether every counted step took rollouts from every sampler process.</param>
    /// <param name="CoreShare">CPU time the sampler processes used over the run's wall time, per process (mean): how much of
    /// its core a sampler got; below its busy share of a step when other processes compete for the core.</param>
    /// <param name="HostCores">CPU time this process (the host: coordinator, reward worker, learner) used over the same wall
    /// time, in cores: it runs on the samplers' two cores.</param>
    /// <param name="Load">/proc/loadavg (1-minute) before and after the run.</param>
    public sealed record Measured(int Samplers, double RolloutsPerSecond, double StepSeconds, double TrainSeconds, double SlotSeconds,
        bool AllSamplersEveryStep, double CoreShare, double HostCores, string Load);

    /// <summary>The three runs and the setup they share.</summary>
    public sealed record Result(Measured One, Measured Two, Measured OneAgain, string Setup)
    {
        /// <summary>Rollouts/s with 2 samplers over the mean of the two 1-sampler runs.</summary>
        public double Ratio => Two.RolloutsPerSecond / ((One.RolloutsPerSecond + OneAgain.RolloutsPerSecond) / 2);
    }

    // Sampling-bound: a tiny model (sampling is one forward per new token for the slot's rows, in sequence, bound by per-call
    // overhead; the update is one batched forward/backward over every row padded to the step's longest), no SFT (rows stop
    // when they draw EOS or padding, so a slot's longest row sets its length), small groups and a short max-new-tokens (the
    // most sampling per trained token), 4 prompts per slot (32 slots a step to spread; fewer pull round trips than 1).
    // docs/performance.md says what else was tried.
    private static GrpoRunOptions Options(int steps) => new()
    {
        Seed = 1,
        Model = new LmConfig { VocabSize = CharTokenizer.Default.VocabSize, DModel = 16, Layers = 1, Heads = 2, Context = 96 },
        Sft = new SftOptions { Steps = 0 },
        Grpo = new GrpoOptions { PromptsPerStep = 128, GroupSize = 2, MaxNewTokens = 24 },
        GrpoSteps = steps,
        EvalEvery = 0,
        EvalProblems = 1,
    };

    private static readonly RuntimeOptions Runtime = new() { MaxStaleness = 0, UnitSize = 4, WorkersPerNode = 1 };

    public static Result Run(TextWriter log, int steps)
    {
        string dll = ResumeBench.RlactorsDll();
        var o = Options(steps);
        string setup = $"d{o.Model.DModel} L{o.Model.Layers}, no SFT, {o.Grpo.PromptsPerStep} prompts x G{o.Grpo.GroupSize}, " +
                       $"max-new-tokens {o.Grpo.MaxNewTokens}, {Runtime.UnitSize} prompts per slot, sync, {steps} steps ({WarmupSteps} warm-up)";
        log.WriteLine($"  {setup}");
        // The learner runs on this process's torch thread: one torch thread there too (set where it runs), restored after.
        int threads = TorchThread.Shared.Run(() => { int t = torch.get_num_threads(); torch.set_num_threads(1); return t; }).GetAwaiter().GetResult();
        try
        {
            var one = Once(log, dll, steps, 1);
            var two = Once(log, dll, steps, 2);
            var oneAgain = Once(log, dll, steps, 1);
            return new Result(one, two, oneAgain, setup);
        }
        finally { TorchThread.Shared.Run(() => { torch.set_num_threads(threads); return 0; }).GetAwaiter().GetResult(); }
    }

    private static Measured Once(TextWriter log, string dll, int steps, int samplers)
    {
        string loadBefore = LoadAverage();
        var settings = new GrpoSettings("sampler-scaling", Options(steps), Runtime, [new RewardSpecDto("outcome", null, 1.0, 10)]);
        var nodes = new List<Process>();
        var wall = new Stopwatch();
        double cpuAtStart = 0, cpuAtEnd = 0, hostAtStart = 0, hostAtEnd = 0;
        static double HostCpu() => Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
        try
        {
            var record = InProcessHost.Run(settings, [Roles.Learner, Roles.Reward], (system, port) =>
            {
                for (int core = 0; core < samplers; core++) nodes.Add(StartSampler(dll, port, core));
                WaitForSamplers(system, samplers, nodes);
                (cpuAtStart, hostAtStart) = (nodes.Sum(CpuSeconds), HostCpu());
                wall.Start();
            }, () => { (cpuAtEnd, hostAtEnd) = (nodes.Sum(CpuSeconds), HostCpu()); wall.Stop(); });
            double coreShare = (cpuAtEnd - cpuAtStart) / wall.Elapsed.TotalSeconds / samplers;
            var counted = record.Steps.Skip(WarmupSteps).Select(s => s.Metrics).ToList();
            if (counted.Count == 0) throw new InvalidOperationException($"no steps after the {WarmupSteps} warm-up steps");
            double M(string key) => Median(counted.Select(m => m[key]));
            var run = new Measured(samplers, M(RuntimeMetrics.RolloutsPerSecond), M(RuntimeMetrics.StepSeconds), M(RuntimeMetrics.TrainSeconds),
                M("sample_s"), counted.All(m => (int)m[RuntimeMetrics.Samplers] == samplers), coreShare,
                (hostAtEnd - hostAtStart) / wall.Elapsed.TotalSeconds, $"{loadBefore} -> {LoadAverage()}");
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {samplers} sampler(s): {run.RolloutsPerSecond:F0} rollouts/s, step {run.StepSeconds:F3} s (train {run.TrainSeconds:F3} s, " +
                $"longest slot {run.SlotSeconds:F3} s), every step from all samplers: {run.AllSamplersEveryStep}, " +
                $"samplers used {run.CoreShare:P0} of their cores, the host {run.HostCores:F2} cores, load {run.Load}"));
            return run;
        }
        finally
        {
            // The nodes leave when the host does; one that has not is killed.
            foreach (var p in nodes)
            {
                if (!p.WaitForExit(30_000)) p.Kill(entireProcessTree: true);
                p.Dispose();
            }
        }
    }

    /// <summary><c>taskset -c CORE dotnet rlactors.dll node --seed 127.0.0.1:PORT --roles sampler</c> with one torch thread.</summary>
    internal static Process StartSampler(string dll, int port, int? core)
    {
        // core null: not pinned, torch's default threads (a node as a user starts it).
        var info = new ProcessStartInfo(core is null ? "dotnet" : "taskset")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        string[] pin = core is { } c ? ["-c", c.ToString(CultureInfo.InvariantCulture), "dotnet"] : [];
        foreach (var a in pin.Concat([dll, "node", "--seed", $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}", "--roles", "sampler"]))
            info.ArgumentList.Add(a);
        if (core is not null)
        {
            info.Environment["OMP_NUM_THREADS"] = "1";
            info.Environment["MKL_NUM_THREADS"] = "1";
        }
        var p = Process.Start(info) ?? throw new InvalidOperationException("could not start taskset");
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        p.StandardInput.Close();
        return p;
    }

    /// <summary>Waits until <paramref name="count"/> members with the sampler role are Up (60 s at most).</summary>
    internal static void WaitForSamplers(ActorSystem system, int count, List<Process> nodes)
    {
        var cluster = Cluster.Get(system);
        var watch = Stopwatch.StartNew();
        while (cluster.State.Members.Count(m => m.HasRole(Roles.Sampler) && m.Status == MemberStatus.Up) < count)
        {
            if (nodes.FirstOrDefault(n => n.HasExited) is { } gone)
                throw new InvalidOperationException($"a sampler process exited with {gone.ExitCode} before joining");
            if (watch.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException($"{count} sampler processes did not join within 60 s");
            Thread.Sleep(100);
        }
    }

    /// <summary>User + system CPU seconds of a process so far (/proc/PID/stat, clock ticks of 1/100 s), 0 once it is gone.</summary>
    private static double CpuSeconds(Process p)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{p.Id}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // after "pid (comm) ": state is field 3
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
        }
        catch (IOException) { return 0; }
    }

    internal static string LoadAverage()
    {
        try { return File.ReadAllText("/proc/loadavg").Split(' ')[0]; }
        catch (IOException) { return "?"; }
    }

    internal static double Median(IEnumerable<double> xs)
    {
        var a = xs.Order().ToArray();
        return a[a.Length / 2];
    }
}
