using System.Diagnostics;
using Akka.TestKit;
using RlActors.Actors.Persistence;
using RlActors.Policies.Checkpoints;
using Xunit.Abstractions;

namespace RlActors.Actors.Tests;

/// <summary>
/// The observer that records a run in the store is called by the coordinator on the coordinator's own thread: its
/// callbacks must return at once, and still record the finish and the stop only after the checkpoint before them is stored.
/// </summary>
public sealed class PersistingObserverTests(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(output: output), IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("rlactors-observer-").FullName;

    private CheckpointStore Store()
    {
        var store = new CheckpointStore(StoreLocation.Sqlite(Path.Combine(dir, "experiments.db")));
        store.EnsureSchema();
        return store;
    }

    private static TrainingCheckpoint Checkpoint(long step) => new() { Step = step, PolicyVersion = step, PolicyWeights = [1, 2, 3, (byte)step] };

    /// <summary>Calls <paramref name="callback"/> and returns how long it took.</summary>
    private static TimeSpan Timed(Action callback)
    {
        var clock = Stopwatch.StartNew();
        callback();
        return clock.Elapsed;
    }

    [Fact]
    public async Task Finished_returns_at_once_while_the_final_checkpoint_waits_for_the_journal_and_is_recorded_after_it()
    {
        var journal = CreateTestProbe();
        var inner = CreateTestProbe();
        var observer = new PersistingObserver(new ProbeObserver(inner), journal, Store(), "exp", keepLast: 3);

        observer.CheckpointTaken(4, Checkpoint(4));
        // The journal has not answered yet, so the checkpoint cannot be stored: a Finished that waited for it would hold
        // the coordinator's thread (for up to 30 s).
        var took = Timed(() => observer.Finished([9, 9]));
        Assert.True(took < TimeSpan.FromSeconds(1), $"Finished blocked its caller for {took.TotalSeconds:F1} s");
        inner.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // not finished before the checkpoint is stored

        journal.ExpectMsg<ExperimentJournal.GetState>();
        journal.Reply(ExperimentState.Empty);
        var saved = Assert.IsType<CheckpointSaved>(journal.ExpectMsg<ExperimentJournal.Record>().Event);
        Assert.Equal((4L, "step-00000004"), (saved.Step, saved.CheckpointId));
        Assert.IsType<ExperimentFinished>(journal.ExpectMsg<ExperimentJournal.Record>().Event);
        Assert.StartsWith("[ckpt] step 4: saved step-00000004", inner.ExpectMsg<Logged>().Line);
        Assert.Equal([9, 9], inner.ExpectMsg<Finished>().Weights);
        await observer.Flushed.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void Stopped_returns_at_once_and_records_the_stop_after_its_checkpoint_is_stored()
    {
        var journal = CreateTestProbe();
        var inner = CreateTestProbe();
        var observer = new PersistingObserver(new ProbeObserver(inner), journal, Store(), "exp", keepLast: 3);

        observer.CheckpointTaken(2, Checkpoint(2));
        var took = Timed(() => observer.Stopped(2, "SIGTERM"));
        Assert.True(took < TimeSpan.FromSeconds(1), $"Stopped blocked its caller for {took.TotalSeconds:F1} s");

        journal.ExpectMsg<ExperimentJournal.GetState>();
        journal.Reply(ExperimentState.Empty);
        Assert.IsType<CheckpointSaved>(journal.ExpectMsg<ExperimentJournal.Record>().Event);
        var stopped = Assert.IsType<ExperimentStopped>(journal.ExpectMsg<ExperimentJournal.Record>().Event);
        Assert.Equal((2L, "SIGTERM"), (stopped.Step, stopped.Reason));
        inner.ExpectMsg<Logged>();
        Assert.Equal(new StoppedAt(2, "SIGTERM"), inner.ExpectMsg<StoppedAt>());
    }

    void IDisposable.Dispose()
    {
        Shutdown();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
    }
}
