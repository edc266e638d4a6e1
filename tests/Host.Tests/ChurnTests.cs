using Xunit.Abstractions;
using System.Globalization;
using System.Text.RegularExpressions;

namespace RlActors.Host.Tests;

/// <summary>
/// Worker churn as a feature (issue 14): a slot's rollouts depend only on (seed, step, slot) and the weights version it is
/// planned with, so a sampler node that joins and is SIGKILLed mid-run changes nothing the learner sees. Real processes: <c>run</c> hosts,
/// <c>node --roles sampler</c> joins and is killed. The node always gets a port below the host's, the case where the
/// cluster's default split-brain rule (a tie of one node against one keeps the lower address) made the host down itself.
/// </summary>
[Collection(nameof(WorkerNodeCollection))]
public sealed partial class ChurnTests(ITestOutputHelper output)
{
    /// <summary>Metrics that measure time, throughput or who did the work, not what was learned; every other key of
    /// metrics.jsonl must be bitwise the same. duplicate_dropped counts results of a slot that was handed out again (its
    /// first sampler was presumed dead and answered late after all): how often that happens is timing, never data.</summary>
    private static readonly HashSet<string> Runtime =
        ["rollouts_per_s", "tokens_per_s", "step_s", "train_s", "sample_s", "samplers", "duplicate_dropped"];

    private const int Steps = 30;

    // One sampler on the host, slots of one prompt (8 per step) the two samplers share; a slot the killed node held comes
    // back after slot-timeout. The length penalty varies within every group, so every step has a non-zero loss and
    // gradient to compare (the tiny model's outcome reward is mostly 0). SFT keeps the host busy while the node joins.
    private static string Config(string name, int maxStaleness) => Experiments.Tiny(name, $$"""
        sft { steps = 40 }
        grpo { steps = {{Steps}}, prompts-per-step = 8, learning-rate = 1e-3, max-new-tokens = 24 }
        runtime { max-staleness = {{maxStaleness}}, prompts-per-slot = 1, samplers-per-node = 1, slot-timeout = 3 }
        rewards = [
          { type = "outcome" },
          { type = "MyLab.Rewards.LengthPenalty, MyLab.Rewards", assembly = {{Experiments.Quote(Repo.MyLabRewardsDll)}}, weight = 0.5 }
        ]
        """);

    /// <summary>Synchronous (0) and asynchronous (2): step k + n + 1 is planned with the weights of step k the moment
    /// step k is trained, so which version a slot is sampled with does not depend on timing either.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public async Task A_sampler_node_that_joins_and_is_SIGKILLed_mid_run_changes_no_learning_metric_and_no_weight(int maxStaleness)
    {
        using var alone = new TempFolder();
        using var churn = new TempFolder();
        alone.Write("churn.conf", Config("churn", maxStaleness));
        churn.Write("churn.conf", Config("churn", maxStaleness));
        var (nodePort, hostPort) = TwoPorts();
        var wait = TimeSpan.FromSeconds(120);

        // (a) the host alone, meanwhile.
        var aloneRun = Task.Run(async () =>
        {
            await using var run = await CliProcess.RunAsync(alone.Path, TimeSpan.FromSeconds(300), "run", "churn.conf");
            Experiments.AssertSucceeded(run);
        });

        // (b) a node joins, takes slots, and is SIGKILLed just after the host handed out the next step's slots (one to it).
        await using var host = CliProcess.Start(churn.Path, "run", "churn.conf", "--port", hostPort);
        await host.WaitForLineAsync(l => l.Contains($"cluster host up at 127.0.0.1:{hostPort}"), wait, "'cluster host up'");
        await using var node = CliProcess.Start(churn.Path, "node", "--seed", $"127.0.0.1:{hostPort}", "--roles", "sampler", "--port", nodePort);
        await node.WaitForLineAsync(l => l.Contains($"joined 127.0.0.1:{hostPort} with roles sampler"), wait, "'joined'");
        await Experiments.WaitForStepWithTwoSamplers(churn, "churn", after: 0, host, wait);
        long printed = LastStepLine(host);
        string next = await host.WaitForLineAsync(l => StepOf(l) > printed, wait, $"a step after {printed}");
        node.Kill();
        long killedAt = StepOf(next);
        Assert.True(killedAt <= Steps - 3, $"the node was killed after step {killedAt} of {Steps}: too late to show the run going on without it\n{host}");

        await host.WaitForExitAsync(TimeSpan.FromSeconds(300));
        Experiments.AssertSucceeded(host);
        await aloneRun;
        // The node held a slot of the step just handed out when it died: the host took it back and gave it to its own sampler.
        var taken = host.Output.Split('\n').Where(l => l.Contains($"127.0.0.1:{nodePort}/user/sampler", StringComparison.Ordinal)
                                                     && (l.Contains("reassigning") || l.Contains("goes to another worker"))).ToList();
        output.WriteLine($"node killed after step {killedAt} of {Steps}; the host on the node's slots:\n{string.Join('\n', taken)}");
        Assert.True(taken.Count > 0, $"the node held no slot when it was killed: no slot of it was handed out again\n{host}");

        var a = Experiments.ReadJsonLines(alone["runs/churn/metrics.jsonl"]);
        var b = Experiments.ReadJsonLines(churn["runs/churn/metrics.jsonl"]);
        Assert.Equal(Steps, a.Count);
        Assert.Equal(Steps, b.Count);
        Assert.True(b.Any(r => r["samplers"].GetInt32() == 2), $"no step took rollouts from the node\n{host}");
        Assert.All(a, r => Assert.Equal(1, r["samplers"].GetInt32()));
        // Something was learned, so equal numbers are not equal zeros.
        Assert.Contains(a, r => r["loss"].GetDouble() != 0 && r["grad_norm"].GetDouble() > 0);

        var differences = new List<string>();
        for (int i = 0; i < Steps; i++)
        {
            Assert.Equal(a[i].Keys.Order(StringComparer.Ordinal), b[i].Keys.Order(StringComparer.Ordinal));
            foreach (var (key, value) in a[i])
                if (!Runtime.Contains(key) && value.GetRawText() != b[i][key].GetRawText())
                    differences.Add($"step {i + 1} {key}: alone {value.GetRawText()}, with the node {b[i][key].GetRawText()}");
        }
        foreach (var key in new[] { "loss", "reward_mean", "grad_norm", "approx_kl", "accuracy", "entropy", "clip_frac" })
            Assert.True(a[0].ContainsKey(key) && !Runtime.Contains(key), $"metric {key} is not compared");
        Assert.True(differences.Count == 0, $"the node changed what was learned:\n{string.Join('\n', differences)}\nhost:\n{host}");
        Assert.Equal(File.ReadAllText(alone["runs/churn/eval.jsonl"]), File.ReadAllText(churn["runs/churn/eval.jsonl"]));

        var (shownAlone, shownChurn) = (await Experiments.Show(alone, "churn"), await Experiments.Show(churn, "churn"));
        Assert.Equal(shownAlone.GetProperty("weights_sha256").GetString(), shownChurn.GetProperty("weights_sha256").GetString());
        Assert.Equal(Steps, shownChurn.GetProperty("step").GetInt64());
    }

