using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Persistence;
using Akka.TestKit;
using Xunit.Abstractions;

namespace RlActors.Journal.Tests;

/// <summary>One ActorSystem configured with <see cref="RlActors.Actors.Persistence.PersistenceSetup"/> on a <see cref="TestStore"/>, with the default
/// journal and snapshot store plugin actors at hand (the Akka.Persistence plugin API the TCK also drives).</summary>
public sealed class PersistenceKit : IDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    /// <summary>Test-only payloads: one no serializer can write, one big snapshot.</summary>
    public const string TestHocon = $$"""
        akka.actor {
          serializers { unwritable = "{{nameof(RlActors)}}.Journal.Tests.UnwritableSerializer, Journal.Tests" }
          serialization-bindings { "RlActors.Journal.Tests.Unwritable, Journal.Tests" = unwritable }
          serialization-identifiers { "RlActors.Journal.Tests.UnwritableSerializer, Journal.Tests" = 9917 }
        }
        """;

    private readonly bool _ownsStore;

    public PersistenceKit(TestStore store, ITestOutputHelper? output, bool ownsStore = false, string name = "journal")
    {
        Store = store;
        _ownsStore = ownsStore;
        Kit = new Akka.TestKit.Xunit2.TestKit(store.Config(TestHocon), name, output);
    }

    public static PersistenceKit Create(string kind, ITestOutputHelper? output) => new(TestStore.Create(kind), output, ownsStore: true);

    public TestStore Store { get; }
    public Akka.TestKit.Xunit2.TestKit Kit { get; }
    public ActorSystem Sys => Kit.Sys;
    public IActorRef Journal => Persistence.Instance.Apply(Sys).JournalFor(null);
    public IActorRef Snapshots => Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);
    public TestProbe Probe() => Kit.CreateTestProbe();

    /// <summary>A persistence id no other test (nor an earlier run on a shared PostgreSQL database) uses.</summary>
    public static string NewPid(string prefix = "p") => $"{prefix}-{Guid.NewGuid():N}";

    public void Dispose()
    {
        Kit.Dispose();
        if (_ownsStore) Store.Dispose();
    }
}

/// <summary>A payload bound to <see cref="UnwritableSerializer"/>.</summary>
public sealed record Unwritable(string Why);

/// <summary>Fails every write, so a journal must reject the event.</summary>
public sealed class UnwritableSerializer(ExtendedActorSystem system) : Akka.Serialization.Serializer(system)
{
    public override int Identifier => 9917;
    public override bool IncludeManifest => false;
    public override byte[] ToBinary(object obj) => throw new SerializationException($"cannot write {obj}");
    public override object FromBinary(byte[] bytes, Type? type) => throw new SerializationException("cannot read");
}

/// <summary>A snapshot type for the large-snapshot test (stored by Akka's default serializer).</summary>
public sealed record BigSnapshot(string Label, byte[] Data);
