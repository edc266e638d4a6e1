using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Akka.Pattern;
using Akka.Remote.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using RlActors.Actors.Capo;
using RlActors.Actors.Rewards;
using RlActors.Actors.Serialization;

namespace RlActors.Actors.Runtime;

/// <summary>Roles a node can take.</summary>
public static class Roles
{
    /// <summary>Runs the experiment coordinator and the learner (the host of <c>run</c>).</summary>
    public const string Learner = "learner";
    /// <summary>Runs sampler actors.</summary>
    public const string Sampler = "sampler";
    /// <summary>Runs a reward worker.</summary>
    public const string Reward = "reward";
    /// <summary>Runs GenPRM voter actors (CAPO critiques).</summary>
    public const string Voter = "voter";
    /// <summary>Runs branch-point trajectory explorer actors (flow experiments).</summary>
    public const string Explorer = "explorer";
    /// <summary>The roles of a GRPO host (every role but <see cref="Explorer"/>, which only flow experiments use).</summary>
    public static readonly IReadOnlyList<string> All = [Learner, Sampler, Reward, Voter];
}

/// <summary>How to start one cluster node.</summary>
/// <param name="Hostname">Address to bind (and to advertise when <paramref name="PublicHostname"/> is null).</param>
/// <param name="Port">TCP port; 0 picks a free one.</param>
/// <param name="PublicHostname">Address other nodes use to reach this one.</param>
/// <param name="Roles">Roles of this node.</param>
/// <param name="Seeds">Seed nodes as host:port; empty makes this node its own seed (a new cluster).</param>
/// <param name="Plugins">Reward plug-in assemblies available on this node.</param>
/// <param name="SamplersPerNode">Sampler actors to start when the node has the sampler role.</param>
/// <param name="Device">Torch device of the samplers.</param>
/// <param name="VotersPerNode">GenPRM voter actors to start when the node has the voter role.</param>
/// <param name="ExplorersPerNode">Flow explorer actors to start when the node has the explorer role.</param>
/// <param name="Security">TLS certificate and cluster secret (issue 14); null: plain TCP, no secret.</param>
public sealed record NodeOptions(string Hostname, int Port, string? PublicHostname, IReadOnlyList<string> Roles,
    IReadOnlyList<string> Seeds, IReadOnlyList<string> Plugins, int SamplersPerNode = 1, string Device = "cpu", int VotersPerNode = 4,
    int ExplorersPerNode = 1, ClusterSecurity? Security = null)
{
    /// <summary>TCP port of this node's weight server (<c>rlactors.weights.port</c>; null: a free port), for firewalls between machines.</summary>
    public int? WeightsPort { get; init; }
}

/// <summary>Composes an Akka.Cluster node with Akka.Hosting: remoting, clustering with roles, pub-sub, the binary
/// protocol serializer, and the actors of the node's worker roles.</summary>
public static class ClusterNode
{
    /// <summary>Actor system name shared by every node of a cluster.</summary>
    public const string SystemName = "rlactors";

    /// <summary>Largest remote message. Policy weights travel whole (a d64 policy is ~0.45 MB); set deliberately, because
    /// an oversized message is dropped with only a log line.</summary>
    public const int MaximumFrameSize = 32 * 1024 * 1024;

    /// <summary>The node's HOCON: protocol serializer bindings, frame size, cluster settings (tests start their ActorSystem with it).</summary>
    public static string Hocon => $$"""
        akka {
          loglevel = {{Environment.GetEnvironmentVariable("RLACTORS_AKKA_LOGLEVEL") ?? "WARNING"}}
          stdout-loglevel = WARNING
          actor {
            serializers { rl = "{{typeof(ProtocolSerializer).AssemblyQualifiedName}}" }
            serialization-bindings { "{{typeof(Protocol.IRlMessage).AssemblyQualifiedName}}" = rl }
            serialization-identifiers { "{{typeof(ProtocolSerializer).AssemblyQualifiedName}}" = {{ProtocolSerializer.Id}} }
          }
          remote.dot-netty.tcp {
            maximum-frame-size = {{MaximumFrameSize}}b
            send-buffer-size = {{MaximumFrameSize}}b
            receive-buffer-size = {{MaximumFrameSize}}b
          }
          cluster {
            log-info = off
            downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
            # Majority counted over learner nodes only: the host's side stays up when a worker dies. By default a host and
            # one unreachable worker are a tie that keeps the lower address, and a host whose address sorted after its
            # dead worker's downed itself ~25 s later and hung.
            split-brain-resolver.keep-majority.role = {{Roles.Learner}}
            pub-sub.routing-logic = round-robin
          }
          coordinated-shutdown.exit-clr = off
        }
        """;

