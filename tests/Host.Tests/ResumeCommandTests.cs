using System.Text.Json;

namespace RlActors.Host.Tests;

/// <summary>
/// Kill-and-resume through the command line: a run killed with SIGKILL and resumed ends with the same
/// weights_sha256 as an uninterrupted run, and its metrics.jsonl has every step exactly once.
/// </summary>
public class ResumeCommandTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    /// <summary>(store, algorithm): GRPO on SQLite and (when CI provides it) PostgreSQL; PPO, whose critic and its optimizer
    /// are in the checkpoint too, on SQLite.</summary>
    public static TheoryData<string, string> Stores()
    {
        var stores = new TheoryData<string, string> { { "sqlite", "grpo" }, { "sqlite", "ppo" } };
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("RLACTORS_TEST_POSTGRES"))) stores.Add("postgres", "grpo");
        return stores;
    }

    // 32 prompts a step of ~0.07-0.1 s and 24 steps: the victim has more than a second of steps left after its step-7 line, so
    // the kill comes first even on a loaded machine (with 12 steps a PPO victim once finished first).
    private const int Total = 24;
    private static string Config(string name, string algorithm = "grpo") => Experiments.Tiny(name, $$"""
        algorithm = {{algorithm}}
        grpo { steps = {{Total}}, prompts-per-step = 32, learning-rate = 1e-3, max-new-tokens = 24 }
        runtime { checkpoint-every = 3 }
        rewards = [ { type = "MyLab.Rewards.LengthPenalty, MyLab.Rewards", assembly = {{Experiments.Quote(Repo.MyLabRewardsDll)}} } ]
        """);

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task A_run_killed_with_SIGKILL_and_resumed_ends_like_an_uninterrupted_run(string storeKind, string algorithm)
    {
        using var dir = new TempFolder();
        string suffix = Guid.NewGuid().ToString("N")[..8];
        string store = storeKind == "sqlite" ? "sqlite:runs/experiments.db" : Environment.GetEnvironmentVariable("RLACTORS_TEST_POSTGRES")!;
        string whole = $"whole-{suffix}", killed = $"killed-{suffix}";
        dir.Write("whole.conf", Config(whole, algorithm));
        dir.Write("killed.conf", Config(killed, algorithm));

        await using (var run = await CliProcess.RunAsync(dir.Path, Timeout, "run", "whole.conf", "--store", store))
            Experiments.AssertSucceeded(run);

        await Experiments.RunAndKillAfterStep7(dir, "killed.conf", killed, Total, Timeout, store);

        await using (var resume = await CliProcess.RunAsync(dir.Path, Timeout, "resume", killed, "--store", store))
        {
            Experiments.AssertSucceeded(resume);
            Assert.Contains("resuming experiment", resume.Output);
        }

        var a = await Experiments.Show(dir, whole, store);
        var b = await Experiments.Show(dir, killed, store);
        Assert.Equal("finished", b.GetProperty("status").GetString());
        Assert.Equal(Total, b.GetProperty("step").GetInt64());
        Assert.Equal(1, b.GetProperty("resumes").GetInt32());
        Assert.Equal(a.GetProperty("weights_sha256").GetString(), b.GetProperty("weights_sha256").GetString());
        // The journal lists the checkpoints the store still has: the last 3 (keep-checkpoints), older ones recorded as pruned.
        var kept = b.GetProperty("checkpoints").EnumerateArray().Select(c => c.GetProperty("step").GetInt64()).ToList();
        Assert.True(kept.SequenceEqual([Total - 6L, Total - 3, Total]), $"checkpoints [{string.Join(", ", kept)}], expected the last three; show: {b}");

        AssertSameSteps(dir, whole, killed);
        if (algorithm == "ppo") // the critic resumed exactly too: its value loss and explained variance are the same at every step
            foreach (var key in new[] { "value_loss", "explained_variance" })
                Assert.Equal(Experiments.ReadJsonLines(dir[$"runs/{whole}/metrics.jsonl"]).Select(r => r[key].GetDouble()),
                             Experiments.ReadJsonLines(dir[$"runs/{killed}/metrics.jsonl"]).Select(r => r[key].GetDouble()));
    }

    /// <summary>The resumed run's metrics.jsonl has steps 1..Total once each, with the uninterrupted run's losses.</summary>
    private static void AssertSameSteps(TempFolder dir, string whole, string resumed)
    {
        var steps = Experiments.ReadJsonLines(dir[$"runs/{resumed}/metrics.jsonl"]).Select(r => r["step"].GetInt64()).ToList();
        Assert.Equal(Enumerable.Range(1, Total).Select(i => (long)i), steps);
        var wholeLoss = Experiments.ReadJsonLines(dir[$"runs/{whole}/metrics.jsonl"]).Select(r => r["loss"].GetDouble());
        var resumedLoss = Experiments.ReadJsonLines(dir[$"runs/{resumed}/metrics.jsonl"]).Select(r => r["loss"].GetDouble());
        Assert.Equal(wholeLoss, resumedLoss);
    }

    [Fact]
    public async Task A_corrupt_latest_checkpoint_is_skipped_with_a_warning_naming_both_and_the_resume_is_still_exact()
    {
        using var dir = new TempFolder();
        const string store = "sqlite:runs/experiments.db";
        dir.Write("whole.conf", Config("whole"));
        dir.Write("killed.conf", Config("killed"));
        await using (var run = await CliProcess.RunAsync(dir.Path, Timeout, "run", "whole.conf"))
            Experiments.AssertSucceeded(run);
        await Experiments.RunAndKillAfterStep7(dir, "killed.conf", "killed", Total, Timeout, store);

        // Damage the newest stored checkpoint's bytes, as a bad disk or a partial copy would (its row stays complete).
        var ids = new List<(string Id, long Step)>();
        using (var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={dir["runs/experiments.db"]};Pooling=False"))
        {
            db.Open();
            using (var query = db.CreateCommand())
            {
                query.CommandText = "SELECT checkpoint_id, step FROM rl_checkpoints WHERE experiment = 'killed' AND complete = 1 ORDER BY seq DESC";
                using var reader = query.ExecuteReader();
                while (reader.Read()) ids.Add((reader.GetString(0), reader.GetInt64(1)));
            }
            Assert.True(ids.Count >= 2, $"expected two stored checkpoints, found [{string.Join(", ", ids)}]");
            using var damage = db.CreateCommand();
            damage.CommandText = "UPDATE rl_checkpoint_chunks SET data = zeroblob(length(data)) WHERE experiment = 'killed' AND checkpoint_id = $id";
            damage.Parameters.AddWithValue("$id", ids[0].Id);
            Assert.True(damage.ExecuteNonQuery() > 0);
        }

        await using (var resume = await CliProcess.RunAsync(dir.Path, Timeout, "resume", "killed"))
        {
            Experiments.AssertSucceeded(resume);
            string warning = resume.Output.Split('\n').FirstOrDefault(l => l.StartsWith("warning:") && l.Contains("corrupt")) ?? "";
            Assert.True(warning.Contains($"'{ids[0].Id}'") && warning.Contains($"'{ids[1].Id}'"),
                $"expected a warning naming {ids[0].Id} and {ids[1].Id}; output:\n{resume.Output}");
            Assert.Contains($"resuming experiment killed after step {ids[1].Step} ", resume.Output);
        }

        var a = await Experiments.Show(dir, "whole", store);
        var b = await Experiments.Show(dir, "killed", store);
        Assert.Equal("finished", b.GetProperty("status").GetString());
        Assert.Equal(a.GetProperty("weights_sha256").GetString(), b.GetProperty("weights_sha256").GetString());
        AssertSameSteps(dir, "whole", "killed");
    }

    [Fact]
    public async Task Resuming_an_unknown_name_exits_2_listing_the_known_names_and_running_a_known_one_again_exits_2_at_once()
    {
        using var dir = new TempFolder();
        dir.Write("known.conf", Experiments.Tiny("known"));
        await using (var run = await CliProcess.RunAsync(dir.Path, Timeout, "run", "known.conf"))
            Experiments.AssertSucceeded(run);
        await using (var resume = await CliProcess.RunAsync(dir.Path, Timeout, "resume", "unknown"))
        {
            Assert.Equal(2, resume.ExitCode);
            Assert.Contains("unknown", resume.Stderr);
            Assert.Contains("known", resume.Stderr);
        }

        // The same name again from a machine that shares the store but not the run folder: refused before anything starts.
        Directory.Delete(dir["runs/known"], recursive: true);
        await using (var again = await CliProcess.RunAsync(dir.Path, Timeout, "run", "known.conf"))
        {
            Assert.Equal(2, again.ExitCode);
            Assert.Contains("'known' already exists", again.Stderr);
            Assert.Contains("resume known", again.Stderr);
            Assert.DoesNotContain("cluster host up", again.Stdout);
        }
        Assert.False(Directory.Exists(dir["runs/known"]), "the refused run wrote its folder");
    }

    [Fact]
    public async Task Resuming_with_other_code_than_the_run_was_started_with_warns_naming_both_versions()
    {
        using var dir = new TempFolder();
        await Experiments.RunTiny(dir, "x", "runtime { checkpoint-every = 1 }");
        string ours = (await Experiments.Show(dir, "x")).GetProperty("code_version").GetString()!;

        // Pretend another build started it: change the last character of the version recorded in the start event.
        string other = ours[..^1] + (ours[^1] == '0' ? '1' : '0');
        using (var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={dir["runs/experiments.db"]};Pooling=False"))
        {
            db.Open();
            using var read = db.CreateCommand();
            read.CommandText = "SELECT ordering, message FROM journal WHERE persistence_id LIKE '%x' AND sequence_number = 1";
            long ordering;
            byte[] message;
            using (var reader = read.ExecuteReader())
            {
                Assert.True(reader.Read(), "no start event in the journal");
                (ordering, message) = (reader.GetInt64(0), (byte[])reader[1]);
            }
            byte[] from = System.Text.Encoding.UTF8.GetBytes(ours), to = System.Text.Encoding.UTF8.GetBytes(other);
            int at = message.AsSpan().IndexOf(from);
            Assert.True(at >= 0, "the start event does not hold the code version");
            to.CopyTo(message, at);
            using var write = db.CreateCommand();
            write.CommandText = "UPDATE journal SET message = $m WHERE ordering = $o";
            write.Parameters.AddWithValue("$m", message);
            write.Parameters.AddWithValue("$o", ordering);
            Assert.Equal(1, write.ExecuteNonQuery());
        }
        Assert.Equal(other, (await Experiments.Show(dir, "x")).GetProperty("code_version").GetString());

        await using var resume = await CliProcess.RunAsync(dir.Path, Timeout, "resume", "x", "--steps", "4");
        Experiments.AssertSucceeded(resume);
        Assert.Contains($"warning: experiment 'x' was started by rlactors {other} and is resumed by {ours}", resume.Output);
    }

    [Fact]
    public async Task A_finished_experiment_resumes_only_with_a_larger_total_which_is_kept_for_later_resumes()
    {
        using var dir = new TempFolder();
        await Experiments.RunTiny(dir, "x", "runtime { checkpoint-every = 1 }"); // 3 GRPO steps

        async Task<CliProcess> Resume(params string[] more) => await CliProcess.RunAsync(dir.Path, Timeout, ["resume", "x", .. more]);
        await using (var nothing = await Resume())
        {
            Assert.Equal(2, nothing.ExitCode);
            Assert.Contains("'x' is finished at step 3 of 3", nothing.Stderr);
            Assert.Contains("--steps N (N > 3)", nothing.Stderr);
        }
        await using (var smaller = await Resume("--steps", "2"))
        {
            Assert.Equal(2, smaller.ExitCode);
            Assert.Contains("--steps 2", smaller.Stderr);
        }
        await using (var more = await Resume("--steps", "5"))
        {
            Experiments.AssertSucceeded(more);
            Assert.Contains("resuming experiment x after step 3 of 5", more.Output);
        }
        var shown = await Experiments.Show(dir, "x");
        Assert.Equal(5, shown.GetProperty("step").GetInt64());
        Assert.Equal(5, shown.GetProperty("total_steps").GetInt64());
        Assert.Equal(Enumerable.Range(1, 5).Select(i => (long)i),
            Experiments.ReadJsonLines(dir["runs/x/metrics.jsonl"]).Select(r => r["step"].GetInt64()));
        // A later resume without --steps uses the new total, not the file's 3.
        await using (var again = await Resume())
        {
            Assert.Equal(2, again.ExitCode);
            Assert.Contains("at step 5 of 5", again.Stderr);
        }
        Assert.Equal(1, (await Experiments.Show(dir, "x")).GetProperty("resumes").GetInt32()); // refused resumes are not recorded
    }

    [Fact]
    public async Task A_finished_run_always_has_a_final_checkpoint_and_is_never_restarted_from_scratch()
    {
        using var dir = new TempFolder();
        await Experiments.RunTiny(dir, "x"); // runtime.checkpoint-every = 0 (the default), 3 GRPO steps
        var shown = await Experiments.Show(dir, "x");
        Assert.Equal("finished", shown.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.String, shown.GetProperty("weights_sha256").ValueKind); // the final checkpoint's weights
        Assert.Equal(3, shown.GetProperty("checkpoint").GetProperty("step").GetInt64());
        await using (var export = await CliProcess.RunAsync(dir.Path, Timeout, "export", "x", "--out", "x.safetensors"))
            Experiments.AssertSucceeded(export);
        Assert.True(new FileInfo(dir["x.safetensors"]).Length > 0);

        string metricsBefore = File.ReadAllText(dir["runs/x/metrics.jsonl"]);
        foreach (string[] more in new[] { Array.Empty<string>(), ["--steps", "2"], ["--steps", "3"] })
        {
            await using var resume = await CliProcess.RunAsync(dir.Path, Timeout, ["resume", "x", .. more]);
            Assert.True(resume.ExitCode == 2, $"resume x {string.Join(' ', more)}: exit {resume.ExitCode}, expected 2\n{resume}");
            Assert.DoesNotContain("SFT", resume.Output);
        }
        Assert.Equal(metricsBefore, File.ReadAllText(dir["runs/x/metrics.jsonl"]));

        // A finished run of an older build kept no checkpoint (checkpoint-every = 0): resume refuses it instead of starting over.
        using (var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={dir["runs/experiments.db"]};Pooling=False"))
        {
            db.Open();
            using var drop = db.CreateCommand();
            drop.CommandText = "DELETE FROM rl_checkpoint_chunks WHERE experiment = 'x'; DELETE FROM rl_checkpoints WHERE experiment = 'x';";
            drop.ExecuteNonQuery();
        }
        foreach (string[] more in new[] { Array.Empty<string>(), ["--steps", "5"] })
        {
            await using var resume = await CliProcess.RunAsync(dir.Path, Timeout, ["resume", "x", .. more]);
            Assert.True(resume.ExitCode == 2, $"resume x {string.Join(' ', more)}: exit {resume.ExitCode}, expected 2\n{resume}");
            Assert.Contains("finished at step 3 without a stored checkpoint", resume.Stderr);
        }
        Assert.Equal(metricsBefore, File.ReadAllText(dir["runs/x/metrics.jsonl"]));
        Assert.Equal("finished", (await Experiments.Show(dir, "x")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_corrupt_sqlite_store_fails_fast_with_a_clear_error()
    {
        using var dir = new TempFolder();
        dir.Write("x.conf", Experiments.Tiny("x"));
        Directory.CreateDirectory(dir["runs"]);
        File.WriteAllBytes(dir["runs/experiments.db"], Enumerable.Range(0, 4096).Select(i => (byte)(i * 7)).ToArray());
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await using var run = await CliProcess.RunAsync(dir.Path, TimeSpan.FromSeconds(30), "run", "x.conf");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("not a SQLite database", run.Output);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"took {watch.Elapsed}");
    }
}
