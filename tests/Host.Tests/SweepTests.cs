namespace RlActors.Host.Tests;

/// <summary>
/// <c>sweep</c> of several experiment files over seeds: every (file, seed) runs once into runs/sweep-&lt;name&gt;/, the
/// comparison pairs them by seed, and a second sweep reuses finished runs unless their configuration changed (an edited
/// comment does not count as a change; an edited value does).
/// </summary>
public class SweepTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(180);

    private static Task<CliProcess> Sweep(TempFolder dir) =>
        CliProcess.RunAsync(dir.Path, Timeout, "sweep", "a.conf", "b.conf", "--seeds", "1,2", "--report", "report", "--name", "ab");

    [Fact]
    public async Task A_second_sweep_reuses_finished_runs_across_comment_edits_and_reruns_a_changed_value()
    {
        using var dir = new TempFolder();
        dir.Write("a.conf", "# first comment\n" + Experiments.Tiny("a"));
        dir.Write("b.conf", Experiments.Tiny("b", "grpo.learning-rate = 1e-3"));

        await using (var first = await Sweep(dir))
        {
            Experiments.AssertSucceeded(first);
            Assert.DoesNotContain("done before", first.Output);
        }
        foreach (var run in new[] { "a/seed-1", "a/seed-2", "b/seed-1", "b/seed-2" })
            Assert.True(File.Exists(dir[$"runs/sweep-ab/{run}/summary.json"]), $"{run} has no summary.json");
        string comparison = File.ReadAllText(dir["report/ab.md"]);
        Assert.Contains("paired by seed", comparison);
        var reused = File.GetLastWriteTimeUtc(dir["runs/sweep-ab/a/seed-1/summary.json"]);

        // Only comments and layout change in a.conf; a value changes in b.conf.
        dir.Write("a.conf", "# an edited comment\n\n" + Experiments.Tiny("a") + "\n# and one at the end\n");
        dir.Write("b.conf", Experiments.Tiny("b", "grpo.learning-rate = 2e-3"));
        await using (var second = await Sweep(dir))
        {
            Experiments.AssertSucceeded(second);
            Assert.Contains("=== a seed 1: done before", second.Output);
            Assert.Contains("=== a seed 2: done before", second.Output);
            Assert.Contains("=== b seed 1 -> ", second.Output);
            Assert.Contains("=== b seed 2 -> ", second.Output);
        }
        Assert.Equal(reused, File.GetLastWriteTimeUtc(dir["runs/sweep-ab/a/seed-1/summary.json"]));
        Assert.Contains("learning-rate = 2e-3", File.ReadAllText(dir["runs/sweep-ab/b/seed-1/experiment.conf"]));
    }
}
