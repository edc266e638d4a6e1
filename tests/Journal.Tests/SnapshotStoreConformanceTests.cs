using Akka.Persistence;
using Akka.TestKit;
using Xunit.Abstractions;

namespace RlActors.Journal.Tests;

/// <summary>
/// What Akka's persistence TCK (SnapshotStoreSpec) checks, against the configured Akka.Persistence.Sql snapshot store,
/// through the snapshot store plugin API. Five snapshots are saved first at sequence numbers 10..14. Each case runs on
/// SQLite, and on PostgreSQL when RLACTORS_TEST_POSTGRES is set.
/// </summary>
[Collection(StoreCollection.Name)]
public sealed class SnapshotStoreConformanceTests(ITestOutputHelper output)
{
    private static readonly TimeSpan T = PersistenceKit.Timeout;

    public static TheoryData<string> Stores => TestStore.Kinds;

    private sealed class Fixture : IDisposable
    {
        public readonly PersistenceKit Kit;
        public readonly string Pid = PersistenceKit.NewPid("s");
        public readonly TestProbe Probe;
        public readonly List<SnapshotMetadata> Saved = [];

        public Fixture(string kind, ITestOutputHelper output)
        {
            Kit = PersistenceKit.Create(kind, output);
            Probe = Kit.Probe();
            for (int i = 1; i <= 5; i++) Saved.Add(Save(new SnapshotMetadata(Pid, 9 + i, DateTime.UtcNow), $"s-{i}"));
        }

        public SnapshotMetadata Save(SnapshotMetadata metadata, object snapshot)
        {
            Kit.Snapshots.Tell(new SaveSnapshot(metadata, snapshot), Probe.Ref);
            var ok = Probe.ExpectMsg<SaveSnapshotSuccess>(T);
            Assert.Equal(metadata.PersistenceId, ok.Metadata.PersistenceId);
            Assert.Equal(metadata.SequenceNr, ok.Metadata.SequenceNr);
            return ok.Metadata;
        }

        public SelectedSnapshot? Load(SnapshotSelectionCriteria criteria, long toSequenceNr = long.MaxValue, string? pid = null)
        {
            Kit.Snapshots.Tell(new LoadSnapshot(pid ?? Pid, criteria, toSequenceNr), Probe.Ref);
            var result = Probe.ExpectMsg<LoadSnapshotResult>(T);
            Assert.Equal(toSequenceNr, result.ToSequenceNr);
            return result.Snapshot;
        }

        /// <summary>Asserts that <paramref name="selected"/> is the snapshot saved as number <paramref name="index"/> (0-based).</summary>
        public void AssertIs(int index, SelectedSnapshot? selected)
        {
            Assert.NotNull(selected);
            Assert.Equal(Pid, selected.Metadata.PersistenceId);
            Assert.Equal(Saved[index].SequenceNr, selected.Metadata.SequenceNr);
            Assert.Equal($"s-{index + 1}", selected.Snapshot);
        }

        public void Dispose() => Kit.Dispose();
    }

    [Theory, MemberData(nameof(Stores))]
    public void Snapshot_store_must_not_load_a_snapshot_of_an_unknown_persistence_id(string store)
    {
        using var f = new Fixture(store, output);
        Assert.Null(f.Load(SnapshotSelectionCriteria.Latest, pid: PersistenceKit.NewPid("unknown")));
    }

    [Theory, MemberData(nameof(Stores))]
    public void Snapshot_store_must_not_load_a_snapshot_given_non_matching_criteria(string store)
    {
        using var f = new Fixture(store, output);
        Assert.Null(f.Load(new SnapshotSelectionCriteria(long.MaxValue, new DateTime(100_000, DateTimeKind.Utc))));
        Assert.Null(f.Load(new SnapshotSelectionCriteria(7)));
        Assert.Null(f.Load(SnapshotSelectionCriteria.Latest, toSequenceNr: 9));
    }

    [Theory, MemberData(nameof(Stores))]
    public void Snapshot_store_must_load_the_most_recent_snapshot(string store)
    {
        using var f = new Fixture(store, output);
        f.AssertIs(4, f.Load(SnapshotSelectionCriteria.Latest));
    }

    [Theory, MemberData(nameof(Stores))]
    public void Snapshot_store_must_load_the_most_recent_snapshot_matching_an_upper_sequence_number_bound(string store)
    {
        using var f = new Fixture(store, output);
        f.AssertIs(3, f.Load(new SnapshotSelectionCriteria(13)));
        f.AssertIs(3, f.Load(SnapshotSelectionCriteria.Latest, toSequenceNr: 13));
        f.AssertIs(0, f.Load(new SnapshotSelectionCriteria(10)));
    }

    [Theory, MemberData(nameof(Stores))]
    public void Snapshot_store_must_load_the_most_recent_snapshot_matching_sequence_number_and_timestamp_bounds(string store)
    {
        using var f = new Fixture(store, output);
        f.AssertIs(2, f.Load(new SnapshotSelectionCriteria(13, f.Saved[2].Timestamp)));
        f.AssertIs(2, f.Load(new SnapshotSelectionCriteria(long.MaxValue, f.Saved[2].Timestamp), toSequenceNr: 13));
        f.AssertIs(1, f.Load(new SnapshotSelectionCriteria(long.MaxValue, f.Saved[1].Timestamp)));
    }

