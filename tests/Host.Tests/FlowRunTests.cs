using System.Text.Json;

namespace RlActors.Host.Tests;

/// <summary>
/// Experiments of kind "flow" through the command line: run (explorer actors on the host) writes every RL step's metrics,
/// the ODE evaluations and the pictures; bad flow keys are named (exit 2); a run stopped by SIGTERM or killed with SIGKILL
/// and resumed ends with the weights of an uninterrupted run. Small: a 32x2 MLP pretrained for 300 steps on the 2-D task,
/// TempFlow-GRPO with 6 groups x 6 siblings per step, cut into tasks of 2 groups shared by 2 explorers.
/// </summary>
public class FlowRunTests(FlowRunTests.Uninterrupted reference) : IClassFixture<FlowRunTests.Uninterrupted>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);
    // 100 steps of ~0.03 s: after the step-10 checkpoint line the victim of the SIGKILL test has ~90 steps (seconds, more on a
    // loaded machine) left, so the kill cannot come after it finished (with 40 steps CI once saw it finish first).
    private const int Steps = 100, EvalEvery = 25;
    private static readonly long[] EvalSteps = [0L, 25L, 50L, 75L, 100L];

    /// <summary>The keys every line of a flow run's metrics.jsonl has.</summary>
    private static readonly string[] MetricKeys = ["step", "reward_mean", "reward_std", "nfe", "loss", "clip_frac", "kl", "policy_version", "explorers"];

    /// <summary>A tiny flow experiment. <paramref name="extra"/> lines come last and override.</summary>
    private static string Tiny(string name, string extra = "") => $$"""
        kind = "flow"
        name = {{name}}
        seed = 3
        log-every = 1
        flow {
          task = early
          objective = tempflow
          steps = {{Steps}}
          prompts-per-step = 6
          group-size = 6
          learning-rate = 1e-3
          eval-every = {{EvalEvery}}
          eval-per-class = 16
          picture-samples = 40
          model { width = 32, layers = 2, time-features = 8, class-embedding = 8 }
          pretrain { steps = 300, batch-size = 128, learning-rate = 3e-3 }
        }
        runtime { checkpoint-every = 10, groups-per-task = 2, explorers-per-node = 2 }
        {{extra}}
        """;

    /// <summary>The tiny experiment run without interruption, once for the class (its name does not change its numbers).</summary>
    public sealed class Uninterrupted : IAsyncLifetime
    {
        internal TempFolder Dir { get; } = new();
        public string Name { get; } = $"whole-{Guid.NewGuid():N}"[..14];
        public string Output { get; private set; } = "";
        public JsonElement Shown { get; private set; }
        public string ListOutput { get; private set; } = "";

        public async Task InitializeAsync()
        {
            Dir.Write("whole.conf", Tiny(Name));
            await using (var run = await CliProcess.RunAsync(Dir.Path, Timeout, "run", "whole.conf"))
            {
                Experiments.AssertSucceeded(run);
                Output = run.Output;
            }
            Shown = await Experiments.Show(Dir, Name);
            await using var list = await CliProcess.RunAsync(Dir.Path, Timeout, "list");
            ListOutput = list.Stdout;
        }

        public List<double> Losses => Experiments.ReadJsonLines(Dir[$"runs/{Name}/metrics.jsonl"]).Select(r => r["loss"].GetDouble()).ToList();

        public Task DisposeAsync() { Dir.Dispose(); return Task.CompletedTask; }
    }

    [Fact]
    public void A_flow_run_with_explorer_actors_writes_every_step_with_its_reward_nfe_loss_clip_frac_and_kl()
    {
        var dir = reference.Dir;
        string runDir = $"runs/{reference.Name}";
        var rows = Experiments.ReadJsonLines(dir[$"{runDir}/metrics.jsonl"]);
        Assert.Equal(Enumerable.Range(1, Steps).Select(i => (long)i), rows.Select(r => r["step"].GetInt64()));
        long lastNfe = 0;
        foreach (var r in rows)
        {
            foreach (var key in MetricKeys) Assert.True(r.ContainsKey(key), $"step {r["step"]}: no {key}");
            Assert.InRange(r["reward_mean"].GetDouble(), 0, 1);
            Assert.True(r["nfe"].GetInt64() > lastNfe, $"step {r["step"]}: nfe {r["nfe"]} is not cumulative");
            lastNfe = r["nfe"].GetInt64();
            Assert.Equal(r["step"].GetInt64() % EvalEvery == 0, r.ContainsKey("ode_reward"));
        }
        Assert.Contains(rows, r => r["explorers"].GetDouble() == 2); // tasks of 2 groups were shared by the host's 2 explorers

        var evals = Experiments.ReadJsonLines(dir[$"{runDir}/eval.jsonl"]);
        Assert.Equal(EvalSteps, evals.Select(e => e["step"].GetInt64()));
        Assert.Equal("pretrained", evals[0]["phase"].GetString());
        Assert.Equal(rows[^1]["ode_reward"].GetDouble(), evals[^1]["ode_reward"].GetDouble());
        foreach (var png in new[] { "curves.png", "samples.png" })
            Assert.True(new FileInfo(dir[$"{runDir}/{png}"]).Length > 1000, $"{png} was not drawn");
        Assert.Contains("[eval] pretrained step", reference.Output);

        Assert.Equal("finished", reference.Shown.GetProperty("status").GetString());
        Assert.Equal(Steps, reference.Shown.GetProperty("step").GetInt64());
        Assert.Equal(Steps, reference.Shown.GetProperty("checkpoint").GetProperty("step").GetInt64());
        Assert.Equal(64, reference.Shown.GetProperty("weights_sha256").GetString()!.Length);
        Assert.Matches($@"{reference.Name}\s+Finished\s+{Steps}/{Steps}", reference.ListOutput);
    }

    [Fact]
    public async Task Export_writes_the_velocity_field_of_the_last_checkpoint_as_safetensors()
    {
        string file = $"{reference.Name}.safetensors";
        await using (var export = await CliProcess.RunAsync(reference.Dir.Path, Timeout, "export", reference.Name, "--out", file))
        {
            Experiments.AssertSucceeded(export);
            Assert.Contains(reference.Shown.GetProperty("weights_sha256").GetString()!, export.Stdout);
        }
        var tensors = SafetensorsFile.Read(reference.Dir[file]);
        Assert.Equal([2L, 32L], tensors["output.weight"].Shape); // 2-D velocity from the last hidden layer of width 32
        Assert.Equal([32L, 32L], tensors["hidden.1.weight"].Shape);
    }

    [Theory]
    [InlineData("flow.lerning-rate = 0.1", "flow.lerning-rate")]             // a typo: named, with the key meant
    [InlineData("grpo.steps = 10", "grpo.steps")]                             // a GRPO key in a flow file
    [InlineData("flow.objective = ppo", "flow.objective")]                    // not one of the choices
    [InlineData("flow.task = mnist", "flow.task")]
    [InlineData("reward-model.hidden = 64", "reward-model.hidden")]           // a Fashion-MNIST key with a 2-D task
    [InlineData("flow.branch-steps = [2, 10]", "flow.branch-steps")]          // outside [0, T)
    [InlineData("flow.group-size = 1", "flow.group-size")]
    [InlineData("flow.clip-range = 1.5", "flow.clip-range")]
    [InlineData("flow.task = fashion\ndata.directory = \"/nonexistent/fashion\"", "/nonexistent/fashion")] // missing data: named with the install command
    public async Task A_bad_flow_key_exits_2_naming_it_and_writes_nothing(string line, string culprit)
    {
        using var dir = new TempFolder();
        // The fashion case must not carry the 2-D model's layers key.
        string text = Tiny("bad", line);
        if (line.Contains("fashion")) text = text.Replace("layers = 2, ", "");
        dir.Write("exp.conf", text);
        await BadInputTests.AssertBadInput(dir, [culprit], "run", "exp.conf");
    }

    [Fact]
    public async Task Keys_lists_the_flow_keys()
    {
        using var dir = new TempFolder();
        await using var cli = await CliProcess.RunAsync(dir.Path, Timeout, "keys");
        Experiments.AssertSucceeded(cli);
        Assert.Contains("kind = \"flow\"", cli.Stdout);
        foreach (var key in new[] { "flow.task", "flow.objective", "flow.branch-sampling", "flow.branch-steps", "flow.group-size", "flow.std-floor",
                     "flow.noise-level", "flow.sampling-steps", "flow.pretrain.steps", "reward-model.hidden", "runtime.groups-per-task" })
            Assert.Contains(cli.Stdout.Split('\n'), l => l.StartsWith(key + " ", StringComparison.Ordinal) && l.Trim().Length > key.Length + 5);
    }

    [Fact]
    public async Task A_flow_run_stopped_by_SIGTERM_and_resumed_ends_with_the_weights_of_an_uninterrupted_run()
    {
        using var dir = new TempFolder();
        string stopped = $"stopped-{Guid.NewGuid():N}"[..16];
        dir.Write("stopped.conf", Tiny(stopped));

        await using (var victim = CliProcess.Start(dir.Path, "run", "stopped.conf"))
        {
            await victim.WaitForLineAsync(l => l.Contains($"step     3/{Steps}"), Timeout, "step 3");
            victim.Signal("TERM");
            Assert.Equal(143, await victim.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        }
        var atStop = await Experiments.Show(dir, stopped);
        Assert.Equal("stopped", atStop.GetProperty("status").GetString());
        long step = atStop.GetProperty("step").GetInt64();
        Assert.InRange(step, 3, Steps - 1);
        Assert.Equal(step, atStop.GetProperty("checkpoint").GetProperty("step").GetInt64());

        await using (var resume = await CliProcess.RunAsync(dir.Path, Timeout, "resume", stopped))
        {
            Experiments.AssertSucceeded(resume);
            Assert.Contains($"resuming experiment {stopped} after step {step}", resume.Output);
        }
        await AssertLikeTheReference(dir, stopped);
    }

    [Fact]
    public async Task A_flow_run_killed_with_SIGKILL_and_resumed_ends_with_the_weights_of_an_uninterrupted_run()
    {
        using var dir = new TempFolder();
        string killed = $"killed-{Guid.NewGuid():N}"[..16];
        dir.Write("killed.conf", Tiny(killed));

        await using (var victim = CliProcess.Start(dir.Path, "run", "killed.conf"))
        {
            await victim.WaitForLineAsync(l => l.Contains("[ckpt] step 10:"), Timeout, "the step-10 checkpoint");
            victim.Kill();
            await victim.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }
        var atKill = await Experiments.Show(dir, killed);
        Assert.Equal("running", atKill.GetProperty("status").GetString());
        Assert.InRange(atKill.GetProperty("checkpoint").GetProperty("step").GetInt64(), 10, Steps - 1);

        await using (var resume = await CliProcess.RunAsync(dir.Path, Timeout, "resume", killed))
            Experiments.AssertSucceeded(resume);
        await AssertLikeTheReference(dir, killed);
    }

    /// <summary>Finished with the reference's weights and losses; metrics.jsonl has each step once; eval.jsonl each evaluation once.</summary>
    private async Task AssertLikeTheReference(TempFolder dir, string name)
    {
        var shown = await Experiments.Show(dir, name);
        Assert.Equal("finished", shown.GetProperty("status").GetString());
        Assert.Equal(Steps, shown.GetProperty("step").GetInt64());
        Assert.Equal(reference.Shown.GetProperty("weights_sha256").GetString(), shown.GetProperty("weights_sha256").GetString());
        var rows = Experiments.ReadJsonLines(dir[$"runs/{name}/metrics.jsonl"]);
        Assert.Equal(Enumerable.Range(1, Steps).Select(i => (long)i), rows.Select(r => r["step"].GetInt64()));
        Assert.Equal(reference.Losses, rows.Select(r => r["loss"].GetDouble()));
        Assert.Equal(EvalSteps, Experiments.ReadJsonLines(dir[$"runs/{name}/eval.jsonl"]).Select(e => e["step"].GetInt64()));
    }
}
