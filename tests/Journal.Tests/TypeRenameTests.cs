using System.Text;
using Akka.Actor;
using RlActors.Actors.Persistence;
using Xunit.Abstractions;
using static RlActors.Journal.Tests.Samples;

namespace RlActors.Journal.Tests;

/// <summary>
/// Renaming or moving an event type must not break a stored journal: the rows hold our serializer's id and fixed
/// manifests, and no CLR type name anywhere, so reading them back needs nothing but the manifest.
/// </summary>
[Collection(StoreCollection.Name)]
public sealed class TypeRenameTests(ITestOutputHelper output)
{
    private static readonly TimeSpan T = PersistenceKit.Timeout;

    public static TheoryData<string> Stores => TestStore.Kinds;

    /// <summary>Every CLR name a type-name-based serializer would have stored for our types.</summary>
    private static IEnumerable<string> ClrNames() =>
        ExperimentEventSerializer.Manifests.Keys.SelectMany(t => new[] { t.Name, t.FullName! }).Concat(["RlActors", "RlActors.Actors", "System.Private.CoreLib"]);

    private static void AssertNoClrNames(byte[] bytes, string what)
    {
        string utf8 = Encoding.UTF8.GetString(bytes), utf16 = Encoding.Unicode.GetString(bytes);
        foreach (var name in ClrNames())
        {
            Assert.False(utf8.Contains(name, StringComparison.Ordinal), $"{what} holds the CLR name '{name}'");
            Assert.False(utf16.Contains(name, StringComparison.Ordinal), $"{what} holds the CLR name '{name}' (UTF-16)");
        }
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task Stored_events_and_snapshots_carry_fixed_manifests_and_recover_by_manifest_alone(string store)
    {
        using var db = TestStore.Create(store);
        string name = "rename-" + Guid.NewGuid().ToString("N")[..8];
        string pid = ExperimentJournal.PersistenceIdFor(name);
        var events = OneOfEach(name).Where((_, i) => i != 8).ToList(); // without the recomputed step, which is not persisted
        var settings = new ExperimentJournal.Settings { SnapshotEvery = 5 };

        // 1. An ActorSystem writes the events (and snapshots at 5 and 10) into the store.
        ExperimentState written;
        using (var kit = new PersistenceKit(db, output, name: "writer"))
        {
            var journal = kit.Sys.ActorOf(ExperimentJournal.Props(name, settings));
            var probe = kit.Probe();
            foreach (var e in events)
            {
                probe.Send(journal, new ExperimentJournal.Record(e));
                Assert.True(probe.ExpectMsg<ExperimentJournal.Recorded>(T).Applied);
            }
            probe.Send(journal, ExperimentJournal.GetState.Instance);
            written = probe.ExpectMsg<ExperimentState>(T);
            kit.Kit.AwaitAssert(() => Assert.Equal(2, db.Query("SELECT sequence_number FROM snapshot WHERE persistence_id = @p", ("@p", pid)).Count),
                T, TimeSpan.FromMilliseconds(50));
        }
        Assert.Equal(ExperimentState.From(events), written);

        // 2. The journal table as stored: our serializer id, the fixed manifests, no CLR type name in any column.
        var rows = db.Query("SELECT sequence_number, manifest, identifier, message FROM journal WHERE persistence_id = @p ORDER BY sequence_number", ("@p", pid));
        Assert.Equal(events.Select(e => ExperimentEventSerializer.Manifests[e.GetType()]), rows.Select(r => (string?)r["manifest"]));
        Assert.Equal(
            ["exp.started.v1", "exp.step.v1", "exp.step.v1", "exp.checkpoint.v1", "exp.step.v1", "exp.failed.v1", "exp.resumed.v1",
             "exp.total-steps.v1", "exp.step.v1", "exp.evaluation.v1", "exp.checkpoint.v1", "exp.checkpoint-pruned.v1", "exp.stopped.v1", "exp.finished.v1"],
            rows.Select(r => (string?)r["manifest"]));
        Assert.All(rows, r =>
        {
            Assert.Equal(ExperimentEventSerializer.Id, Convert.ToInt32(r["identifier"]));
            string manifest = (string)r["manifest"]!;
            AssertNoClrNames(Encoding.UTF8.GetBytes(manifest), $"manifest '{manifest}'");
            AssertNoClrNames((byte[])r["message"]!, $"event {r["sequence_number"]}");
        });

        // 3. The snapshot table likewise.
        var snaps = db.Query("SELECT sequence_number, manifest, serializer_id, snapshot FROM snapshot WHERE persistence_id = @p ORDER BY sequence_number", ("@p", pid));
        Assert.Equal([5L, 10], snaps.Select(r => Convert.ToInt64(r["sequence_number"])));
        Assert.All(snaps, r =>
        {
            Assert.Equal(ExperimentEventSerializer.StateManifest, r["manifest"]);
            Assert.Equal(ExperimentEventSerializer.Id, Convert.ToInt32(r["serializer_id"]));
            AssertNoClrNames((byte[])r["snapshot"]!, $"snapshot {r["sequence_number"]}");
        });

        // 4. The rows read back by manifest alone (no type lookup of any kind) fold to the same state, and the latest
        //    snapshot plus the events after it too.
        using (var bare = ActorSystem.Create("bare", "akka.loglevel = WARNING"))
        {
            var serializer = new ExperimentEventSerializer((ExtendedActorSystem)bare);
            var decoded = rows.Select(r => (IExperimentEvent)serializer.FromBinary((byte[])r["message"]!, (string)r["manifest"]!)).ToList();
            Assert.Equal(events, decoded);
            Assert.Equal(written, ExperimentState.From(decoded));
            var snapshot = (ExperimentState)serializer.FromBinary((byte[])snaps[^1]["snapshot"]!, (string)snaps[^1]["manifest"]!);
            Assert.Equal(written, decoded.Skip(10).Aggregate(snapshot, (s, e) => s.Apply(e)));
            await bare.Terminate().WaitAsync(T);
        }

        // 5. A fresh ActorSystem recovers the same state (from the snapshot at 10 and events 11..13), and with events only.
        using (var kit = new PersistenceKit(db, output, name: "reader"))
        {
            var probe = kit.Probe();
            probe.Send(kit.Sys.ActorOf(ExperimentJournal.Props(name, settings)), ExperimentJournal.GetState.Instance);
            Assert.Equal(written, probe.ExpectMsg<ExperimentState>(T));
            probe.Send(kit.Sys.ActorOf(ExperimentJournal.Props(name, settings with { RecoverFromSnapshot = false })), ExperimentJournal.GetState.Instance);
            Assert.Equal(written, probe.ExpectMsg<ExperimentState>(T));
        }
    }
}
