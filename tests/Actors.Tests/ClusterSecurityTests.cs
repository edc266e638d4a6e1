using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Akka.Cluster;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using RlActors.Actors.Runtime;

namespace RlActors.Actors.Tests;

/// <summary>TLS and the cluster secret on real cluster nodes (<see cref="ClusterNode.Build"/>, loopback TCP): nodes with the
/// certificate (or secret) join, a node without it is refused and the cluster is untouched.</summary>
[Collection(SerialCollection.Name)]
public sealed class ClusterSecurityTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("rl-tls-").FullName;
    private readonly List<IHost> hosts = new();

    /// <summary>A self-signed certificate with its key, as <c>openssl req -x509</c> + <c>openssl pkcs12 -export</c> make it.</summary>
    private string Certificate(string name, string password, bool withKey = true)
    {
        using var rsa = RSA.Create(2048);
        var req = new CertificateRequest($"CN={name}", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var cert = req.CreateSelfSigned(DateTimeOffset.Now.AddDays(-1), DateTimeOffset.Now.AddDays(30));
        string path = Path.Combine(dir, name + ".pfx");
        File.WriteAllBytes(path, withKey ? cert.Export(X509ContentType.Pfx, password) : X509CertificateLoader.LoadCertificate(cert.Export(X509ContentType.Cert)).Export(X509ContentType.Pfx, password));
        return path;
    }

    private async Task<(ActorSystem System, int Port)> Node(ClusterSecurity? security, int? seedPort = null, bool waitUp = true)
    {
        int port = ClusterNode.FreePort();
        var host = ClusterNode.Build(new NodeOptions("127.0.0.1", port, null, ["learner"], seedPort is { } s ? [$"127.0.0.1:{s}"] : [], [], Security: security));
        hosts.Add(host);
        await host.StartAsync();
        var system = host.Services.GetRequiredService<ActorSystem>();
        if (waitUp) await ClusterNode.WhenUp(system, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));
        return (system, port);
    }

    private static int UpMembers(ActorSystem system) => Cluster.Get(system).State.Members.Count(m => m.Status == MemberStatus.Up);

    private static async Task AssertNeverJoins(ActorSystem intruder, ActorSystem host, int members, TimeSpan during)
    {
        var up = ClusterNode.WhenUp(intruder, CancellationToken.None);
        var deadline = DateTime.UtcNow + during;
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(up.IsCompleted, "the node without the credentials joined");
            Assert.Equal(members, Cluster.Get(host).State.Members.Count);
            Assert.Empty(Cluster.Get(host).State.Unreachable);
            await Task.Delay(250);
        }
    }

    [Fact]
    public async Task Nodes_with_the_certificate_join_over_mutual_TLS_and_nodes_without_it_are_refused()
    {
        var tls = new ClusterSecurity(Certificate("rlactors-cluster", "pw-1"), "pw-1");
        var (a, aPort) = await Node(tls);
        Assert.Equal("akka.ssl.tcp", Cluster.Get(a).SelfAddress.Protocol);
        var (b, _) = await Node(tls, aPort);
        Assert.Equal(2, UpMembers(a));

        var (plain, _) = await Node(null, aPort, waitUp: false);                                           // no certificate
        var (other, _) = await Node(new ClusterSecurity(Certificate("intruder", "x"), "x"), aPort, waitUp: false); // another certificate
        await Task.WhenAll(AssertNeverJoins(plain, a, 2, TimeSpan.FromSeconds(4)), AssertNeverJoins(other, a, 2, TimeSpan.FromSeconds(4)));
        Assert.Equal(2, UpMembers(b));
    }

    [Fact]
    public async Task Nodes_with_the_cluster_secret_join_and_a_node_with_another_secret_or_none_is_refused()
    {
        var secret = new ClusterSecurity(Secret: "correct horse");
        var (a, aPort) = await Node(secret);
        Assert.Equal("akka.secret.tcp", Cluster.Get(a).SelfAddress.Protocol);
        var (b, _) = await Node(secret, aPort);
        Assert.Equal(2, UpMembers(a));

        var (wrong, _) = await Node(new ClusterSecurity(Secret: "battery staple"), aPort, waitUp: false);
        var (none, _) = await Node(null, aPort, waitUp: false);
        await Task.WhenAll(AssertNeverJoins(wrong, a, 2, TimeSpan.FromSeconds(4)), AssertNeverJoins(none, a, 2, TimeSpan.FromSeconds(4)));
        Assert.Equal(2, UpMembers(b));
    }

    [Fact]
    public async Task Certificate_and_secret_together_form_a_cluster()
    {
        var both = new ClusterSecurity(Certificate("rlactors-cluster", "pw"), "pw", "s3cret");
        var (a, aPort) = await Node(both);
        Assert.Equal("akka.secret.ssl.tcp", Cluster.Get(a).SelfAddress.Protocol);
        await Node(both, aPort);
        Assert.Equal(2, UpMembers(a));
    }

    [Fact]
    public void A_missing_or_unreadable_certificate_is_refused_naming_its_path()
    {
        string missing = Path.Combine(dir, "nope.pfx");
        Assert.Equal($"cluster certificate {missing}: no such file", Assert.Throws<ClusterSecurityException>(() => new ClusterSecurity(missing, "pw").Validate()).Message);

        string good = Certificate("rlactors-cluster", "right");
        var wrong = Assert.Throws<ClusterSecurityException>(() => new ClusterSecurity(good, "wrong").Validate());
        Assert.StartsWith($"cluster certificate {good}: cannot be read with the given password", wrong.Message);

        string garbage = Path.Combine(dir, "garbage.pfx");
        File.WriteAllText(garbage, "not a certificate");
        Assert.Contains($"cluster certificate {garbage}: cannot be read", Assert.Throws<ClusterSecurityException>(() => new ClusterSecurity(garbage).Validate()).Message);

        string keyless = Certificate("keyless", "pw", withKey: false);
        Assert.Equal($"cluster certificate {keyless}: has no private key (export it with its key: openssl pkcs12 -export -inkey ...)",
            Assert.Throws<ClusterSecurityException>(() => new ClusterSecurity(keyless, "pw").Validate()).Message);

        new ClusterSecurity(good, "right").Validate();
    }

    public void Dispose()
    {
        foreach (var h in Enumerable.Reverse(hosts))
        {
            try { h.StopAsync().Wait(TimeSpan.FromSeconds(15)); } catch (AggregateException) { }
            h.Dispose();
        }
        Directory.Delete(dir, true);
    }
}
