using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Remote.Hosting;
using Akka.Remote.Transport.DotNetty;

namespace RlActors.Actors.Runtime;

/// <summary>
/// Security of a cluster that spans machines (docs/runtime.md, "Securing a multi-machine cluster"). Every node of the cluster
/// is started with the same settings:
/// <list type="bullet">
/// <item><see cref="CertificatePath"/> (a PKCS#12 <c>.pfx</c> with its private key) and <see cref="CertificatePassword"/>: remoting
/// runs over mutual TLS, and a peer is accepted only when it presents this certificate (pinned by thumbprint) or one of
/// <see cref="TrustedThumbprints"/>; a process without it cannot open a connection.</item>
/// <item><see cref="Secret"/>: every association must first prove knowledge of the secret (HMAC challenge, see
/// <see cref="SecretTransportAdapterProvider"/>); the weight side channel serves only clients that know it.</item>
/// </list>
/// Either can be used alone; a null setting is off. Remoting stays on loopback unless the node is bound elsewhere.
/// </summary>
/// <param name="CertificatePath">Path of the node certificate (.pfx), or null for plain TCP.</param>
/// <param name="CertificatePassword">Password of the .pfx (null or empty when it has none).</param>
/// <param name="Secret">Cluster secret shared by every node, or null.</param>
/// <param name="TrustedThumbprints">Thumbprints (SHA-1 hex) of further peer certificates to accept, e.g. one per machine.</param>
public sealed record ClusterSecurity(string? CertificatePath = null, string? CertificatePassword = null, string? Secret = null,
    IReadOnlyList<string>? TrustedThumbprints = null)
{
    /// <summary>No TLS, no secret (the default: a loopback cluster).</summary>
    public static readonly ClusterSecurity None = new();

    /// <summary>True when remoting runs over TLS.</summary>
    public bool UsesTls => !string.IsNullOrEmpty(CertificatePath);

    /// <summary>True when associations must prove the cluster secret.</summary>
    public bool UsesSecret => !string.IsNullOrEmpty(Secret);

    /// <summary>The Akka address protocol of a node with these settings (<c>akka.tcp</c>, <c>akka.ssl.tcp</c>,
    /// <c>akka.secret.tcp</c> or <c>akka.secret.ssl.tcp</c>): seed addresses must use it.</summary>
    public string Protocol => "akka." + (UsesSecret ? "secret." : "") + (UsesTls ? "ssl." : "") + "tcp";

    /// <summary>Loads the certificate, with an error that names the path for a missing file, a wrong password, a file that is
    /// not PKCS#12, a certificate without private key or one outside its validity period.</summary>
    /// <exception cref="ClusterSecurityException">The certificate cannot be used.</exception>
    public X509Certificate2 LoadCertificate()
    {
        string path = CertificatePath ?? throw new InvalidOperationException("no certificate path");
        if (!File.Exists(path)) throw new ClusterSecurityException($"cluster certificate {path}: no such file");
        X509Certificate2 cert;
        try { cert = X509CertificateLoader.LoadPkcs12FromFile(path, string.IsNullOrEmpty(CertificatePassword) ? null : CertificatePassword); }
        catch (CryptographicException e)
        {
            throw new ClusterSecurityException($"cluster certificate {path}: cannot be read with the given password, or it is not a PKCS#12 (.pfx) file ({e.Message.TrimEnd('.')})", e);
        }
        if (!cert.HasPrivateKey) throw new ClusterSecurityException($"cluster certificate {path}: has no private key (export it with its key: openssl pkcs12 -export -inkey ...)");
        var now = DateTime.Now;
        if (now < cert.NotBefore || now > cert.NotAfter)
            throw new ClusterSecurityException($"cluster certificate {path}: valid only from {cert.NotBefore:u} to {cert.NotAfter:u}");
        return cert;
    }

    /// <summary>Checks the settings now (so a command can refuse them before it starts anything).</summary>
    /// <exception cref="ClusterSecurityException">Naming what is wrong.</exception>
    public void Validate()
    {
        if (!UsesTls && !string.IsNullOrEmpty(CertificatePassword)) throw new ClusterSecurityException("a certificate password was given without a certificate path");
        if (UsesTls) LoadCertificate().Dispose();
        foreach (var t in TrustedThumbprints ?? [])
            if (t.Length != 40 || !t.All(Uri.IsHexDigit)) throw new ClusterSecurityException($"trusted certificate thumbprint '{t}' is not 40 hex digits");
    }

    /// <summary>Sets TLS on the node's remoting options (mutual authentication, peers pinned by thumbprint).</summary>
    internal void ApplyTls(RemoteOptions remote)
    {
        if (!UsesTls) return;
        var cert = LoadCertificate();
        var pinned = new[] { cert.Thumbprint }.Concat(TrustedThumbprints ?? []).ToArray();
        remote.EnableSsl = true;
        remote.Ssl = new SslOptions
        {
            X509Certificate = cert,
            SuppressValidation = false,
            RequireMutualAuthentication = true,
            ValidateCertificateHostname = false,
            CustomValidator = CertificateValidation.PinnedCertificate(pinned),
        };
    }

    /// <summary>HOCON of the secret: the secret transport adapter on the TCP transport and the key it (and the weight side
    /// channel) reads. Empty without a secret. (The adapter's type name has no spaces: Akka reads it back as the value's
    /// HOCON text, which quotes a value with spaces.)</summary>
    internal string SecretHocon => !UsesSecret ? "" : $$"""
        rlactors.cluster.secret = "{{Secret!.Replace("\\", "\\\\").Replace("\"", "\\\"")}}"
        akka.remote.adapters.secret = "{{typeof(SecretTransportAdapterProvider).FullName}},{{typeof(SecretTransportAdapterProvider).Assembly.GetName().Name}}"
        akka.remote.dot-netty.tcp.applied-adapters = [secret]
        """;
}

/// <summary>The cluster's security settings cannot be used (a missing or unreadable certificate, ...): bad input.</summary>
public sealed class ClusterSecurityException(string message, Exception? inner = null) : Exception(message, inner);
