using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using RlActors.Actors.Runtime.Weights;

namespace RlActors.Actors.Tests;

/// <summary>Test classes that measure the process (allocations) or start several cluster nodes with TLS: run alone, after
/// the parallel ones (GC.GetTotalAllocatedBytes counts every thread of the test host).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "serial (process-wide measurements, several nodes)";
}

/// <summary>The weight side channel over real loopback sockets: a <see cref="WeightServer"/>, <see cref="WeightClient"/>s,
/// and, for faults, a TCP proxy between them that corrupts, cuts or stalls the server's bytes.</summary>
[Collection(SerialCollection.Name)]
public sealed class WeightTransferTests
{
    private static byte[] Blob(int size, int seed)
    {
        var b = GC.AllocateUninitializedArray<byte>(size);
        new Random(seed).NextBytes(b);
        return b;
    }

    private static bool Same(byte[] a, byte[] b) => a.AsSpan().SequenceEqual(b);

    private static string Sha(byte[] b) => Convert.ToHexString(SHA256.HashData(b)).ToLowerInvariant();

    [Fact]
    public async Task A_300_MB_blob_arrives_intact_over_loopback_and_checked_against_its_sha256()
    {
        var blob = Blob(300 << 20, 1);
        using var server = WeightServer.Start();
        var r = server.Publish(7, blob);
        Assert.Equal((7L, (long)blob.Length, Sha(blob)), (r.Version, r.Size, r.Sha256));
        using var client = new WeightClient();
        var got = await client.FetchAsync(r);
        Assert.True(blob.AsSpan().SequenceEqual(got));
        Assert.Equal(1, server.Stats.Served);
        Assert.Equal(blob.Length, server.Stats.BytesSent);
        Assert.Equal(new long[] { 7 }, client.CachedVersions);
    }

