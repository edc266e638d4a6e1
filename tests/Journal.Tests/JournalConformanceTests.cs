using System.Collections.Immutable;
using Akka.Actor;
using Akka.Persistence;
using Akka.TestKit;
using Xunit.Abstractions;

namespace RlActors.Journal.Tests;

/// <summary>
/// What Akka's persistence TCK (JournalSpec) checks, against the configured Akka.Persistence.Sql journal: driven through
/// the journal plugin API (WriteMessages / ReplayMessages / DeleteMessagesTo). Each case runs on SQLite, and on
/// PostgreSQL when RLACTORS_TEST_POSTGRES is set.
/// </summary>
[Collection(StoreCollection.Name)]
public sealed class JournalConformanceTests(ITestOutputHelper output)
{
    private const int ActorInstanceId = 1;
    private static readonly TimeSpan T = PersistenceKit.Timeout;

    public static TheoryData<string> Stores => TestStore.Kinds;

    private sealed class Fixture : IDisposable
    {
        public readonly PersistenceKit Kit;
        public readonly string Pid = PersistenceKit.NewPid();
        public readonly string WriterGuid = Guid.NewGuid().ToString();
        public readonly TestProbe Probe;

        public Fixture(string kind, ITestOutputHelper output, int messages = 5)
        {
            Kit = PersistenceKit.Create(kind, output);
            Probe = Kit.Probe();
            if (messages > 0) Write(Enumerable.Range(1, messages).Select(i => (object)$"a-{i}").ToArray(), 1);
        }

        public Persistent Event(object payload, long seqNr) =>
            new(payload, seqNr, Pid, string.Empty, false, ActorRefs.NoSender, WriterGuid);

        /// <summary>Writes one AtomicWrite per payload, starting at <paramref name="firstSeqNr"/>; expects all to succeed.</summary>
        public void Write(object[] payloads, long firstSeqNr)
        {
            var writes = payloads.Select((p, i) => (IPersistentEnvelope)new AtomicWrite(Event(p, firstSeqNr + i))).ToArray();
            Kit.Journal.Tell(new WriteMessages(writes, Probe.Ref, ActorInstanceId));
            Probe.ExpectMsg<WriteMessagesSuccessful>(T);
            for (int i = 0; i < payloads.Length; i++)
            {
                var ok = Probe.ExpectMsg<WriteMessageSuccess>(T);
                Assert.Equal(firstSeqNr + i, ok.Persistent.SequenceNr);
                Assert.Equal(ActorInstanceId, ok.ActorInstanceId);
            }
        }

        /// <summary>Replays and returns (payloads, highest sequence number reported by RecoverySuccess).</summary>
        public (List<IPersistentRepresentation> Events, long Highest) Replay(long from, long to, long max = long.MaxValue)
        {
            Kit.Journal.Tell(new ReplayMessages(from, to, max, Pid, Probe.Ref));
            var events = new List<IPersistentRepresentation>();
            while (true)
            {
                var m = Probe.ReceiveOne(T) ?? throw new TimeoutException($"no reply to ReplayMessages({from}, {to}, {max}) within {T}");
                switch (m)
                {
                    case ReplayedMessage r: events.Add(r.Persistent); break;
                    case RecoverySuccess s: return (events, s.HighestSequenceNr);
                    case ReplayMessagesFailure f: throw new InvalidOperationException("replay failed", f.Cause);
                    default: throw new InvalidOperationException($"unexpected {m}");
                }
            }
        }

        public void DeleteTo(long toSequenceNr)
        {
            Kit.Journal.Tell(new DeleteMessagesTo(Pid, toSequenceNr, Probe.Ref));
            var ok = Probe.ExpectMsg<DeleteMessagesSuccess>(T);
            Assert.Equal(toSequenceNr, ok.ToSequenceNr);
        }

        public void Dispose() => Kit.Dispose();
    }

    private static void AssertReplayed(long[] expectedSeqNrs, (List<IPersistentRepresentation> Events, long Highest) replay, long highest = 5)
    {
        Assert.Equal(expectedSeqNrs, replay.Events.Select(e => e.SequenceNr));
        Assert.Equal(expectedSeqNrs.Select(i => $"a-{i}"), replay.Events.Select(e => e.Payload as string));
        Assert.Equal(highest, replay.Highest);
    }

