using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace RlActors.Actors.Runtime.Weights;

/// <summary>
/// Where a node fetches one published weight blob: the version it belongs to, its size in bytes, the SHA-256 of its bytes
/// (lower-case hex; a blob is served, fetched and cached by this hash) and the <see cref="WeightServer"/> that serves it
/// (<c>host:port</c>). It travels inside a protocol message instead of the bytes (see <see cref="WeightDistribution"/>).
/// </summary>
public sealed record WeightsRef(long Version, long Size, string Sha256, string Endpoint)
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the field when the reference cannot be fetched as given.</summary>
    public void Validate()
    {
        if (Size < 0) throw new ArgumentException($"weights v{Version}: size {Size} is negative");
        if (Sha256.Length != 64 || !Sha256.All(Uri.IsHexDigit)) throw new ArgumentException($"weights v{Version}: sha256 '{Sha256}' is not 64 hex digits");
        WeightWire.ParseEndpoint(Endpoint);
    }
}

/// <summary>Thrown when a blob cannot be fetched: it names the version, size, endpoint and why (every failed attempt).</summary>
public sealed class WeightFetchException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The side channel's wire format (TCP, little-endian). On connect the server sends <c>magic(4) nonce(16)</c>; the client
/// sends <c>magic(4) sha256(32) offset(8) mac(32)</c>, where mac is HMAC-SHA256(key, nonce ‖ sha256 ‖ offset) with the
/// key derived from the cluster secret (all zeros without one); the server answers <c>status(1) size(8)</c> and, when the
/// status is <see cref="Ok"/>, the blob's bytes from <c>offset</c> to its end, then closes. A client resumes a broken
/// transfer from the bytes it has; the SHA-256 over the whole blob is checked at the end.
/// </summary>
internal static class WeightWire
{
    public const uint Magic = 0x31574C52; // "RLW1"
    public const int NonceSize = 16, ShaSize = 32, MacSize = 32;
    public const int HelloSize = 4 + NonceSize, RequestSize = 4 + ShaSize + 8 + MacSize, ReplySize = 1 + 8;
    public const byte Ok = 0, NotFound = 1, Unauthorized = 2, BadRequest = 3;

    /// <summary>The HMAC key of a cluster secret (null or empty: no secret, an empty key).</summary>
    public static byte[] Key(string? secret) => string.IsNullOrEmpty(secret)
        ? []
        : SHA256.HashData(Encoding.UTF8.GetBytes("rlactors-weights-v1:" + secret));

    public static byte[] Mac(byte[] key, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> sha, long offset)
    {
        Span<byte> data = stackalloc byte[NonceSize + ShaSize + 8];
        nonce.CopyTo(data);
        sha.CopyTo(data[NonceSize..]);
        BitConverter.TryWriteBytes(data[(NonceSize + ShaSize)..], offset);
        return key.Length == 0 ? new byte[MacSize] : HMACSHA256.HashData(key, data);
    }

    /// <summary>Splits <c>host:port</c> (IPv6 as <c>[::1]:port</c>).</summary>
    public static (string Host, int Port) ParseEndpoint(string endpoint)
    {
        int colon = endpoint.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(endpoint[(colon + 1)..], out int port) || port is <= 0 or > 65535)
            throw new ArgumentException($"weight endpoint '{endpoint}' is not host:port");
        string host = endpoint[..colon];
        if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
        return (host, port);
    }

    public static string Endpoint(string host, int port) =>
        IPAddress.TryParse(host, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{host}]:{port}" : $"{host}:{port}";

    public static string Hex(ReadOnlySpan<byte> hash) => Convert.ToHexString(hash).ToLowerInvariant();
}