    [Fact]
    public async Task Concurrent_requests_for_one_version_share_one_download()
    {
        var blob = Blob(20 << 20, 2);
        using var server = WeightServer.Start();
        var r = server.Publish(3, blob);
        using var client = new WeightClient();
        var all = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => client.FetchAsync(r)));
        Assert.All(all, a => Assert.Same(all[0], a));
        Assert.True(blob.AsSpan().SequenceEqual(all[0]));
        Assert.Equal(1, server.Stats.Served);
        Assert.Same(all[0], await client.FetchAsync(r)); // cached: no second download
        Assert.Equal(1, server.Stats.Served);
    }

    [Fact]
    public async Task Many_nodes_fetch_at_once_and_the_server_holds_one_copy()
    {
        const int nodes = 4, size = 40 << 20;
        var blob = Blob(size, 3);
        using var server = WeightServer.Start();
        var r = server.Publish(1, blob);
        var clients = Enumerable.Range(0, nodes).Select(_ => new WeightClient()).ToArray();
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var all = await Task.WhenAll(clients.Select(c => c.FetchAsync(r)));
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.All(all, a => Assert.True(blob.AsSpan().SequenceEqual(a)));
        Assert.Equal(nodes, server.Stats.Served);
        // Each client allocates its own copy; a server that copied the blob per transfer would double this.
        Assert.True(allocated < (nodes + 0.5) * size, $"allocated {allocated / 1e6:F0} MB for {nodes} fetches of {size / 1e6:F0} MB");
        foreach (var c in clients) c.Dispose();
    }

    [Fact]
    public async Task A_corrupted_and_a_truncated_transfer_are_detected_and_retried()
    {
        var blob = Blob(8 << 20, 4);
        using var server = WeightServer.Start();
        var r = server.Publish(5, blob);
        // Connection 1 flips one byte in the middle, connection 2 is cut after 3 MB, connection 3 passes everything.
        await using var proxy = FaultyProxy.Start(server.Endpoint, i => i switch { 0 => Fault.Flip(5 << 20), 1 => Fault.Cut(3 << 20), _ => Fault.None });
        using var client = new WeightClient(new WeightClientOptions { RetryDelay = TimeSpan.FromMilliseconds(20) });
        var got = await client.FetchAsync(r with { Endpoint = proxy.Endpoint });
        Assert.True(blob.AsSpan().SequenceEqual(got));
        Assert.Equal(2, client.Stats.FailedAttempts);
        Assert.Equal(3, proxy.Connections);
    }

    [Fact]
    public async Task A_transfer_that_is_always_corrupt_fails_naming_the_sha256_mismatch()
    {
        var blob = Blob(2 << 20, 5);
        using var server = WeightServer.Start();
        var r = server.Publish(9, blob);
        await using var proxy = FaultyProxy.Start(server.Endpoint, _ => Fault.Flip(1000));
        using var client = new WeightClient(new WeightClientOptions { Attempts = 3, RetryDelay = TimeSpan.FromMilliseconds(10) });
        var e = await Assert.ThrowsAsync<WeightFetchException>(() => client.FetchAsync(r with { Endpoint = proxy.Endpoint }));
        Assert.Contains("weights v9", e.Message);
        Assert.Contains("gave up after 3 attempts", e.Message);
        Assert.Contains("corrupt transfer", e.Message);
        Assert.Empty(client.CachedVersions);
    }

    [Fact]
    public async Task A_stalled_server_fails_the_fetch_within_the_timeout()
    {
        var blob = Blob(4 << 20, 6);
        using var server = WeightServer.Start();
        var r = server.Publish(2, blob);
        await using var proxy = FaultyProxy.Start(server.Endpoint, _ => Fault.Stall(1 << 20));
        using var client = new WeightClient(new WeightClientOptions
        {
            StallTimeout = TimeSpan.FromMilliseconds(400), Attempts = 2, RetryDelay = TimeSpan.FromMilliseconds(50),
        });
        var watch = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<WeightFetchException>(() => client.FetchAsync(r with { Endpoint = proxy.Endpoint }));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"gave up after {watch.Elapsed}");
        Assert.Contains("stalled", e.Message);
        Assert.Contains(proxy.Endpoint, e.Message);
    }

    [Fact]
    public async Task A_server_that_accepts_and_never_answers_fails_the_fetch_within_the_timeout()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start(); // connections complete in the backlog; nothing is ever sent
        var r = new WeightsRef(1, 10, new string('a', 64), $"127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}");
        using var client = new WeightClient(new WeightClientOptions { StallTimeout = TimeSpan.FromMilliseconds(300), Attempts = 2, RetryDelay = TimeSpan.FromMilliseconds(10) });
        var watch = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<WeightFetchException>(() => client.FetchAsync(r));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"gave up after {watch.Elapsed}");
        Assert.Contains("stalled", e.Message);
    }

    [Fact]
    public async Task The_client_keeps_only_the_latest_version_and_fetches_an_evicted_one_again()
    {
        using var server = WeightServer.Start();
        var (b1, b2) = (Blob(1 << 20, 7), Blob(1 << 20, 8));
        var (r1, r2) = (server.Publish(1, b1), server.Publish(2, b2));
        using var client = new WeightClient();
        await client.FetchAsync(r1);
        Assert.Equal(new long[] { 1 }, client.CachedVersions);
        await client.FetchAsync(r2);
        Assert.Equal(new long[] { 2 }, client.CachedVersions);
        Assert.True(Same(b1, await client.FetchAsync(r1)));
        Assert.Equal(3, server.Stats.Served);
        Assert.Equal(new long[] { 2 }, client.CachedVersions);
    }

    [Fact]
    public async Task A_withdrawn_or_evicted_blob_fails_at_once_without_retrying()
    {
        using var server = WeightServer.Start(new WeightServerOptions { KeepLatest = 2 });
        var rs = Enumerable.Range(1, 3).Select(v => server.Publish(v, Blob(1000, v))).ToArray();
        using var client = new WeightClient();
        var e = await Assert.ThrowsAsync<WeightFetchException>(() => client.FetchAsync(rs[0])); // evicted by the third
        Assert.Contains("does not serve this blob", e.Message);
        Assert.Equal(0, client.Stats.FailedAttempts);
        Assert.True(server.Withdraw(rs[1].Sha256));
        await Assert.ThrowsAsync<WeightFetchException>(() => client.FetchAsync(rs[1]));
        Assert.Equal(1000, (await client.FetchAsync(rs[2])).Length);
    }

    [Fact]
    public async Task A_client_without_the_cluster_secret_is_refused()
    {
        var blob = Blob(1 << 16, 9);
        using var server = WeightServer.Start(new WeightServerOptions { Secret = "s3cret" });
        var r = server.Publish(1, blob);
        using var wrong = new WeightClient(new WeightClientOptions { Secret = "guess" });
        var e = await Assert.ThrowsAsync<WeightFetchException>(() => wrong.FetchAsync(r));
        Assert.Contains("cluster secret does not match", e.Message);
        using var none = new WeightClient();
        await Assert.ThrowsAsync<WeightFetchException>(() => none.FetchAsync(r));
        using var right = new WeightClient(new WeightClientOptions { Secret = "s3cret" });
        Assert.True(Same(blob, await right.FetchAsync(r)));
        Assert.Equal(2, server.Stats.Refused);
    }

    [Fact]
    public async Task A_file_backed_blob_streams_into_a_file_and_is_verified()
    {
        string dir = Directory.CreateTempSubdirectory("rlw-").FullName;
        try
        {
            var blob = Blob(12 << 20, 10);
            string src = Path.Combine(dir, "v4.bin"), dst = Path.Combine(dir, "got.bin");
            File.WriteAllBytes(src, blob);
            using var server = WeightServer.Start(new WeightServerOptions { ChunkBytes = 1 << 20 });
            var r = server.PublishFile(4, src);
            Assert.Equal(Sha(blob), r.Sha256);
            // Cut once, so the file download also resumes.
            await using var proxy = FaultyProxy.Start(server.Endpoint, i => i == 0 ? Fault.Cut(5 << 20) : Fault.None);
            using var client = new WeightClient(new WeightClientOptions { RetryDelay = TimeSpan.FromMilliseconds(10) });
            await client.FetchToFileAsync(r with { Endpoint = proxy.Endpoint }, dst);
            Assert.True(blob.AsSpan().SequenceEqual(File.ReadAllBytes(dst)));
            Assert.False(File.Exists(dst + ".partial"));
            Assert.Equal(1, client.Stats.FailedAttempts);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void A_malformed_reference_is_refused_naming_the_field()
    {
        using var client = new WeightClient();
        Assert.Contains("sha256", Assert.Throws<ArgumentException>(() => { _ = client.FetchAsync(new WeightsRef(1, 5, "xyz", "127.0.0.1:1")); }).Message);
        Assert.Contains("host:port", Assert.Throws<ArgumentException>(() => { _ = client.FetchAsync(new WeightsRef(1, 5, new string('0', 64), "nowhere")); }).Message);
    }
}

/// <summary>What a <see cref="FaultyProxy"/> does to the server's bytes on one connection.</summary>
internal sealed record Fault(long At, FaultKind Kind)
{
    public static readonly Fault None = new(long.MaxValue, FaultKind.None);
    public static Fault Flip(long at) => new(at, FaultKind.Flip);
    public static Fault Cut(long at) => new(at, FaultKind.Cut);
    public static Fault Stall(long at) => new(at, FaultKind.Stall);
}

internal enum FaultKind { None, Flip, Cut, Stall }

/// <summary>A loopback TCP proxy in front of a weight server. Byte positions count the server's whole reply stream
/// (hello, header, blob), so faults at megabyte offsets land in the blob.</summary>
internal sealed class FaultyProxy : IAsyncDisposable
{
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource stop = new();
    private readonly List<Socket> open = new();
    private readonly Task loop;
    private int connections;

    private FaultyProxy(string upstream, Func<int, Fault> faults)
    {
        listener.Start();
        Endpoint = $"127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
        loop = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                Socket client;
                try { client = await listener.AcceptSocketAsync(stop.Token); } catch (Exception) { return; }
                var fault = faults(Interlocked.Increment(ref connections) - 1);
                _ = Task.Run(() => Pump(client, upstream, fault));
            }
        });
    }

    public static FaultyProxy Start(string upstream, Func<int, Fault> faults) => new(upstream, faults);
    public string Endpoint { get; }
    public int Connections => Volatile.Read(ref connections);

    private async Task Pump(Socket client, string upstream, Fault fault)
    {
        var (host, port) = (upstream[..upstream.LastIndexOf(':')], int.Parse(upstream[(upstream.LastIndexOf(':') + 1)..]));
        var server = new Socket(SocketType.Stream, ProtocolType.Tcp);
        lock (open) { open.Add(client); open.Add(server); }
        try
        {
            await server.ConnectAsync(host, port, stop.Token);
            var upstreamDone = Task.Run(async () =>
            {
                var up = new byte[256];
                try { int n; while ((n = await client.ReceiveAsync(up, SocketFlags.None, stop.Token)) > 0) await server.SendAsync(up.AsMemory(0, n), SocketFlags.None, stop.Token); }
                catch (Exception) { }
            });
            var buf = new byte[64 << 10];
            long pos = 0;
            while (true)
            {
                int n = await server.ReceiveAsync(buf, SocketFlags.None, stop.Token);
                if (n == 0) break;
                if (pos + n > fault.At)
                {
                    int k = (int)(fault.At - pos);
                    if (fault.Kind == FaultKind.Flip && k >= 0 && k < n) buf[k] ^= 0xFF;
                    if (fault.Kind is FaultKind.Cut or FaultKind.Stall && k >= 0)
                    {
                        await client.SendAsync(buf.AsMemory(0, k), SocketFlags.None, stop.Token);
                        if (fault.Kind == FaultKind.Stall) await Task.Delay(Timeout.Infinite, stop.Token);
                        break;
                    }
                }
                await client.SendAsync(buf.AsMemory(0, n), SocketFlags.None, stop.Token);
                pos += n;
            }
            // A graceful end: closing a socket with a receive pending resets it, and the client would lose bytes in flight.
            client.Shutdown(SocketShutdown.Send);
            await upstreamDone.WaitAsync(TimeSpan.FromSeconds(5), stop.Token);
        }
        catch (Exception) { }
        finally
        {
            client.Dispose();
            server.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        stop.Cancel();
        listener.Stop();
        lock (open) foreach (var s in open) s.Dispose();
        try { await loop; } catch (Exception) { }
    }
}