    [Theory, MemberData(nameof(Stores))]
    public void Journal_must_replay_all_messages(string store)
    {
        using var f = new Fixture(store, output);
        AssertReplayed([1, 2, 3, 4, 5], f.Replay(1, long.MaxValue));
        AssertReplayed([1, 2, 3, 4, 5], f.Replay(0, long.MaxValue)); // from 0 means from the start too
    }

    [Theory, MemberData(nameof(Stores))]
    public void Journal_must_replay_messages_within_sequence_number_bounds(string store)
    {
        using var f = new Fixture(store, output);
        AssertReplayed([3, 4, 5], f.Replay(3, long.MaxValue));  // lower bound
        AssertReplayed([1, 2, 3], f.Replay(1, 3));              // upper bound
        AssertReplayed([2, 3], f.Replay(2, 3));                 // both
        AssertReplayed([2], f.Replay(2, 2));                    // lower == upper: a single message
        AssertReplayed([], f.Replay(3, 2));                     // lower > upper: nothing
        // Past the end: nothing. (The highest sequence number reported then is only a hint: Akka reads it from
        // fromSequenceNr - 1 on, and Akka.Persistence.Sql answers 0. A persistent actor keeps the larger of that and its
        // snapshot's number; ExperimentJournalActorTests covers recovery from a snapshot taken at the last event.)
        Assert.Empty(f.Replay(6, long.MaxValue).Events);
    }

    [Theory, MemberData(nameof(Stores))]
    public void Journal_must_replay_messages_up_to_a_count_limit(string store)
    {
        using var f = new Fixture(store, output);
        AssertReplayed([1, 2], f.Replay(1, long.MaxValue, max: 2));
        AssertReplayed([2, 3], f.Replay(2, 5, max: 2));
        AssertReplayed([2], f.Replay(2, 4, max: 1));
        AssertReplayed([], f.Replay(2, 4, max: 0));
        AssertReplayed([1, 2, 3, 4, 5], f.Replay(1, long.MaxValue, max: 5));
    }

    [Theory, MemberData(nameof(Stores))]
    public void Journal_must_not_replay_messages_of_a_persistence_id_that_wrote_none(string store)
    {
        using var f = new Fixture(store, output, messages: 0);
        AssertReplayed([], f.Replay(1, long.MaxValue), highest: 0);
    }

    [Theory, MemberData(nameof(Stores))]
    public void Journal_must_not_replay_permanently_deleted_messages_and_keep_the_highest_sequence_number(string store)
    {
        using var f = new Fixture(store, output);
        f.DeleteTo(3);
        AssertReplayed([4, 5], f.Replay(1, long.MaxValue));
        AssertReplayed([4], f.Replay(1, 4));
        AssertReplayed([], f.Replay(1, 3));
        f.DeleteTo(3); // deleting again is fine
        AssertReplayed([4, 5], f.Replay(1, long.MaxValue));
    }

    [Theory, MemberData(nameof(Stores))]
    public void Journal_must_keep_the_highest_sequence_number_after_all_messages_are_deleted(string store)
    {
        using var f = new Fixture(store, output);
        f.DeleteTo(5);
        AssertReplayed([], f.Replay(1, long.MaxValue));
        f.DeleteTo(long.MaxValue);
        AssertReplayed([], f.Replay(1, long.MaxValue));
        AssertReplayed([], f.Replay(5, 5));

        // A persistent actor recovering now continues at 6, and its new events replay.
        f.Write(["a-6", "a-7"], 6);
        AssertReplayed([6, 7], f.Replay(1, long.MaxValue), highest: 7);
    }

