using System.Security.Cryptography;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using RlActors.Actors.Protocol;
using RlActors.Actors.Runtime.Weights;
using RlActors.Actors.Serialization;
using RlActors.Policies.Flow;
using Xunit.Abstractions;
using static RlActors.Actors.Flow.FlowProtocol;
using static RlActors.Actors.Protocol.SamplerProtocol;
using static RlActors.Actors.Protocol.WeightsProtocol;

namespace RlActors.Actors.Tests;

/// <summary>Weights larger than a remote frame travel by reference (the serializer publishes them on the sending node's
/// weight server), and any other message over the frame size fails at the sender naming its type and size: through the
/// serializer and through a real two-node cluster on loopback (the test kit's node and a second actor system).</summary>
public sealed class WeightOffloadTests(ITestOutputHelper output) : ClusterTestKit(output)
{
    private ProtocolSerializer Serializer => new((ExtendedActorSystem)Sys);

    private static byte[] Blob(int size, int seed)
    {
        var b = GC.AllocateUninitializedArray<byte>(size);
        new Random(seed).NextBytes(b);
        return b;
    }

    [Fact]
    public async Task Weights_over_the_threshold_are_serialized_as_a_reference_and_fetched_back_intact()
    {
        var serializer = Serializer;
        long threshold = WeightDistribution.Get(Sys).Settings.OffloadThreshold;
        Assert.Equal(serializer.MaximumFrameSize - WeightDistributionSettings.AutoMargin, threshold);
        var raw = Blob((int)threshold + 1, 1);
        var weights = new PolicyWeights(12, Tiny.ModelSpec, raw);
        byte[] wire = serializer.ToBinary(weights);
        Assert.True(wire.Length < 1024, $"{wire.Length} bytes on the wire");
        var back = Assert.IsType<PolicyWeights>(serializer.FromBinary(wire, serializer.Manifest(weights)));
        Assert.Empty(back.Bytes);
        var r = Assert.IsType<WeightsRef>(back.Remote);
        Assert.Equal((12L, (long)raw.Length, Convert.ToHexString(SHA256.HashData(raw)).ToLowerInvariant()), (r.Version, r.Size, r.Sha256));
        Assert.Equal(WeightDistribution.Get(Sys).Server.Endpoint, r.Endpoint);
        var fetched = await WeightDistribution.Get(Sys).FetchAsync(r);
        Assert.True(raw.AsSpan().SequenceEqual(fetched));
        // Serialized again (for a second node): the same reference, published once.
        Assert.Equal(wire, serializer.ToBinary(weights));
        Assert.Equal(1, WeightDistribution.Get(Sys).Server.Stats.Published);
        // Flow weights take the same path.
        var flow = new FlowWeights(3, new FlowModelSpec { Dim = 2, Classes = 1, Width = 8, Layers = 1 }, raw);
        var flowBack = Assert.IsType<FlowWeights>(serializer.FromBinary(serializer.ToBinary(flow), serializer.Manifest(flow)));
        Assert.Equal((3L, raw.Length), (flowBack.Remote!.Version, (int)flowBack.Remote.Size));
        // Small weights still go inline.
        var small = new PolicyWeights(1, Tiny.ModelSpec, [1, 2, 3]);
        var smallBack = (PolicyWeights)serializer.FromBinary(serializer.ToBinary(small), serializer.Manifest(small));
        Assert.Null(smallBack.Remote);
        Assert.Equal(small.Bytes, smallBack.Bytes);
    }

    [Fact]
    public void A_message_over_the_frame_size_is_refused_by_the_serializer_naming_its_type_and_size()
    {
        var serializer = Serializer;
        var big = Rollouts((int)(serializer.MaximumFrameSize / 4) + 1000);
        var e = Assert.Throws<OversizedMessageException>(() => serializer.ToBinary(big));
        Assert.Contains("SamplerProtocol.SlotRollouts", e.Message);
        Assert.Contains("maximum-frame-size = 33,554,432 bytes", e.Message);
        Assert.True(e.Size > serializer.MaximumFrameSize);
        Assert.Contains($"{e.Size:N0} bytes", e.Message);
    }

