using System.Diagnostics;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace RlActors.Host.Tests;

/// <summary>
/// Faults around the store, through the command line: a second host resuming an experiment that is running is refused
/// (single writer) without touching the running host's files; a SQLite store locked by another process is reported
/// within seconds instead of hanging.
/// </summary>
public class StoreFaultTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    private static string Config(string name) => Experiments.Tiny(name, """
        grpo { steps = 3 }
        runtime { checkpoint-every = 100 }
        """);

    private static List<long> MetricSteps(TempFolder dir, string name) =>
        Experiments.ReadJsonLines(dir[$"runs/{name}/metrics.jsonl"]).Select(r => r["step"].GetInt64()).ToList();

    [Fact]
    public async Task A_second_host_resuming_a_running_experiment_is_refused_and_the_first_goes_on_untouched()
    {
        using var dir = new TempFolder();
        string name = $"busy-{Guid.NewGuid():N}"[..13];
        dir.Write("busy.conf", Config(name));
        await using (var run = await CliProcess.RunAsync(dir.Path, Timeout, "run", "busy.conf"))
            Experiments.AssertSucceeded(run);

        await using var first = CliProcess.Start(dir.Path, "resume", name, "--steps", "100000");
        await first.WaitForLineAsync(l => l.Contains("step     6/100000"), Timeout, "step 6 of the first resume");

        var clock = Stopwatch.StartNew();
        await using (var second = await CliProcess.RunAsync(dir.Path, Timeout, "resume", name))
        {
            Assert.Equal(1, second.ExitCode);
            Assert.Contains($"experiment '{name}' is being run by {Environment.MachineName}:", second.Stderr);
            Assert.Contains("one host writes an experiment at a time", second.Stderr);
            Assert.DoesNotContain("resuming experiment", second.Output);
        }
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the refusal took {clock.Elapsed}");

        // The first host never noticed: it goes on, and its metrics.jsonl (which a resume rewrites) is whole.
        var later = await first.WaitForLineAsync(l => l.Contains("/100000 v") && MetricSteps(dir, name).Count >= 9, Timeout, "three more steps");
        first.Signal("TERM");
        Assert.Equal(143, await first.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        var steps = MetricSteps(dir, name);
        Assert.Equal(Enumerable.Range(1, steps.Count).Select(i => (long)i), steps);
        Assert.True(steps.Count >= 9, later);

        await using var show = await CliProcess.RunAsync(dir.Path, Timeout, "show", name, "--json");
        var doc = JsonDocument.Parse(show.Stdout).RootElement;
        Assert.Equal("stopped", doc.GetProperty("status").GetString());
        Assert.Equal(1, doc.GetProperty("resumes").GetInt32()); // the refused resume left no trace in the journal
        Assert.Equal(steps[^1], doc.GetProperty("step").GetInt64());
    }

    [Fact]
    public async Task A_sqlite_store_locked_by_another_process_is_a_clear_error_within_seconds()
    {
        using var dir = new TempFolder();
        dir.Write("a.conf", Config("a"));
        dir.Write("b.conf", Config("b"));
        await using (var run = await CliProcess.RunAsync(dir.Path, Timeout, "run", "a.conf"))
            Experiments.AssertSucceeded(run);

        // Another process (this test) holds the write lock, as a stuck writer would.
        using var holder = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = dir["runs/experiments.db"], Pooling = false }.ConnectionString);
        holder.Open();
        using (var begin = holder.CreateCommand())
        {
            begin.CommandText = "BEGIN EXCLUSIVE; UPDATE rl_leases SET expires_at = expires_at;";
            begin.ExecuteNonQuery();
        }

        foreach (var args in new[] { new[] { "run", "b.conf" }, ["resume", "a", "--steps", "5"] })
        {
            var clock = Stopwatch.StartNew();
            await using var cli = await CliProcess.RunAsync(dir.Path, Timeout, args);
            Assert.Equal(1, cli.ExitCode);
            Assert.Contains("experiments.db is locked by another process", cli.Stderr);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(25), $"{string.Join(' ', args)} took {clock.Elapsed} (Akka's journal would wait 30 s)");
        }
        Assert.False(Directory.Exists(dir["runs/b"]), "nothing is written for the refused run");

        using (var rollback = holder.CreateCommand()) { rollback.CommandText = "ROLLBACK;"; rollback.ExecuteNonQuery(); }
        await using var list = await CliProcess.RunAsync(dir.Path, Timeout, "list");
        Experiments.AssertSucceeded(list);
        Assert.Contains("Finished", list.Stdout); // the store is fine once the lock is gone
    }
}
