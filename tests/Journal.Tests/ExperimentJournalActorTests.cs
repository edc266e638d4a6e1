using Akka.Actor;
using RlActors.Actors.Persistence;
using Xunit.Abstractions;
using static RlActors.Journal.Tests.Samples;

namespace RlActors.Journal.Tests;

[Collection(StoreCollection.Name)]
public sealed class ExperimentJournalActorTests(ITestOutputHelper output)
{
    private static readonly TimeSpan T = PersistenceKit.Timeout;

    public static TheoryData<string> Stores => TestStore.Kinds;

    private static ExperimentJournal.Recorded Record(PersistenceKit kit, IActorRef journal, IExperimentEvent e)
    {
        var probe = kit.Probe();
        probe.Send(journal, new ExperimentJournal.Record(e));
        return probe.ExpectMsg<ExperimentJournal.Recorded>(T);
    }

    private static ExperimentState GetState(PersistenceKit kit, IActorRef journal)
    {
        var probe = kit.Probe();
        probe.Send(journal, ExperimentJournal.GetState.Instance);
        return probe.ExpectMsg<ExperimentState>(T);
    }

    private static long[] SnapshotSeqNrs(TestStore store, string name) =>
        store.Query("SELECT sequence_number FROM snapshot WHERE persistence_id = @p ORDER BY sequence_number", ("@p", ExperimentJournal.PersistenceIdFor(name)))
            .Select(r => Convert.ToInt64(r["sequence_number"])).ToArray();

    [Theory, MemberData(nameof(Stores))]
    public void Journal_actor_persists_applied_events_replies_with_their_sequence_numbers_and_skips_no_ops(string store)
    {
        using var kit = PersistenceKit.Create(store, output);
        string name = "exp-" + Guid.NewGuid().ToString("N")[..8];
        var journal = kit.Sys.ActorOf(ExperimentJournal.Props(name), "journal");
        Assert.Equal(ExperimentState.Empty, GetState(kit, journal));

        var events = OneOfEach(name);
        var replies = events.Select(e => Record(kit, journal, e)).ToList();
        // Everything is applied but the recomputed step 3 (index 8), which is not persisted and reports the last number.
        Assert.Equal(Enumerable.Range(0, events.Count).Select(i => i != 8), replies.Select(r => r.Applied));
        Assert.Equal([1L, 2, 3, 4, 5, 6, 7, 8, 8, 9, 10, 11, 12, 13, 14], replies.Select(r => r.SequenceNr));
        Assert.Equal(ExperimentState.From(events), GetState(kit, journal));

        // Duplicates of the past are answered without writing.
        Assert.Equal(new ExperimentJournal.Recorded(14, false), Record(kit, journal, Step(2)));
        Assert.Equal(new ExperimentJournal.Recorded(14, false), Record(kit, journal, Checkpoint(4)));
        Assert.Equal(new ExperimentJournal.Recorded(14, false), Record(kit, journal, Started(name)));
        Assert.Equal(14L, Convert.ToInt64(kit.Store.Query("SELECT COUNT(*) AS n FROM journal WHERE persistence_id = @p",
            ("@p", ExperimentJournal.PersistenceIdFor(name)))[0]["n"]));
    }

    [Theory, MemberData(nameof(Stores))]
    public void Journal_actor_refuses_a_start_of_another_experiment(string store)
    {
        using var kit = PersistenceKit.Create(store, output);
        var journal = kit.Sys.ActorOf(ExperimentJournal.Props("mine"));
        var probe = kit.Probe();
        probe.Send(journal, new ExperimentJournal.Record(Started("theirs")));
        var failure = probe.ExpectMsg<Status.Failure>(T);
        Assert.Contains("theirs", failure.Cause.Message);
        Assert.Equal(ExperimentState.Empty, GetState(kit, journal));
    }