    [Theory, MemberData(nameof(Stores))]
    public void Journal_must_keep_the_highest_sequence_number_in_a_fresh_actor_system_after_all_messages_are_deleted(string store)
    {
        using var storeHandle = TestStore.Create(store);
        string pid;
        using (var kit = new PersistenceKit(storeHandle, output))
        {
            pid = PersistenceKit.NewPid();
            var probe = kit.Probe();
            var writes = Enumerable.Range(1, 3).Select(i => (IPersistentEnvelope)new AtomicWrite(
                new Persistent($"a-{i}", i, pid, string.Empty, false, ActorRefs.NoSender, "w"))).ToArray();
            kit.Journal.Tell(new WriteMessages(writes, probe.Ref, 1));
            probe.ExpectMsg<WriteMessagesSuccessful>(T);
            for (int i = 0; i < 3; i++) probe.ExpectMsg<WriteMessageSuccess>(T);
            kit.Journal.Tell(new DeleteMessagesTo(pid, long.MaxValue, probe.Ref));
            probe.ExpectMsg<DeleteMessagesSuccess>(T);
        }
        using (var kit = new PersistenceKit(storeHandle, output))
        {
            var probe = kit.Probe();
            kit.Journal.Tell(new ReplayMessages(1, long.MaxValue, long.MaxValue, pid, probe.Ref));
            Assert.Equal(3, probe.ExpectMsg<RecoverySuccess>(T).HighestSequenceNr);
        }
    }

    [Theory, MemberData(nameof(Stores))]
    public void Journal_must_write_and_replay_an_atomic_write_of_several_events(string store)
    {
        using var f = new Fixture(store, output, messages: 0);
        var atomic = new AtomicWrite(ImmutableList.Create<IPersistentRepresentation>(f.Event("a-1", 1), f.Event("a-2", 2), f.Event("a-3", 3)));
        f.Kit.Journal.Tell(new WriteMessages([atomic], f.Probe.Ref, ActorInstanceId));
        f.Probe.ExpectMsg<WriteMessagesSuccessful>(T);
        for (int i = 1; i <= 3; i++) Assert.Equal(i, f.Probe.ExpectMsg<WriteMessageSuccess>(T).Persistent.SequenceNr);
        AssertReplayed([1, 2, 3], f.Replay(1, long.MaxValue), highest: 3);
    }

    [Theory, MemberData(nameof(Stores))]
    public void Journal_must_replay_the_persistence_id_and_payload_as_written(string store)
    {
        using var f = new Fixture(store, output);
        var (events, _) = f.Replay(1, long.MaxValue);
        Assert.All(events, e =>
        {
            Assert.Equal(f.Pid, e.PersistenceId);
            Assert.False(e.IsDeleted);
            Assert.False(string.IsNullOrEmpty(e.WriterGuid)); // Akka.Persistence.Sql stores its own writer uuid, not the one written
        });
        Assert.Equal(["a-1", "a-2", "a-3", "a-4", "a-5"], events.Select(e => e.Payload));
    }

    [Theory, MemberData(nameof(Stores))]
    public void Journal_must_reject_an_event_it_cannot_serialize_and_store_the_others(string store)
    {
        using var f = new Fixture(store, output, messages: 0);
        var writes = new IPersistentEnvelope[]
        {
            new AtomicWrite(f.Event("a-1", 1)), new AtomicWrite(f.Event(new Unwritable("test"), 2)), new AtomicWrite(f.Event("a-3", 3)),
        };
        f.Kit.Journal.Tell(new WriteMessages(writes, f.Probe.Ref, ActorInstanceId));
        f.Probe.ExpectMsg<WriteMessagesSuccessful>(T);
        Assert.Equal(1, f.Probe.ExpectMsg<WriteMessageSuccess>(T).Persistent.SequenceNr);
        var rejected = f.Probe.ExpectMsg<WriteMessageRejected>(T);
        Assert.Equal(2, rejected.Persistent.SequenceNr);
        Assert.Contains("cannot write", rejected.Cause.ToString());
        Assert.Equal(3, f.Probe.ExpectMsg<WriteMessageSuccess>(T).Persistent.SequenceNr);
        AssertReplayed([1, 3], f.Replay(1, long.MaxValue), highest: 3);
    }
}

[CollectionDefinition(Name)]
public sealed class StoreCollection
{
    /// <summary>Tests that start ActorSystems on a store run one at a time (a shared PostgreSQL database creates its tables once).</summary>
    public const string Name = "stores";
}
