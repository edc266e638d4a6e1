using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace RlActors.Bench;

/// <summary>
/// Time from starting <c>rlactors resume</c> to the first newly completed step, on the main job's model
/// (examples/arithmetic-grpo.conf, d64 L2, 16 prompts x 8) with the default SQLite store. It runs the real command line
/// (Host/bin/&lt;configuration&gt;/net10.0/rlactors.dll, built with this project) as separate processes: one <c>run</c> of
/// the main job cut to 3 GRPO steps (SFT included) makes the experiment, then each repetition starts <c>resume</c>,
/// waits for the first new step's line, and stops it with SIGTERM (which checkpoints that step), so the next
/// repetition resumes one step further. The breakdown comes from the time each of the process's lines arrives.
/// </summary>
public static class ResumeBench
{
    /// <summary>Medians in seconds from the process start.</summary>
    /// <param name="ProcessStart">A bare process (<c>rlactors keys</c>: .NET start-up and the command line), start to exit.</param>
    /// <param name="StoreRead">Store checked, journal read, checkpoint loaded and verified ("resuming experiment" line).</param>
    /// <param name="ClusterUp">Akka started and the one-node cluster up ("cluster host up" line).</param>
    /// <param name="ExperimentStarted">The experiment actor started ("resuming after step" line; its resume records are written meanwhile).</param>
    /// <param name="FirstStep">The first new step completed (its "[grpo] step" line).</param>
    /// <param name="FirstStepSeconds">That step's own step_s (sampling, scoring and training).</param>
    /// <param name="SteadyStepSeconds">Median step_s of the steps of the run that made the experiment, for comparison.</param>
    public sealed record Result(double ProcessStart, double StoreRead, double ClusterUp, double ExperimentStarted, double FirstStep,
        double FirstStepSeconds, double SteadyStepSeconds, int Repetitions);

