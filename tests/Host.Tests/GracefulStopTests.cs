using System.Text.Json;

namespace RlActors.Host.Tests;

/// <summary>
/// SIGINT and SIGTERM stop <c>run</c> at a step boundary: the last completed step is checkpointed through the store,
/// the journal says "stopped", the exit code is the signal's, and <c>resume</c> ends bitwise like an uninterrupted run,
/// also on another machine that has only a copy of the store (metrics.jsonl is rebuilt from the journal there).
/// </summary>
public class GracefulStopTests(GracefulStopTests.Uninterrupted reference) : IClassFixture<GracefulStopTests.Uninterrupted>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);
    private const int Steps = 30;

    /// <summary>The same experiment run without interruption, once for the class (its name does not change its numbers).</summary>
    public sealed class Uninterrupted : IAsyncLifetime
    {
        private readonly TempFolder dir = new();
        public string WeightsSha256 { get; private set; } = "";
        public List<double> Losses { get; private set; } = [];
        public List<string> Evaluations { get; private set; } = [];

        public async Task InitializeAsync()
        {
            string name = $"whole-{Guid.NewGuid():N}"[..14];
            dir.Write("whole.conf", Config(name));
            await using (var run = await CliProcess.RunAsync(dir.Path, Timeout, "run", "whole.conf"))
                Experiments.AssertSucceeded(run);
            WeightsSha256 = (await Experiments.Show(dir, name)).GetProperty("weights_sha256").GetString()!;
            Losses = Experiments.ReadJsonLines(dir[$"runs/{name}/metrics.jsonl"]).Select(r => r["loss"].GetDouble()).ToList();
            Evaluations = EvaluationsIn(dir[$"runs/{name}/eval.jsonl"]);
        }

        public Task DisposeAsync() { dir.Dispose(); return Task.CompletedTask; }
    }

    /// <summary>eval.jsonl as "phase step accuracy" lines.</summary>
    private static List<string> EvaluationsIn(string path) => Experiments.ReadJsonLines(path)
        .Select(r => $"{r["phase"].GetString()} {r["step"].GetInt64()} {r["accuracy"].GetDouble():R}").ToList();

    // No periodic checkpoint before the end: the checkpoint found after the stop can only be the one the stop took.
    private static string Config(string name) => Experiments.Tiny(name, $$"""
        grpo { steps = {{Steps}}, learning-rate = 1e-3, max-new-tokens = 24 }
        runtime { checkpoint-every = 100 }
        rewards = [ { type = "MyLab.Rewards.LengthPenalty, MyLab.Rewards", assembly = {{Experiments.Quote(Repo.MyLabRewardsDll)}} } ]
        """);

    [Theory]
    [InlineData("TERM", 143, false)]
    [InlineData("INT", 130, true)]
    public async Task A_signal_stops_the_run_after_checkpointing_its_last_step_and_resume_ends_like_an_uninterrupted_run(string signal, int exitCode, bool moved)
    {
        using var dir = new TempFolder();
        string suffix = Guid.NewGuid().ToString("N")[..8];
        string stopped = $"stopped-{suffix}";
        dir.Write("stopped.conf", Config(stopped));

        await using (var victim = CliProcess.Start(dir.Path, "run", "stopped.conf"))
        {
            await victim.WaitForLineAsync(l => l.Contains($"step     3/{Steps}"), Timeout, "step 3");
            victim.Signal(signal);
            Assert.Equal(exitCode, await victim.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            Assert.Contains("stopped", victim.Output);
        }

        var atStop = await Experiments.Show(dir, stopped);
        Assert.Equal("stopped", atStop.GetProperty("status").GetString());
        Assert.Equal($"SIG{signal}", atStop.GetProperty("stopped_by").GetString());
        long step = atStop.GetProperty("step").GetInt64();
        Assert.InRange(step, 3, Steps - 1);
        Assert.Equal(step, atStop.GetProperty("checkpoint").GetProperty("step").GetInt64()); // the last completed step, not a periodic one
        var written = Experiments.ReadJsonLines(dir[$"runs/{stopped}/metrics.jsonl"]).Select(r => r["step"].GetInt64()).ToList();
        Assert.Equal(Enumerable.Range(1, (int)step).Select(i => (long)i), written); // metrics flushed up to that step

        await using (var list = await CliProcess.RunAsync(dir.Path, Timeout, "list"))
        {
            Experiments.AssertSucceeded(list);
            Assert.Matches($@"{stopped}\s+Stopped\s+{step}/{Steps}", list.Stdout);
        }

        // A move: only the store's files go to a fresh folder (another machine); the run folder stays behind.
        using var elsewhere = new TempFolder();
        var at = dir;
        if (moved)
        {
            Directory.CreateDirectory(elsewhere["runs"]);
            foreach (var file in Directory.GetFiles(dir["runs"], "experiments.db*"))
                File.Copy(file, elsewhere[$"runs/{Path.GetFileName(file)}"]);
            at = elsewhere;
        }

        await using (var resume = await CliProcess.RunAsync(at.Path, Timeout, "resume", stopped))
        {
            Experiments.AssertSucceeded(resume);
            Assert.Contains($"resuming experiment {stopped} after step {step}", resume.Output);
            Assert.Contains("after SFT ->", resume.Output); // the closing line knows the SFT evaluation of the first process
        }
        // Evaluations of the first process (SFT) are there, also on the other machine (from the journal), and the whole
        // run's match the uninterrupted run's.
        Assert.Equal(reference.Evaluations, EvaluationsIn(at[$"runs/{stopped}/eval.jsonl"]));

        var b = await Experiments.Show(at, stopped);
        Assert.Equal("finished", b.GetProperty("status").GetString());
        Assert.Equal(Steps, b.GetProperty("step").GetInt64());
        Assert.Equal(reference.WeightsSha256, b.GetProperty("weights_sha256").GetString());
        var steps = Experiments.ReadJsonLines(at[$"runs/{stopped}/metrics.jsonl"]).Select(r => r["step"].GetInt64()).ToList();
        Assert.Equal(Enumerable.Range(1, Steps).Select(i => (long)i), steps);
        var stoppedLoss = Experiments.ReadJsonLines(at[$"runs/{stopped}/metrics.jsonl"]).Select(r => r["loss"].GetDouble());
        Assert.Equal(reference.Losses, stoppedLoss);
    }
}