    [Theory, MemberData(nameof(Stores))]
    public void Journal_actor_snapshots_every_n_events_keeps_two_and_recovers_the_same_state_in_a_fresh_actor_system(string store)
    {
        using var db = TestStore.Create(store);
        string name = "exp-" + Guid.NewGuid().ToString("N")[..8];
        var settings = new ExperimentJournal.Settings { SnapshotEvery = 5 };
        var events = new List<IExperimentEvent> { Started(name, total: 100) };
        for (int i = 1; i <= 14; i++) events.Add(Step(i));
        events.Add(Checkpoint(14)); // 16 events: snapshots at 5, 10, 15; the one at 5 is deleted

        ExperimentState written;
        using (var kit = new PersistenceKit(db, output, name: "writer"))
        {
            var journal = kit.Sys.ActorOf(ExperimentJournal.Props(name, settings));
            foreach (var e in events) Assert.True(Record(kit, journal, e).Applied);
            written = GetState(kit, journal);
            kit.Kit.AwaitAssert(() => Assert.Equal([10L, 15], SnapshotSeqNrs(db, name)), T, TimeSpan.FromMilliseconds(50));
        }
        Assert.Equal(ExperimentState.From(events), written);

        // Recovery from the snapshot at 15 plus event 16.
        using (var kit = new PersistenceKit(db, output, name: "reader"))
        {
            var journal = kit.Sys.ActorOf(ExperimentJournal.Props(name, settings));
            Assert.Equal(written, GetState(kit, journal));
            Assert.Equal(new ExperimentJournal.Recorded(17, true), Record(kit, journal, Step(15)));
            Assert.Equal(new ExperimentJournal.Recorded(18, true), Record(kit, journal, Step(16))); // snapshot at 20 not reached
            Assert.Equal(new ExperimentJournal.Recorded(19, true), Record(kit, journal, Step(17)));
            Assert.Equal(new ExperimentJournal.Recorded(20, true), Record(kit, journal, Step(18)));
            kit.Kit.AwaitAssert(() => Assert.Equal([15L, 20], SnapshotSeqNrs(db, name)), T, TimeSpan.FromMilliseconds(50));
            written = GetState(kit, journal);
        }

        // Recovery from a snapshot taken at the very last event: the next event must still get the next number.
        using (var kit = new PersistenceKit(db, output, name: "again"))
        {
            var journal = kit.Sys.ActorOf(ExperimentJournal.Props(name, settings));
            Assert.Equal(written, GetState(kit, journal));
            Assert.Equal(18, written.Step);
            Assert.Equal(new ExperimentJournal.Recorded(21, true), Record(kit, journal, new ExperimentFinished(At(500))));
        }

        // And without snapshots at all, replaying every event gives the same state.
        using (var kit = new PersistenceKit(db, output, name: "events-only"))
        {
            var journal = kit.Sys.ActorOf(ExperimentJournal.Props(name, new ExperimentJournal.Settings { SnapshotEvery = 0, RecoverFromSnapshot = false }));
            var viaSnapshots = GetState(kit, journal);
            var expected = ExperimentState.From([.. events, Step(15), Step(16), Step(17), Step(18), new ExperimentFinished(At(500))]);
            Assert.Equal(expected, viaSnapshots);
        }
    }

    [Fact]
    public void Props_refuse_a_blank_name_and_a_negative_snapshot_interval()
    {
        Assert.Throws<ArgumentException>(() => ExperimentJournal.Props(" "));
        Assert.Throws<ArgumentOutOfRangeException>(() => ExperimentJournal.Props("x", new ExperimentJournal.Settings { SnapshotEvery = -1 }));
        Assert.Equal("experiment-arith", ExperimentJournal.PersistenceIdFor("arith"));
    }
}

[Collection(StoreCollection.Name)]
public sealed class ExperimentQueriesTests(ITestOutputHelper output)
{
    private static readonly TimeSpan T = PersistenceKit.Timeout;

    public static TheoryData<string> Stores => TestStore.Kinds;

    [Theory, MemberData(nameof(Stores))]
    public async Task Queries_list_experiments_and_read_their_events_without_a_journal_actor(string store)
    {
        using var db = TestStore.Create(store);
        string a = "qa-" + Guid.NewGuid().ToString("N")[..8], b = "qb-" + Guid.NewGuid().ToString("N")[..8];
        using (var kit = new PersistenceKit(db, output, name: "writer"))
        {
            var probe = kit.Probe();
            foreach (var (name, events) in new[] { (a, OneOfEach(a)), (b, (IReadOnlyList<IExperimentEvent>)[Started(b), Step(1)]) })
            {
                var journal = kit.Sys.ActorOf(ExperimentJournal.Props(name, new ExperimentJournal.Settings { SnapshotEvery = 3 }));
                foreach (var e in events) { probe.Send(journal, new ExperimentJournal.Record(e)); probe.ExpectMsg<ExperimentJournal.Recorded>(T); }
            }
        }
        using (var kit = new PersistenceKit(db, output, name: "reader"))
        {
            var names = await ExperimentQueries.ListNamesAsync(kit.Sys);
            Assert.Contains(a, names);
            Assert.Contains(b, names);
            var events = await ExperimentQueries.EventsAsync(kit.Sys, a);
            var persisted = OneOfEach(a).Where((_, i) => i != 8).ToList(); // the recomputed step was not persisted
            Assert.Equal(Enumerable.Range(1, persisted.Count).Select(i => (long)i), events.Select(e => e.SequenceNr));
            Assert.Equal(persisted, events.Select(e => e.Event));
            Assert.Equal(ExperimentState.From(OneOfEach(a)), await ExperimentQueries.StateAsync(kit.Sys, a));
            Assert.Equal(ExperimentState.Empty, await ExperimentQueries.StateAsync(kit.Sys, "never-" + Guid.NewGuid().ToString("N")));

            // The direct reader of the journal table (no ActorSystem) returns exactly what the read journal returns.
            var location = db.Kind == TestStore.Sqlite ? StoreLocation.Sqlite(db.SqlitePath!) : StoreLocation.Parse(db.ConnectionString);
            Assert.Equal(names, ExperimentRecords.ListNames(location));
            Assert.Equal(events, ExperimentRecords.Events(location, a));
            Assert.Equal(await ExperimentQueries.EventsAsync(kit.Sys, b), ExperimentRecords.Events(location, b));
            Assert.Equal(ExperimentState.From(OneOfEach(a)), ExperimentRecords.State(location, a));
            Assert.Empty(ExperimentRecords.Events(location, "never-" + Guid.NewGuid().ToString("N")));
        }
    }

    [Fact]
    public void The_direct_reader_finds_nothing_in_a_store_without_a_journal_yet()
    {
        using var db = TestStore.Create(TestStore.Sqlite);
        var location = StoreLocation.Sqlite(db.SqlitePath!);
        Assert.Empty(ExperimentRecords.ListNames(location));
        Assert.Empty(ExperimentRecords.Events(location, "anything"));
    }
}
