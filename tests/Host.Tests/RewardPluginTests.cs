namespace RlActors.Host.Tests;

/// <summary>Reward plug-ins named in the experiment file, loaded by path in a real <c>run</c>.</summary>
public sealed class RewardPluginTests
{
    [Fact]
    public async Task Run_with_the_example_plugin_loads_it_from_its_path()
    {
        using var dir = new TempFolder();
        dir.Write("plugin.conf", Experiments.Tiny("plugin", $$"""
            rewards = [
              { type = "outcome" },
              { type = "MyLab.Rewards.LengthPenalty, MyLab.Rewards", assembly = {{Experiments.Quote(Repo.MyLabRewardsDll)}}, weight = 0.1 }
            ]
            """));

        await using var run = await CliProcess.RunAsync(dir.Path, TimeSpan.FromSeconds(120), "run", "plugin.conf");

        Experiments.AssertSucceeded(run);
        var rows = Experiments.ReadJsonLines(dir["runs/plugin/metrics.jsonl"]);
        Assert.Equal(3, rows.Count);
        Assert.All(rows, r => Assert.Equal(0, r["reward_failures"].GetDouble()));
        // The length penalty lies in [-1, 0] and weighs 0.1; the outcome in [0, 1]. A random policy rarely answers
        // correctly, so a negative mean reward shows the plug-in scored.
        Assert.Contains(rows, r => r["reward_mean"].GetDouble() < 0);
        Assert.All(rows, r => Assert.InRange(r["reward_mean"].GetDouble(), -0.1, 1.0));
    }

    [Fact]
    public async Task A_throwing_plugin_is_contained_and_the_run_finishes()
    {
        using var dir = new TempFolder();
        dir.Write("throwing.conf", Experiments.Tiny("throwing", $$"""
            rewards = [
              { type = "outcome" },
              { type = "TestPlugins.ThrowingReward, TestPlugins", assembly = {{Experiments.Quote(Repo.TestPluginsDll)}} }
            ]
            """));

        await using var run = await CliProcess.RunAsync(dir.Path, TimeSpan.FromSeconds(120), "run", "throwing.conf");

        Experiments.AssertSucceeded(run);
        var rows = Experiments.ReadJsonLines(dir["runs/throwing/metrics.jsonl"]);
        Assert.Equal(3, rows.Count);
        Assert.All(rows, r => Assert.True(r["reward_failures"].GetDouble() > 0, $"step {r["step"]}: no reward failures counted\n{run}"));
        // The component restarts after every failure; a request reaching it meanwhile is answered as failed at once,
        // not given up on when it expires (the longest timeout + 5 s = 15 s here).
        Assert.All(rows, r => Assert.True(r["step_s"].GetDouble() < 10, $"step {r["step"]} took {r["step_s"]} s\n{run}"));
        // The log names the failing component (by its Name, "throwing"), not just the experiment header.
        Assert.True(run.Output.Split('\n').Any(l => l.Contains("reward failures") && l.Contains("throwing")),
            $"no log line names the failing plug-in\n{run}");
        Assert.True(File.Exists(dir["runs/throwing/policy.weights"]), "the run did not finish");
    }
}
