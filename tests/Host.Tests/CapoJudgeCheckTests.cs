using RlActors.Rewards.Tests.Capo;

namespace RlActors.Host.Tests;

/// <summary>An openai judge is checked before the run starts, so an unusable judge is not a silent outcome-only run.</summary>
public sealed class CapoJudgeCheckTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    private static int ClosedPort() => LoopbackChatServer.ClosedPort();

    private static string Judge(int port, string extra = "") => $$"""
        rewards = [ { type = "capo" } ]
        capo.judge { type = "openai", base-url = "http://127.0.0.1:{{port}}/v1", model = "judge"{{extra}} }
        """;

    [Fact]
    public async Task A_key_variable_that_is_not_set_is_named_with_exit_code_2_and_nothing_written()
    {
        using var dir = new TempFolder();
        dir.Write("exp.conf", Experiments.Tiny("capo-nokey", Judge(ClosedPort(), ", api-key-env = \"RLACTORS_TEST_UNSET_JUDGE_KEY\"")));
        var before = dir.Entries();
        await using var cli = await CliProcess.RunAsync(dir.Path, Timeout, "run", "exp.conf");
        Assert.True(cli.ExitCode == 2, $"exit code {cli.ExitCode}, expected 2\n{cli}");
        Assert.Contains("capo.judge.api-key-env = \"RLACTORS_TEST_UNSET_JUDGE_KEY\"", cli.Stderr);
        Assert.Equal(before, dir.Entries());
    }

    [Fact]
    public async Task A_judge_with_nothing_listening_fails_the_run_with_exit_code_1_naming_the_url()
    {
        using var dir = new TempFolder();
        int port = ClosedPort();
        dir.Write("exp.conf", Experiments.Tiny("capo-down", Judge(port)));
        var before = dir.Entries();
        await using var cli = await CliProcess.RunAsync(dir.Path, Timeout, "run", "exp.conf");
        Assert.True(cli.ExitCode == 1, $"exit code {cli.ExitCode}, expected 1\n{cli}");
        Assert.Contains($"judge at http://127.0.0.1:{port}/v1 unreachable: ", cli.Stderr);
        Assert.Equal(before, dir.Entries());
    }

    [Fact]
    public async Task A_resume_checks_the_judge_too_before_anything_is_written()
    {
        using var dir = new TempFolder();
        string metrics;
        await using (var server = LoopbackChatServer.Answering(r => LoopbackChatServer.Ok(
            LoopbackChatServer.Completion([.. Enumerable.Repeat("Step 1 is correct.\nWrong steps: none", r.N)]))))
        {
            string url = server.BaseUrl;
            dir.Write("exp.conf", Experiments.Tiny("capo-later", $$"""
                grpo.steps = 1
                rewards = [ { type = "capo" } ]
                capo { critiques = 1, judge { type = "openai", base-url = "{{url}}", model = "judge" } }
                """));
            await using var run = await CliProcess.RunAsync(dir.Path, Timeout, "run", "exp.conf");
            Experiments.AssertSucceeded(run);
            metrics = File.ReadAllText(dir["runs/capo-later/metrics.jsonl"]);
        }
        // The judge's server is gone: resuming with a larger total is refused before the cluster starts or a file changes.
        await using var resume = await CliProcess.RunAsync(dir.Path, Timeout, "resume", "capo-later", "--steps", "2");
        Assert.True(resume.ExitCode == 1, $"exit code {resume.ExitCode}, expected 1\n{resume}");
        Assert.Contains(" unreachable: ", resume.Stderr);
        Assert.DoesNotContain("resuming experiment", resume.Output);
        Assert.Equal(metrics, File.ReadAllText(dir["runs/capo-later/metrics.jsonl"]));
        Assert.Equal(0, (await Experiments.Show(dir, "capo-later")).GetProperty("resumes").GetInt32());
    }
}
