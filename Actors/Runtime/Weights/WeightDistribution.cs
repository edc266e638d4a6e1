using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Configuration;

namespace RlActors.Actors.Runtime.Weights;

/// <summary>
/// Settings of the weight side channel, read from HOCON (<c>rlactors.weights.*</c>, all optional):
/// <code>
/// rlactors.weights {
///   offload-threshold = auto   # blobs larger than this (bytes, e.g. 4 MiB) travel by reference; auto: the frame size less 1 MiB (at least half of it)
///   hostname = ""              # address to bind; default: akka.remote.dot-netty.tcp.hostname
///   public-hostname = ""       # address nodes use; default: akka.remote.dot-netty.tcp.public-hostname, else the bind address
///   port = 0                   # 0 picks a free port
///   server-keep-latest = 8     # blobs the host serves at once (oldest withdrawn first)
///   client-keep-latest = 1     # versions a node keeps in memory
///   connect-timeout = 3 s
///   stall-timeout = 3 s        # no byte for this long fails an attempt
///   attempts = 3               # so a fetch gives up after about 10 s at most
/// }
/// rlactors.cluster.secret = "" # when set, the weight server only serves clients that know it
/// </code>
/// </summary>
public sealed record WeightDistributionSettings(long OffloadThreshold, string Hostname, string PublicHostname, int Port,
    int ServerKeepLatest, WeightClientOptions Client, string? Secret)
{
    /// <summary>With <c>offload-threshold = auto</c>, a blob up to the frame size less this (and at least half the frame) goes inline.</summary>
    public const long AutoMargin = 1 << 20;

    /// <summary>Reads the settings from an actor system's configuration.</summary>
    public static WeightDistributionSettings From(Config config)
    {
        long frame = config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size", 128_000) ?? 128_000;
        string threshold = config.GetString("rlactors.weights.offload-threshold", "auto");
        long offload = threshold is "auto" or "" ? Math.Max(frame / 2, frame - AutoMargin)
            : config.GetByteSize("rlactors.weights.offload-threshold") ?? throw new ConfigurationException(
                $"rlactors.weights.offload-threshold: '{threshold}' is not a size in bytes (e.g. 4 MiB) or auto");
        string remoteHost = config.GetString("akka.remote.dot-netty.tcp.hostname", "127.0.0.1");
        string host = Or(config.GetString("rlactors.weights.hostname", ""), Or(remoteHost, "127.0.0.1"));
        string publicHost = Or(config.GetString("rlactors.weights.public-hostname", ""),
            Or(config.GetString("akka.remote.dot-netty.tcp.public-hostname", ""), host is "0.0.0.0" or "::" ? System.Net.Dns.GetHostName() : host));
        string? secret = config.GetString("rlactors.cluster.secret", "");
        var client = new WeightClientOptions
        {
            ConnectTimeout = config.GetTimeSpan("rlactors.weights.connect-timeout", TimeSpan.FromSeconds(3)),
            StallTimeout = config.GetTimeSpan("rlactors.weights.stall-timeout", TimeSpan.FromSeconds(3)),
            Attempts = config.GetInt("rlactors.weights.attempts", 3),
            KeepLatest = config.GetInt("rlactors.weights.client-keep-latest", 1),
            Secret = string.IsNullOrEmpty(secret) ? null : secret,
        };
        return new WeightDistributionSettings(offload, host, publicHost, config.GetInt("rlactors.weights.port", 0),
            config.GetInt("rlactors.weights.server-keep-latest", 8), client, client.Secret);
    }

    private static string Or(string? a, string b) => string.IsNullOrWhiteSpace(a) ? b : a;
}

/// <summary>
/// The weight side channel of one actor system: a <see cref="WeightServer"/> (started on first use, on the node's remoting
/// address) that serves blobs too large for one remote message, and a <see cref="WeightClient"/> that fetches them.
/// The protocol serializer calls <see cref="Offload"/> when a weights message is larger than
/// <see cref="WeightDistributionSettings.OffloadThreshold"/>, so the message carries a <see cref="WeightsRef"/> instead of the
/// bytes; the receiving actor turns it back into bytes with <see cref="FetchAsync"/>. Both stop with the actor system.
/// </summary>
public sealed class WeightDistribution : IExtension
{
    private readonly Lazy<WeightServer> server;
    private readonly Lazy<WeightClient> client;
    private readonly ConditionalWeakTable<byte[], WeightsRef> published = new();

    /// <summary>Created by <see cref="Get"/>.</summary>
    public WeightDistribution(ExtendedActorSystem system)
    {
        Settings = WeightDistributionSettings.From(system.Settings.Config);
        var s = Settings;
        server = new Lazy<WeightServer>(() => WeightServer.Start(new WeightServerOptions
        {
            Hostname = s.Hostname, PublicHostname = s.PublicHostname, Port = s.Port, KeepLatest = s.ServerKeepLatest, Secret = s.Secret,
        }));
        client = new Lazy<WeightClient>(() => new WeightClient(s.Client));
        system.RegisterOnTermination(() =>
        {
            if (server.IsValueCreated) server.Value.Dispose();
            if (client.IsValueCreated) client.Value.Dispose();
        });
    }

    /// <summary>The extension of <paramref name="system"/>.</summary>
    public static WeightDistribution Get(ActorSystem system) => system.WithExtension<WeightDistribution, WeightDistributionProvider>();

    /// <summary>The settings in force.</summary>
    public WeightDistributionSettings Settings { get; }

    /// <summary>This node's server (started on first use).</summary>
    public WeightServer Server => server.Value;

    /// <summary>This node's client (one per actor system, so its samplers share downloads and the cache).</summary>
    public WeightClient Client => client.Value;

    /// <summary>True when a blob of <paramref name="size"/> bytes should travel by reference.</summary>
    public bool ShouldOffload(long size) => size > Settings.OffloadThreshold;

    /// <summary>Publishes <paramref name="bytes"/> as <paramref name="version"/> on this node's server, once per array (a message
    /// serialized again for another node reuses the reference while the server still serves it).</summary>
    public WeightsRef Offload(long version, byte[] bytes)
    {
        lock (published)
        {
            if (published.TryGetValue(bytes, out var r) && r.Version == version && Server.Serves(r.Sha256)) return r;
            r = Server.Publish(version, bytes);
            published.AddOrUpdate(bytes, r);
            return r;
        }
    }

    /// <summary>The bytes behind <paramref name="r"/>, fetched once per node and checked against its SHA-256
    /// (<see cref="WeightClient.FetchAsync"/>).</summary>
    public Task<byte[]> FetchAsync(WeightsRef r, CancellationToken ct = default) => Client.FetchAsync(r, ct);
}

/// <summary>Akka extension id of <see cref="WeightDistribution"/>.</summary>
public sealed class WeightDistributionProvider : ExtensionIdProvider<WeightDistribution>
{
    /// <inheritdoc />
    public override WeightDistribution CreateExtension(ExtendedActorSystem system) => new(system);
}
