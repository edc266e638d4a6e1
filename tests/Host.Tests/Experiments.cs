using System.Text.Json;

namespace RlActors.Host.Tests;

/// <summary>Tiny experiment files and the readers of what a run writes.</summary>
internal static class Experiments
{
    /// <summary>The keys every line of metrics.jsonl has.</summary>
    public static readonly string[] MetricKeys =
    [
        "step", "policy_version", "reward_mean", "accuracy", "loss", "clip_frac", "approx_kl", "entropy",
        "rollouts_per_s", "tokens_per_s", "stale_dropped", "reward_failures",
    ];

    /// <summary>A seconds-long experiment: d16, one layer, 5 SFT steps, 3 GRPO steps of 4 prompts x 4, 20 eval
    /// problems. <paramref name="extra"/> lines come last and override.</summary>
    public static string Tiny(string name, string extra = "") => $$"""
        name = {{name}}
        seed = 1
        log-every = 1
        model { d-model = 16, layers = 1, heads = 2, context = 48 }
        task { min-ops = 1, max-ops = 2, operand-digits = 1, operators = "+-" }
        sft { steps = 5, batch-size = 8 }
        grpo { steps = 3, prompts-per-step = 4, group-size = 4, max-new-tokens = 32 }
        eval { problems = 20, every = 0 }
        {{extra}}
        """;

    /// <summary>A HOCON string literal.</summary>
    public static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    /// <summary>The rows of a metrics.jsonl (or eval.jsonl), one dictionary of numbers and strings per line.</summary>
    public static List<Dictionary<string, JsonElement>> ReadJsonLines(string path)
    {
        Assert.True(File.Exists(path), $"{path} was not written");
        return File.ReadAllLines(path).Where(l => l.Trim().Length > 0)
            .Select(l => JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(l)
                         ?? throw new InvalidDataException($"{path}: not a JSON object: {l}"))
            .ToList();
    }

    /// <summary>Asserts <paramref name="cli"/> exited with 0, showing its output otherwise.</summary>
    public static void AssertSucceeded(CliProcess cli) =>
        Assert.True(cli.ExitCode == 0, $"exit code {cli.ExitCode}, expected 0\n{cli}");

    /// <summary>Writes <see cref="Tiny"/> experiment <paramref name="name"/> (with <paramref name="extra"/>) to NAME.conf in
    /// <paramref name="dir"/> and runs it to the end, checking that it succeeded.</summary>
    public static async Task RunTiny(TempFolder dir, string name, string extra = "")
    {
        dir.Write($"{name}.conf", Tiny(name, extra));
        await using var run = await CliProcess.RunAsync(dir.Path, TimeSpan.FromSeconds(120), "run", $"{name}.conf");
        AssertSucceeded(run);
    }

    /// <summary>Starts <c>run CONF</c> and kills it with SIGKILL once its step-6 checkpoint is stored and step 7 has completed;
    /// asserts the run was cut short (not finished, its latest checkpoint before step <paramref name="total"/>), so a resume
    /// has steps to redo.</summary>
    public static async Task RunAndKillAfterStep7(TempFolder dir, string conf, string name, int total, TimeSpan timeout, string? store = null)
    {
        string[] args = store is null ? ["run", conf] : ["run", conf, "--store", store];
        await using (var victim = CliProcess.Start(dir.Path, args))
        {
            await victim.WaitForLineAsync(l => l.Contains("[ckpt] step 6:"), timeout, "the step-6 checkpoint");
            await victim.WaitForLineAsync(l => l.Contains($"step     7/{total}"), timeout, "step 7");
            victim.Kill();
            await victim.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }
        // On a fast machine the journal may already hold every step when the kill lands; the checkpoints lag behind it.
        var atKill = await Show(dir, name, store);
        Assert.True(atKill.GetProperty("status").GetString() == "running" && atKill.GetProperty("checkpoint").GetProperty("step").GetInt64() < total,
            $"the run was not cut short by the kill (steps too fast for this test?): {atKill}");
    }

    /// <summary>What <c>show NAME --json</c> prints (with <c>--store</c> when given), after checking it succeeded.</summary>
    public static async Task<JsonElement> Show(TempFolder dir, string name, string? store = null)
    {
        string[] args = store is null ? ["show", name, "--json"] : ["show", name, "--json", "--store", store];
        await using var show = await CliProcess.RunAsync(dir.Path, TimeSpan.FromSeconds(120), args);
        AssertSucceeded(show);
        return JsonDocument.Parse(show.Stdout).RootElement.Clone();
    }

    /// <summary>Waits until runs/NAME/metrics.jsonl has a step after <paramref name="after"/> that took rollouts from two
    /// samplers (the host's and a node's) and returns that step; fails if <paramref name="host"/> ends first or
    /// <paramref name="timeout"/> passes.</summary>
    public static async Task<long> WaitForStepWithTwoSamplers(TempFolder dir, string name, long after, CliProcess host, TimeSpan timeout)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        string path = dir[$"runs/{name}/metrics.jsonl"];
        while (watch.Elapsed < timeout)
        {
            Assert.False(host.HasExited, $"the host ended before a step took rollouts from the node\n{host}");
            if (File.Exists(path))
            {
                var lines = File.ReadAllLines(path).Where(l => l.EndsWith('}')); // skip a line being written
                var shared = lines.Select(l => JsonDocument.Parse(l).RootElement)
                    .FirstOrDefault(r => r.GetProperty("step").GetInt64() > after && r.GetProperty("samplers").GetInt32() == 2);
                if (shared.ValueKind == JsonValueKind.Object) return shared.GetProperty("step").GetInt64();
            }
            await Task.Delay(250);
        }
        Assert.Fail($"no step after {after} took rollouts from two samplers within {timeout.TotalSeconds:F0} s\n{host}");
        return -1;
    }
}
