using System.Text.Json;

namespace RlActors.Host.Tests;

/// <summary>CAPO through the command line: a real host with voter actors, and its configuration errors.</summary>
public sealed class CapoRunTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    private static readonly string[] CapoKeys =
    [
        "critiques_requested", "critiques_valid", "critiques_unparseable", "critiques_timed_out", "wrong_step_fraction",
        "vote_agreement", "prm_precision", "prm_recall", "prm_f1",
    ];

    [Fact]
    public async Task Run_trains_with_voter_actors_and_reports_the_critique_metrics_every_step()
    {
        using var dir = new TempFolder();
        dir.Write("capo.conf", Experiments.Tiny("tiny-capo", """
            rewards = [ { type = "capo" } ]
            capo { critiques = 4, vote = "majority", judge { type = "noisy-oracle", false-positive = 0.2, false-negative = 0.2 } }
            """));

        await using var run = await CliProcess.RunAsync(dir.Path, Timeout, "run", "capo.conf");

        Experiments.AssertSucceeded(run);
        var rows = Experiments.ReadJsonLines(Path.Combine(dir["runs/tiny-capo"], "metrics.jsonl"));
        Assert.Equal([1, 2, 3], rows.Select(r => r["step"].GetInt32()));
        foreach (var row in rows)
        {
            foreach (var key in CapoKeys)
                Assert.True(row.TryGetValue(key, out var v) && v.ValueKind == JsonValueKind.Number && double.IsFinite(v.GetDouble()),
                    $"step {row["step"]}: '{key}' missing or not a number");
            Assert.Equal(4 * 4 * 4, row["critiques_requested"].GetDouble()); // 4 prompts x 4 completions x 4 critiques
            Assert.Equal(row["critiques_requested"].GetDouble(), row["critiques_valid"].GetDouble());
            Assert.InRange(row["prm_f1"].GetDouble(), 0.0, 1.0);
            Assert.InRange(row["wrong_step_fraction"].GetDouble(), 0.0, 1.0);
        }
    }

    [Fact]
    public async Task The_library_loop_scores_with_capo_too_and_penalises_steps_the_oracle_finds_wrong()
    {
        using var dir = new TempFolder();
        dir.Write("capo.conf", Experiments.Tiny("tiny-capo-train", """
            rewards = [ { type = "capo" } ]
            capo { critiques = 1, judge { type = "oracle" } }
            """));

        await using var train = await CliProcess.RunAsync(dir.Path, Timeout, "train", "capo.conf", "--out", "out");

        Experiments.AssertSucceeded(train);
        var rows = Experiments.ReadJsonLines(Path.Combine(dir["out"], "metrics.jsonl"));
        Assert.Equal([1, 2, 3], rows.Select(r => r["step"].GetInt32()));
        foreach (var row in rows)
        {
            Assert.Equal(4 * 4, row["critiques_valid"].GetDouble());
            Assert.True(row["wrong_step_fraction"].GetDouble() > 0, "a 5-step SFT model writes wrong steps");
            // compare-with-oracle is on by default and the steps include wrong ones, so prm_f1 must be there; the oracle
            // judge agrees with the oracle.
            Assert.True(row.TryGetValue("prm_f1", out var f1), $"step {row["step"]}: no prm_f1 in metrics.jsonl");
            Assert.Equal(1.0, f1.GetDouble());
        }
    }

    [Theory]
    [InlineData("rewards = [ { type = \"capo\" } ]\ncapo.vote = \"plurality\"", "capo.vote")]
    [InlineData("rewards = [ { type = \"capo\" } ]\ncapo.judge.type = \"gpt\"", "capo.judge.type")]
    [InlineData("rewards = [ { type = \"capo\" } ]\ncapo.judge.type = \"openai\"", "capo.judge.base-url")]
    [InlineData("rewards = [ { type = \"capo\" } ]\ncapo.judge.false-positive = 1.5", "capo.judge.false-positive")]
    [InlineData("rewards = [ { type = \"capo\", timeout = 5 } ]\ncapo.deadline = 30", "capo.deadline")]
    [InlineData("capo.critiques = 8", "type = \\\"capo\\\"")]
    public async Task A_bad_capo_setting_is_named_with_exit_code_2_and_nothing_written(string extra, string culprit)
    {
        using var dir = new TempFolder();
        dir.Write("exp.conf", Experiments.Tiny("bad-capo", extra));
        var before = dir.Entries();
        await using var cli = await CliProcess.RunAsync(dir.Path, Timeout, "run", "exp.conf");
        Assert.True(cli.ExitCode == 2, $"exit code {cli.ExitCode}, expected 2\n{cli}");
        var lines = cli.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length == 1 && lines[0].Contains(culprit.Replace("\\\"", "\""), StringComparison.Ordinal), $"the error does not name '{culprit}'\n{cli}");
        Assert.Equal(before, dir.Entries());
    }
}
