namespace RlActors.Host.Tests;

/// <summary>Timing-sensitive (a node must join while the host still has work), so it runs on its own after the
/// parallel tests instead of competing with them for the CPU.</summary>
[CollectionDefinition(nameof(WorkerNodeCollection), DisableParallelization = true)]
public sealed class WorkerNodeCollection;

/// <summary>A cluster of two processes: <c>run</c> as the host and <c>node</c> as a worker that joins it.</summary>
[Collection(nameof(WorkerNodeCollection))]
public sealed class WorkerNodeTests
{
    [Fact]
    public async Task A_worker_node_joins_the_host_and_receives_work()
    {
        using var dir = new TempFolder();
        // One sampler on the host and slots of one prompt: every step is 8 slots the two samplers can share. The
        // longer SFT and 30 steps keep the host busy well past the moment the node has joined. A slot a sampler
        // never returns is taken back after slot-timeout; none should be.
        dir.Write("shared.conf", Experiments.Tiny("shared", """
            sft { steps = 40 }
            grpo { steps = 30, prompts-per-step = 8 }
            runtime { prompts-per-slot = 1, samplers-per-node = 1, slot-timeout = 20 }
            """));
        int port = FreePort.Next();
        await using var host = CliProcess.Start(dir.Path, "run", "shared.conf", "--port", port.ToString());
        await host.WaitForLineAsync(l => l.Contains($"cluster host up at 127.0.0.1:{port}"), TimeSpan.FromSeconds(60), "'cluster host up'");

        await using var node = CliProcess.Start(dir.Path, "node", "--seed", $"127.0.0.1:{port}", "--roles", "sampler");
        await node.WaitForLineAsync(l => l.Contains($"joined 127.0.0.1:{port} with roles sampler"), TimeSpan.FromSeconds(60), "'joined'");

        await host.WaitForExitAsync(TimeSpan.FromSeconds(120));
        Experiments.AssertSucceeded(host);
        await node.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Experiments.AssertSucceeded(node);
        Assert.Contains("the host left the cluster", node.Stdout);
        Assert.True(!host.Output.Contains("no rollouts from"), $"a slot was lost and had to be reassigned\n{host}");

        // Sampler ids are host:port/sampler-i, one per sampler; the host has one, so a step with two distinct
        // samplers took rollouts from the node.
        var rows = Experiments.ReadJsonLines(dir["runs/shared/metrics.jsonl"]);
        Assert.Equal(30, rows.Count);
        Assert.All(rows, r => Assert.InRange(r["samplers"].GetInt32(), 1, 2));
        Assert.True(rows.Any(r => r["samplers"].GetInt32() == 2),
            $"no step took rollouts from the node's sampler\nhost:\n{host}\nnode:\n{node}");
    }

    [Fact]
    public async Task A_worker_node_with_rejoin_outlives_a_stopped_host_and_works_again_for_the_resumed_run()
    {
        using var dir = new TempFolder();
        // Many more steps than the test lets run: both hosts are stopped by SIGTERM once they have shown what is needed.
        dir.Write("again.conf", Experiments.Tiny("again", """
            sft { steps = 40 }
            grpo { steps = 2000, prompts-per-step = 8 }
            runtime { prompts-per-slot = 1, samplers-per-node = 1, slot-timeout = 20, checkpoint-every = 1000 }
            """));
        string port = FreePort.Next().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var wait = TimeSpan.FromSeconds(90);
        await using var node = CliProcess.Start(dir.Path, "node", "--seed", $"127.0.0.1:{port}", "--roles", "sampler", "--rejoin");

        await using (var host = CliProcess.Start(dir.Path, "run", "again.conf", "--port", port))
        {
            string firstJoin = await node.WaitForLineAsync(l => l.Contains($"joined 127.0.0.1:{port}"), wait, "'joined'");
            await Experiments.WaitForStepWithTwoSamplers(dir, "again", after: 0, host, wait);
            host.Signal("TERM");
            Assert.Equal(143, await host.WaitForExitAsync(TimeSpan.FromSeconds(60)));

            await node.WaitForLineAsync(l => l.Contains($"waiting for a host at 127.0.0.1:{port} to join again"), wait, "'waiting for a host'");
            await Task.Delay(TimeSpan.FromSeconds(2));
            Assert.False(node.HasExited, $"the node exited when the host stopped\n{node}");

            long stoppedAt = (await Experiments.Show(dir, "again")).GetProperty("step").GetInt64();
            await using var resumed = CliProcess.Start(dir.Path, "resume", "again", "--port", port);
            await node.WaitForLineAsync(l => l.Contains($"joined 127.0.0.1:{port}") && l != firstJoin, wait, "a second 'joined'");
            await Experiments.WaitForStepWithTwoSamplers(dir, "again", after: stoppedAt, resumed, wait);
            resumed.Signal("TERM");
            Assert.Equal(143, await resumed.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        }

        node.Signal("TERM");
        Assert.Equal(143, await node.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }
}
