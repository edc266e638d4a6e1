using Akka.Cluster;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using RlActors.Actors.Runtime;
using Xunit.Abstractions;

namespace RlActors.Actors.Tests;

/// <summary>
/// A TestKit whose ActorSystem is a one-node cluster started from the production HOCON of <see cref="ClusterNode"/>
/// (protocol serializer bindings, frame size, pub-sub routing), on a free loopback port. DistributedPubSub needs the
/// cluster provider even when a test never joins; <see cref="JoinSelfAndAwaitUp"/> makes the node Up for the tests
/// that route through the mediator.
/// </summary>
public abstract class ClusterTestKit : TestKit
{
    /// <summary>Starts the node and waits until its cluster daemon answers: a system shut down before that waits 5 s
    /// in the coordinated-shutdown phase cluster-shutdown.</summary>
    protected ClusterTestKit(ITestOutputHelper output) : base(NodeConfig, "rlactors-tests", output)
    {
        var probe = CreateTestProbe();
        var cluster = Cluster.Get(Sys);
        cluster.Subscribe(probe, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.IMemberEvent));
        probe.ExpectMsg<ClusterEvent.CurrentClusterState>(TimeSpan.FromSeconds(10));
        cluster.Unsubscribe(probe);
    }

    /// <summary>The node configuration used by every actor test.</summary>
    public static Config NodeConfig => ConfigurationFactory.ParseString("""
            akka.actor.provider = cluster
            akka.remote.dot-netty.tcp.port = 0
            akka.remote.dot-netty.tcp.hostname = 127.0.0.1
            akka.cluster.min-nr-of-members = 1
            """)
        .WithFallback(ConfigurationFactory.ParseString(ClusterNode.Hocon));

    /// <summary>Joins the node to itself and waits until it is Up.</summary>
    protected void JoinSelfAndAwaitUp()
    {
        var cluster = Cluster.Get(Sys);
        var probe = CreateTestProbe();
        cluster.Subscribe(probe, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.MemberUp));
        cluster.Join(cluster.SelfAddress);
        probe.FishForMessage<ClusterEvent.MemberUp>(m => m.Member.Address.Equals(cluster.SelfAddress), TimeSpan.FromSeconds(15));
        cluster.Unsubscribe(probe);
    }
}