    public static Result Run(TextWriter log, int repetitions)
    {
        string dll = RlactorsDll();
        string conf = Path.Combine(RepoRoot(), "examples", "arithmetic-grpo.conf");
        string dir = Directory.CreateTempSubdirectory("rl-resume-bench-").FullName;
        const string name = "resume-bench";
        try
        {
            var keys = new List<double>();
            for (int i = 0; i < 3; i++) keys.Add(Cli.Run(dll, dir, ["keys"], TimeSpan.FromSeconds(60)).Seconds);

            log.WriteLine("  making the experiment: the main job with 3 GRPO steps (SFT included) ...");
            var made = Cli.Run(dll, dir, ["run", conf, "--name", name, "--steps", "3", "--set", "log-every=1"], TimeSpan.FromMinutes(10));
            if (made.ExitCode != 0) throw new InvalidOperationException($"run exited with {made.ExitCode}:\n{made.Output}");
            var steady = MetricSteps(dir, name).Select(m => m.StepSeconds).ToList();

            var (store, cluster, actor, first, firstStepS) = (new List<double>(), new List<double>(), new List<double>(), new List<double>(), new List<double>());
            for (int i = 0; i < repetitions; i++)
            {
                var p = Cli.Start(dll, dir, ["resume", name, "--steps", "100000"]);
                try
                {
                    double s = p.WaitFor(l => l.StartsWith("resuming experiment", StringComparison.Ordinal));
                    double c = p.WaitFor(l => l.StartsWith("cluster host up", StringComparison.Ordinal));
                    double a = p.WaitFor(l => l.Contains(": resuming after step", StringComparison.Ordinal));
                    double f = p.WaitFor(l => l.StartsWith("[grpo] step", StringComparison.Ordinal));
                    p.Signal("TERM");
                    int code = p.WaitForExit(TimeSpan.FromSeconds(60));
                    if (code != 143) throw new InvalidOperationException($"resume stopped with SIGTERM exited with {code}, expected 143:\n{p.Output}");
                    double stepS = MetricSteps(dir, name)[^1].StepSeconds;
                    log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  resume {i + 1}: store read {s:F2} s, cluster up {c:F2} s, experiment started {a:F2} s, first new step {f:F2} s (its step_s {stepS:F2} s)"));
                    store.Add(s); cluster.Add(c); actor.Add(a); first.Add(f); firstStepS.Add(stepS);
                }
                finally { p.Dispose(); }
            }
            return new Result(Median(keys), Median(store), Median(cluster), Median(actor), Median(first), Median(firstStepS), Median(steady), repetitions);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static List<(long Step, double StepSeconds)> MetricSteps(string dir, string name) =>
        File.ReadAllLines(Path.Combine(dir, "runs", name, "metrics.jsonl")).Where(l => l.Trim().Length > 0)
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Select(e => (e.GetProperty("step").GetInt64(), e.GetProperty("step_s").GetDouble())).ToList();

    private static double Median(List<double> xs) => xs.Order().ElementAt(xs.Count / 2);

    /// <summary>The command line built with this project: Host/bin/&lt;our configuration&gt;/net10.0/rlactors.dll.</summary>
    internal static string RlactorsDll()
    {
        string configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
        string dll = Path.Combine(RepoRoot(), "Host", "bin", configuration, "net10.0", "rlactors.dll");
        if (!File.Exists(dll)) throw new FileNotFoundException($"build the command line first: dotnet build -c {configuration} Host ({dll} is missing)");
        return dll;
    }

    private static string RepoRoot()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Actors.sln"))) return d.FullName;
        throw new InvalidOperationException($"no folder above {AppContext.BaseDirectory} holds Actors.sln");
    }

    /// <summary>One rlactors process; every line it prints is kept with the time it arrived (seconds since the start).</summary>
    private sealed class Cli : IDisposable
    {
        private readonly Process process;
        private readonly Stopwatch clock = Stopwatch.StartNew();
        private readonly List<(double At, string Line)> lines = new();
        private readonly object gate = new();

        private Cli(string dll, string dir, IReadOnlyList<string> args)
        {
            var info = new ProcessStartInfo(Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet")
            {
                WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
            };
            info.ArgumentList.Add(dll);
            foreach (var a in args) info.ArgumentList.Add(a);
            process = new Process { StartInfo = info };
            process.OutputDataReceived += (_, e) => Add(e.Data);
            process.ErrorDataReceived += (_, e) => Add(e.Data);
            clock.Restart();
            process.Start();
            process.StandardInput.Close();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        private void Add(string? line)
        {
            if (line is null) return;
            lock (gate) { lines.Add((clock.Elapsed.TotalSeconds, line)); Monitor.PulseAll(gate); }
        }

        public static Cli Start(string dll, string dir, IReadOnlyList<string> args) => new(dll, dir, args);

        public static (int ExitCode, double Seconds, string Output) Run(string dll, string dir, IReadOnlyList<string> args, TimeSpan timeout)
        {
            using var p = Start(dll, dir, args);
            int code = p.WaitForExit(timeout);
            return (code, p.clock.Elapsed.TotalSeconds, p.Output);
        }

        public string Output { get { lock (gate) return string.Join('\n', lines.Select(l => l.Line)); } }

        /// <summary>Seconds from the start to the first line <paramref name="match"/> accepts (waits up to 5 minutes).</summary>
        public double WaitFor(Func<string, bool> match)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
            bool exited = false;
            lock (gate)
            {
                while (true)
                {
                    foreach (var (at, line) in lines) if (match(line)) return at;
                    if (DateTime.UtcNow > deadline || exited)
                        throw new TimeoutException($"rlactors did not print the awaited line:\n{string.Join('\n', lines.Select(l => l.Line))}");
                    exited = process.HasExited; // then wait once more for its last lines
                    Monitor.Wait(gate, 200);
                }
            }
        }

        public int WaitForExit(TimeSpan timeout)
        {
            if (!process.WaitForExit(timeout)) { process.Kill(entireProcessTree: true); throw new TimeoutException($"rlactors did not exit within {timeout}:\n{Output}"); }
            process.WaitForExit(); // drain the output
            return process.ExitCode;
        }

        public void Signal(string name)
        {
            using var kill = Process.Start(new ProcessStartInfo("kill", ["-s", name, process.Id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
            kill.WaitForExit();
        }

        public void Dispose()
        {
            try { if (!process.HasExited) process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            process.Dispose();
        }
    }
}