    [Fact]
    public async Task The_host_goes_on_after_the_cluster_downs_a_SIGKILLed_sampler_node_whose_address_sorts_before_its_own()
    {
        using var dir = new TempFolder();
        // Many more steps than the test lets run: the host is stopped with SIGTERM once it has shown it goes on.
        dir.Write("outlive.conf", Experiments.Tiny("outlive", """
            grpo { steps = 2000, prompts-per-step = 8 }
            runtime { prompts-per-slot = 1, samplers-per-node = 1, slot-timeout = 3, checkpoint-every = 1000 }
            """));
        var (nodePort, hostPort) = TwoPorts();
        var wait = TimeSpan.FromSeconds(90);
        await using var host = CliProcess.Start(dir.Path, "run", "outlive.conf", "--port", hostPort);
        await host.WaitForLineAsync(l => l.Contains($"cluster host up at 127.0.0.1:{hostPort}"), wait, "'cluster host up'");
        await using var node = CliProcess.Start(dir.Path, "node", "--seed", $"127.0.0.1:{hostPort}", "--roles", "sampler", "--port", nodePort);
        await node.WaitForLineAsync(l => l.Contains($"joined 127.0.0.1:{hostPort}"), wait, "'joined'");
        await Experiments.WaitForStepWithTwoSamplers(dir, "outlive", after: 0, host, wait);
        node.Kill();

        // About 20 s after the node is found unreachable (split-brain-resolver stable-after) the cluster decides which side
        // stays: the host's must, and the run must go on past that decision.
        await host.WaitForLineAsync(l => l.Contains("SBR took decision"), wait, "the split-brain resolver's decision");
        long decided = LastStepLine(host);
        await host.WaitForLineAsync(l => StepOf(l) > decided + 1, wait, $"two steps after step {decided}, when the dead node was downed");
        Assert.DoesNotContain("including myself", host.Output);

        host.Signal("TERM");
        Assert.Equal(143, await host.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal("stopped", (await Experiments.Show(dir, "outlive")).GetProperty("status").GetString());
    }

    /// <summary>Two free ports, the lower one for the node.</summary>
    private static (string Node, string Host) TwoPorts()
    {
        int a = FreePort.Next(), b = FreePort.Next();
        while (b == a) b = FreePort.Next();
        return (Math.Min(a, b).ToString(CultureInfo.InvariantCulture), Math.Max(a, b).ToString(CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"^\[grpo\] step\s+(\d+)/")]
    private static partial Regex StepLine();

    /// <summary>The step of a "[grpo] step k/N" progress line, else -1.</summary>
    private static long StepOf(string line) =>
        StepLine().Match(line) is { Success: true } m ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : -1;

    /// <summary>The last step the host has printed so far (0 before the first).</summary>
    private static long LastStepLine(CliProcess host) =>
        host.Output.Split('\n').Select(l => StepOf(l.TrimEnd('\r'))).Append(0).Max();
}