    /// <summary>One slot whose log-probs alone are <paramref name="floats"/> × 4 bytes.</summary>
    private static SlotRollouts Rollouts(int floats) => new("exp", 1, 0, 0, "s",
        [new RolloutGroup("exp/1/0/0", 0, [1, 2], [new int[1]], [new float[floats]])], 1, 0.1);

    [Fact]
    public async Task Through_a_two_node_cluster_large_weights_arrive_by_reference_and_an_oversized_message_fails_at_the_sender()
    {
        JoinSelfAndAwaitUp();
        var other = ActorSystem.Create(Sys.Name, NodeConfig);
        try
        {
            var cluster = Cluster.Get(other);
            var up = new TaskCompletionSource();
            cluster.RegisterOnMemberUp(() => up.TrySetResult());
            cluster.Join(Cluster.Get(Sys).SelfAddress);
            await up.Task.WaitAsync(TimeSpan.FromSeconds(20));
            other.ActorOf(Props.Create(() => new WeightsReceiver()), "receiver");
            var address = Cluster.Get(other).SelfAddress;
            var receiver = await Sys.ActorSelection(new RootActorPath(address) / "user" / "receiver").ResolveOne(TimeSpan.FromSeconds(10));

            // 48 MB of weights: over the 32 MiB frame, so they can only arrive by reference.
            var raw = Blob(48 << 20, 2);
            receiver.Tell(new PolicyWeights(5, Tiny.ModelSpec, raw), TestActor);
            var got = ExpectMsg<string>(TimeSpan.FromSeconds(30));
            Assert.Equal($"v5 {raw.Length} {Convert.ToHexString(SHA256.HashData(raw)).ToLowerInvariant()} by reference", got);

            // A message that cannot be offloaded fails at the sender: its log names the type and size; nothing arrives.
            var errors = CreateTestProbe();
            Sys.EventStream.Subscribe(errors, typeof(Error));
            receiver.Tell(Rollouts(9 << 20), TestActor);
            var error = errors.FishForMessage<Error>(e => e.Cause is OversizedMessageException || e.Cause?.InnerException is OversizedMessageException,
                TimeSpan.FromSeconds(10));
            var cause = error.Cause as OversizedMessageException ?? (OversizedMessageException)error.Cause!.InnerException!;
            Assert.Equal(typeof(SlotRollouts), cause.MessageType);
            Assert.True(cause.Size > 36_000_000);
            // The association is still usable.
            receiver.Tell(new PolicyWeights(6, Tiny.ModelSpec, [9, 9]), TestActor);
            Assert.Equal("v6 2 inline", ExpectMsg<string>(TimeSpan.FromSeconds(10)));
            ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // the oversized slot never arrived
        }
        finally
        {
            await CoordinatedShutdown.Get(other).Run(CoordinatedShutdown.ClrExitReason.Instance);
        }
    }

    /// <summary>What a sampler does on a worker node, in one line: bytes inline, or fetched by reference.</summary>
    private sealed class WeightsReceiver : ReceiveActor
    {
        public WeightsReceiver()
        {
            Receive<PolicyWeights>(w =>
            {
                var replyTo = Sender;
                if (w.Remote is { } r)
                    WeightDistribution.Get(Context.System).FetchAsync(r)
                        .PipeTo(replyTo, success: b => $"v{w.Version} {b.Length} {Convert.ToHexString(SHA256.HashData(b)).ToLowerInvariant()} by reference");
                else replyTo.Tell($"v{w.Version} {w.Bytes.Length} inline");
            });
            Receive<SlotRollouts>(s => Sender.Tell("rollouts arrived"));
        }
    }
}