    /// <summary>Builds (does not start) the node's host. <paramref name="configure"/> may start more actors.</summary>
    /// <remarks>Log lines whose message contains one of <paramref name="quietMessages"/> are dropped (Akka's log filter).</remarks>
    public static IHost Build(NodeOptions o, Action<ActorSystem, IActorRegistry>? configure = null, string? extraHocon = null,
        IReadOnlyList<string>? quietMessages = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddAkka(SystemName, (akka, _) =>
        {
            akka.AddHocon(Hocon, HoconAddMode.Prepend);
            if (extraHocon is not null) akka.AddHocon(extraHocon, HoconAddMode.Prepend);
            if (o.WeightsPort is int weightsPort) akka.AddHocon($"rlactors.weights.port = {weightsPort}", HoconAddMode.Prepend);
            if (quietMessages is { Count: > 0 })
            {
                var filters = new Akka.Event.LogFilterBuilder();
                foreach (var m in quietMessages) filters.ExcludeMessageContaining(m);
                akka.AddSetup(filters.Build());
            }
            var remote = new RemoteOptions { HostName = o.Hostname, Port = o.Port, PublicHostName = o.PublicHostname ?? o.Hostname };
            // Security (issue 14): TLS on remoting and the cluster secret's handshake; they change the address protocol.
            var security = o.Security ?? ClusterSecurity.None;
            security.ApplyTls(remote);
            if (security.UsesSecret) akka.AddHocon(security.SecretHocon, HoconAddMode.Prepend);
            akka.WithRemoting(remote);
            var self = $"{security.Protocol}://{SystemName}@{o.PublicHostname ?? o.Hostname}:{o.Port}";
            akka.WithClustering(new ClusterOptions
            {
                Roles = o.Roles.ToArray(),
                SeedNodes = o.Seeds.Count == 0 ? [self] : o.Seeds.Select(s => $"{security.Protocol}://{SystemName}@{s}").ToArray(),
            });
            akka.WithDistributedPubSub(role: null!);
            akka.WithActors((system, registry) =>
            {
                if (o.Roles.Contains(Roles.Reward))
                    system.ActorOf(RewardWorkerActor.Props(o.Plugins), "reward");
                if (o.Roles.Contains(Roles.Voter))
                    system.ActorOf(VoterNodeActor.Props(o.VotersPerNode), "voter");
                string node = $"{o.PublicHostname ?? o.Hostname}:{o.Port}";
                if (o.Roles.Contains(Roles.Sampler)) StartWorkers(system, node, "sampler", o.SamplersPerNode, () => new Grpo.GrpoSampler(o.Device));
                if (o.Roles.Contains(Roles.Explorer)) StartWorkers(system, node, "explorer", o.ExplorersPerNode, () => new Flow.FlowExplorer());
                configure?.Invoke(system, registry);
            });
        });
        return builder.Build();
    }

    /// <summary>Starts <paramref name="count"/> pull-workers named <paramref name="name"/>-i, each under a backoff supervisor that
    /// restarts it after a failure.</summary>
    private static void StartWorkers(ActorSystem system, string node, string name, int count, Func<Workers.IWorkHandler> handler)
    {
        for (int i = 0; i < count; i++)
            system.ActorOf(BackoffSupervisor.Props(Backoff.OnFailure(Workers.PullWorkerActor.Props($"{node}/{name}-{i}", handler), name,
                TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10), 0.2, maxNrOfRetries: 20)), $"{name}-{i}");
    }

    /// <summary>Completes when this node is Up in the cluster.</summary>
    public static Task WhenUp(ActorSystem system, CancellationToken ct)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Cluster.Get(system).RegisterOnMemberUp(() => tcs.TrySetResult());
        ct.Register(() => tcs.TrySetCanceled(ct));
        return tcs.Task;
    }

    /// <summary>A free TCP port on <paramref name="hostname"/>.</summary>
    public static int FreePort(string hostname = "127.0.0.1")
    {
        // A host name (not an address) is resolved by remoting; a port free on every interface is free on its address too.
        var ip = hostname == "localhost" ? System.Net.IPAddress.Loopback
            : System.Net.IPAddress.TryParse(hostname, out var parsed) ? parsed : System.Net.IPAddress.Any;
        var l = new System.Net.Sockets.TcpListener(ip, 0);
        l.Start();
        int port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    /// <summary>True when <paramref name="port"/> can be bound on <paramref name="hostname"/> now.</summary>
    public static bool PortIsFree(string hostname, int port)
    {
        try
        {
            var ip = hostname is "localhost" ? System.Net.IPAddress.Loopback : System.Net.IPAddress.Parse(hostname);
            var l = new System.Net.Sockets.TcpListener(ip, port);
            l.Start();
            l.Stop();
            return true;
        }
        catch (System.Net.Sockets.SocketException) { return false; }
        catch (FormatException) { return true; } // a host name: let remoting resolve it
    }
}