    [Theory, MemberData(nameof(Stores))]
    public void Snapshot_store_must_delete_a_single_snapshot_identified_by_its_metadata(string store)
    {
        using var f = new Fixture(store, output);
        var md = f.Saved[2];
        f.Kit.Snapshots.Tell(new DeleteSnapshot(md), f.Probe.Ref);
        Assert.Equal(md.SequenceNr, f.Probe.ExpectMsg<DeleteSnapshotSuccess>(T).Metadata.SequenceNr);
        f.AssertIs(1, f.Load(new SnapshotSelectionCriteria(md.SequenceNr, md.Timestamp)));
        f.AssertIs(4, f.Load(SnapshotSelectionCriteria.Latest));
    }

    [Theory, MemberData(nameof(Stores))]
    public void Snapshot_store_must_delete_all_snapshots_matching_upper_sequence_number_and_timestamp_bounds(string store)
    {
        using var f = new Fixture(store, output);
        var md = f.Saved[2];
        var criteria = new SnapshotSelectionCriteria(md.SequenceNr, md.Timestamp);
        f.Kit.Snapshots.Tell(new DeleteSnapshots(f.Pid, criteria), f.Probe.Ref);
        Assert.Equal(criteria, f.Probe.ExpectMsg<DeleteSnapshotsSuccess>(T).Criteria);
        Assert.Null(f.Load(criteria));
        f.AssertIs(3, f.Load(new SnapshotSelectionCriteria(f.Saved[3].SequenceNr, f.Saved[3].Timestamp)));
        f.AssertIs(4, f.Load(SnapshotSelectionCriteria.Latest));
    }

    [Theory, MemberData(nameof(Stores))]
    public void Snapshot_store_must_not_delete_snapshots_outside_non_matching_timestamp_bounds(string store)
    {
        using var f = new Fixture(store, output);
        var md = f.Saved[3];
        // Sequence number bound 13 would take s-1..s-4, but the timestamp bound excludes s-4 (and takes s-1..s-3).
        var criteria = new SnapshotSelectionCriteria(md.SequenceNr, f.Saved[2].Timestamp);
        f.Kit.Snapshots.Tell(new DeleteSnapshots(f.Pid, criteria), f.Probe.Ref);
        f.Probe.ExpectMsg<DeleteSnapshotsSuccess>(T);
        f.AssertIs(3, f.Load(new SnapshotSelectionCriteria(md.SequenceNr, md.Timestamp)));
        Assert.Null(f.Load(new SnapshotSelectionCriteria(f.Saved[2].SequenceNr)));
    }

    [Theory, MemberData(nameof(Stores))]
    public void Snapshot_store_must_delete_every_snapshot_of_a_persistence_id_and_only_that_one(string store)
    {
        using var f = new Fixture(store, output);
        string other = PersistenceKit.NewPid("other");
        f.Save(new SnapshotMetadata(other, 3, DateTime.UtcNow), "o-1");
        f.Kit.Snapshots.Tell(new DeleteSnapshots(f.Pid, SnapshotSelectionCriteria.Latest), f.Probe.Ref);
        f.Probe.ExpectMsg<DeleteSnapshotsSuccess>(T);
        Assert.Null(f.Load(SnapshotSelectionCriteria.Latest));
        Assert.Equal("o-1", f.Load(SnapshotSelectionCriteria.Latest, pid: other)?.Snapshot);
    }

    [Theory, MemberData(nameof(Stores))]
    public void Snapshot_store_must_overwrite_a_snapshot_saved_again_at_the_same_sequence_number(string store)
    {
        using var f = new Fixture(store, output);
        f.Save(new SnapshotMetadata(f.Pid, f.Saved[4].SequenceNr, DateTime.UtcNow), "s-5 again");
        var loaded = f.Load(SnapshotSelectionCriteria.Latest);
        Assert.Equal(f.Saved[4].SequenceNr, loaded?.Metadata.SequenceNr);
        Assert.Equal("s-5 again", loaded?.Snapshot);
    }

    [Theory, MemberData(nameof(Stores))]
    public void Snapshot_store_must_save_and_load_a_5_MB_snapshot(string store)
    {
        using var f = new Fixture(store, output);
        var data = new byte[5 * 1024 * 1024];
        new Random(7).NextBytes(data);
        f.Save(new SnapshotMetadata(f.Pid, 100, DateTime.UtcNow), new BigSnapshot("big", data));
        var loaded = Assert.IsType<BigSnapshot>(f.Load(SnapshotSelectionCriteria.Latest)?.Snapshot);
        Assert.Equal("big", loaded.Label);
        Assert.True(data.AsSpan().SequenceEqual(loaded.Data), "the 5 MB payload came back different");
    }
}
