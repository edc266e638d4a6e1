namespace RlActors.Host.Tests;

/// <summary>The flow evidence command on a seconds-long comparison: report, curves, and finished runs reused on a second call.</summary>
public class FlowCompareTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    private const string Tiny = """
        kind = "flow"
        name = tiny
        flow {
          task = early
          steps = 4
          prompts-per-step = 4
          group-size = 4
          eval-per-class = 8
          model { width = 16, layers = 1, time-features = 4, class-embedding = 4 }
          pretrain { steps = 50, batch-size = 64 }
        }
        """;

    [Fact]
    public async Task Flow_compare_writes_steps_and_nfe_to_threshold_per_method_and_seed_and_reuses_finished_runs()
    {
        using var dir = new TempFolder();
        dir.Write("tiny.conf", Tiny);
        string[] args = ["flow-compare", "tiny.conf", "--seeds", "1,2", "--objectives", "flow-grpo,tempflow", "--eval-every", "2", "--threshold", "0.99", "--report", "report"];
        await using (var first = await CliProcess.RunAsync(dir.Path, Timeout, args))
            Experiments.AssertSucceeded(first);

        string md = File.ReadAllText(dir["report/early.md"]);
        Assert.Contains("| Flow-GRPO | > 4 | > 4 |", md);
        Assert.Contains("| TempFlow-GRPO | > 4 | > 4 |", md);
        Assert.Contains("Ratio to Flow-GRPO", md);
        foreach (var png in new[] { "report/early-reward-vs-step.png", "report/early-reward-vs-nfe.png" })
            Assert.True(new FileInfo(dir[png]).Length > 1000, $"{png} was not drawn");
        Assert.Equal(4, Directory.GetFiles(dir["runs/flow-compare/early"], "*.json").Length);

        await using var second = await CliProcess.RunAsync(dir.Path, Timeout, args);
        Experiments.AssertSucceeded(second);
        Assert.Equal(4, second.Stdout.Split('\n').Count(l => l.Contains("reused")));
    }

    [Fact]
    public async Task Flow_compare_refuses_an_experiment_of_another_kind_and_an_unknown_objective()
    {
        using var dir = new TempFolder();
        dir.Write("grpo.conf", Experiments.Tiny("g"));
        await BadInputTests.AssertBadInput(dir, ["kind = \"flow\""], "flow-compare", "grpo.conf");
        dir.Write("tiny.conf", Tiny);
        File.Delete(dir["grpo.conf"]);
        await BadInputTests.AssertBadInput(dir, ["--objectives", "ppo"], "flow-compare", "tiny.conf", "--objectives", "tempflow,ppo");
    }
}
