namespace RlActors.Host.Tests;

/// <summary>
/// A task.type = "jsonl" experiment through the command line: the rows reach the samplers, the verifier scores them in the
/// reward workers and in the learner's evaluation; bad data is exit 2 naming the file and line, nothing written.
/// </summary>
public sealed class JsonlTaskRunTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    // Five prompts, each with one right answer the SFT solution teaches: learnable in a few seconds by a tiny model.
    private static readonly (string Prompt, string Answer)[] Pairs = [("say one", "1"), ("say two", "2"), ("say three", "3"), ("say four", "4"), ("say five", "5")];

    /// <summary>The five rows <paramref name="copies"/> times, as JSONL; <paramref name="more"/> adds columns (e.g. <c>, "weight": 2</c>).</summary>
    internal static string Rows(int copies, string more = "") => string.Concat(Enumerable.Range(0, copies).SelectMany(_ => Pairs)
        .Select(p => $"{{\"q\": \"{p.Prompt}\", \"a\": \"{p.Answer}\", \"s\": \"{p.Answer}\"{more}}}\n"));

    internal static string Experiment(string name, string extra = "") => $$"""
        name = {{name}}
        seed = 1
        log-every = 1
        task { type = "jsonl", train = "data/train.jsonl", test = "data/test.jsonl", prompt-field = "q", answer-field = "a", solution-field = "s", verifier = "exact" }
        model { d-model = 16, layers = 1, heads = 2, context = 24 }
        sft { steps = 60, batch-size = 16, learning-rate = 1e-2 }
        grpo { steps = 3, prompts-per-step = 4, group-size = 4, max-new-tokens = 8 }
        eval { problems = 100, every = 0 }
        {{extra}}
        """;

    private static TempFolder WithData(string name, string extra = "")
    {
        var dir = new TempFolder();
        Directory.CreateDirectory(dir["data"]);
        dir.Write("data/train.jsonl", Rows(8));
        dir.Write("data/test.jsonl", Rows(1));
        dir.Write("exp.conf", Experiment(name, extra));
        return dir;
    }

    [Fact]
    public async Task A_jsonl_experiment_learns_its_rows_and_is_scored_by_its_verifier_end_to_end()
    {
        using var dir = WithData("rows");
        await using var run = await CliProcess.RunAsync(dir.Path, TimeSpan.FromSeconds(180), "run", "exp.conf");
        Experiments.AssertSucceeded(run);
        var evals = Experiments.ReadJsonLines(Path.Combine(dir["runs/rows"], "eval.jsonl"));
        Assert.Equal(["sft", "final"], evals.Select(e => e["phase"].GetString()));
        Assert.All(evals, e => Assert.Equal(Pairs.Length, e["problems"].GetInt32())); // every test row, judged by exact match
        Assert.True(evals[0]["accuracy"].GetDouble() >= 0.8, $"SFT did not teach the answers: {evals[0]["accuracy"]}\n{run}");
        var steps = Experiments.ReadJsonLines(Path.Combine(dir["runs/rows"], "metrics.jsonl"));
        Assert.Equal([1, 2, 3], steps.Select(s => s["step"].GetInt32()));
        // The reward workers score the sampled completions against the rows' answers with the task's verifier.
        Assert.True(steps.Average(s => s["reward_mean"].GetDouble()) > 0.5, $"the outcome reward did not use the rows' answers\n{run}");
    }

    [Fact]
    public async Task The_library_loop_trains_on_the_rows_too()
    {
        using var dir = WithData("library");
        await using var run = await CliProcess.RunAsync(dir.Path, TimeSpan.FromSeconds(180), "train", "exp.conf", "--out", "out");
        Experiments.AssertSucceeded(run);
        var evals = Experiments.ReadJsonLines(dir["out/eval.jsonl"]);
        Assert.True(evals[0]["accuracy"].GetDouble() >= 0.8, $"SFT did not teach the answers: {evals[0]["accuracy"]}\n{run}");
        var steps = Experiments.ReadJsonLines(dir["out/metrics.jsonl"]);
        Assert.Equal(3, steps.Count);
        Assert.True(steps.Average(s => s["reward_mean"].GetDouble()) > 0.5, $"the verifier did not reward the rows' answers\n{run}");
    }

    [Fact]
    public async Task The_committed_word_problems_are_what_make_word_problems_writes()
    {
        using var dir = new TempFolder();
        await using var make = await CliProcess.RunAsync(dir.Path, TimeSpan.FromSeconds(120),
            "make-word-problems", "--out", "wp", "--train", "4000", "--test", "500", "--seed", "1", "--min-ops", "2", "--max-ops", "3");
        Experiments.AssertSucceeded(make);
        foreach (var file in new[] { "train.jsonl", "test.jsonl" })
            Assert.True(File.ReadAllBytes(dir[$"wp/{file}"]).SequenceEqual(File.ReadAllBytes(Repo.InRepo($"examples/data/word-problems/{file}"))),
                $"examples/data/word-problems/{file} differs from what the command writes");
        Assert.Equal(4000, File.ReadAllLines(dir["wp/train.jsonl"]).Length);
        Assert.Equal(500, File.ReadAllLines(dir["wp/test.jsonl"]).Length);
    }

    [Fact]
    public async Task A_malformed_line_is_bad_input_naming_the_file_and_line()
    {
        using var dir = WithData("bad");
        dir.Write("data/train.jsonl", Rows(1).Replace("{\"q\": \"say three\"", "{\"q\": say three"));
        await BadInputTests.AssertBadInput(dir, ["data/train.jsonl:3", "not valid JSON"], "run", "exp.conf");
    }

    [Theory]
    [InlineData("task.prompt-field = \"question\"", "data/train.jsonl:1", "'question'")]
    [InlineData("task.verifier = \"regex\"", "task.verifier", "regex")]
    [InlineData("task.train = \"data/nowhere.jsonl\"", "data/nowhere.jsonl", "no such file")]
    [InlineData("rewards = [ { type = \"format\" } ]", "rewards[0]", "'format'")]
    [InlineData("task.min-ops = 2", "task.min-ops", "jsonl")]
    public async Task A_bad_task_setting_is_bad_input_naming_it(string extra, string culprit, string detail)
    {
        using var dir = WithData("badkey", extra);
        await BadInputTests.AssertBadInput(dir, [culprit, detail], "run", "exp.conf");
    }

    [Fact]
    public async Task A_jsonl_key_without_task_type_jsonl_is_bad_input()
    {
        using var dir = new TempFolder();
        dir.Write("exp.conf", Experiments.Tiny("arith", "task.train = \"data/train.jsonl\""));
        await BadInputTests.AssertBadInput(dir, ["task.train", "task.type = \"jsonl\""], "run", "exp.conf");
    }

    [Fact]
    public async Task A_jsonl_run_killed_with_SIGKILL_and_resumed_ends_like_an_uninterrupted_run()
    {
        const int total = 24; // 32 prompts a step from 40 train rows: the steps cross epochs of the shuffled train order
        string extra = $"grpo {{ steps = {total}, prompts-per-step = 32, learning-rate = 1e-3 }}\nruntime {{ checkpoint-every = 3 }}";
        using var dir = WithData("whole", extra);
        dir.Write("killed.conf", Experiment("killed", extra));
        var wait = TimeSpan.FromSeconds(180);
        await using (var run = await CliProcess.RunAsync(dir.Path, wait, "run", "exp.conf"))
            Experiments.AssertSucceeded(run);
        await Experiments.RunAndKillAfterStep7(dir, "killed.conf", "killed", total, wait);
        await using (var resume = await CliProcess.RunAsync(dir.Path, wait, "resume", "killed"))
            Experiments.AssertSucceeded(resume);

        var a = await Experiments.Show(dir, "whole");
        var b = await Experiments.Show(dir, "killed");
        Assert.Equal(total, b.GetProperty("step").GetInt64());
        Assert.Equal(a.GetProperty("weights_sha256").GetString(), b.GetProperty("weights_sha256").GetString());
        var whole = Experiments.ReadJsonLines(dir["runs/whole/metrics.jsonl"]);
        var killed = Experiments.ReadJsonLines(dir["runs/killed/metrics.jsonl"]);
        Assert.Equal(Enumerable.Range(1, total), killed.Select(r => r["step"].GetInt32()));
        foreach (var key in new[] { "loss", "reward_mean" })
            Assert.Equal(whole.Select(r => r[key].GetDouble()), killed.Select(r => r[key].GetDouble()));
    }
}
