using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace RlActors.Actors.Runtime.Weights;

/// <summary>How a <see cref="WeightServer"/> listens and what it keeps.</summary>
public sealed record WeightServerOptions
{
    /// <summary>Address to bind (an IP address or a host name); <c>0.0.0.0</c> listens on every interface.</summary>
    public string Hostname { get; init; } = "127.0.0.1";
    /// <summary>TCP port; 0 picks a free one.</summary>
    public int Port { get; init; }
    /// <summary>Host name that nodes use to reach this server (in <see cref="WeightsRef.Endpoint"/>); null: <see cref="Hostname"/>.</summary>
    public string? PublicHostname { get; init; }
    /// <summary>Blobs served at once; publishing one more withdraws the oldest (a transfer already under way completes).</summary>
    public int KeepLatest { get; init; } = 8;
    /// <summary>Cluster secret: a request must carry an HMAC of the server's nonce made with it. Null: no check.</summary>
    public string? Secret { get; init; }
    /// <summary>A client must send its request within this time after connecting.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>A client that takes no bytes for this long is dropped (its socket is closed).</summary>
    public TimeSpan SendStallTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Bytes per send call (and per read of a file-backed blob).</summary>
    public int ChunkBytes { get; init; } = 4 << 20;
}

/// <summary>Counters of a <see cref="WeightServer"/> (read at any time).</summary>
/// <param name="Published">Blobs published so far.</param>
/// <param name="Served">Transfers sent to their end.</param>
/// <param name="Active">Transfers under way now.</param>
/// <param name="BytesSent">Blob bytes sent, over all transfers.</param>
/// <param name="Refused">Requests refused (unknown blob, wrong secret, malformed).</param>
public sealed record WeightServerStats(long Published, long Served, long Active, long BytesSent, long Refused);

/// <summary>
/// Serves the bytes of published weight blobs over a plain TCP side channel, so that weights of any size reach nodes
/// without passing through one remote message (wire format: <see cref="WeightWire"/>). A blob is published once, from a
/// byte array (kept by reference, never copied) or from a file (read in chunks for each transfer, so the operating system's
/// page cache holds the only copy); any number of transfers read the same buffer, so the host never holds a copy per node.
/// Blobs are addressed by their SHA-256. Thread-safe.
/// </summary>
public sealed class WeightServer : IDisposable
{
    private readonly WeightServerOptions options;
    private readonly Socket listener;
    private readonly byte[] key;
    private readonly CancellationTokenSource stop = new();
    private readonly ConcurrentDictionary<string, Blob> blobs = new(StringComparer.Ordinal);
    private readonly Queue<string> order = new();
    private readonly object gate = new();
    private readonly Task acceptLoop;
    private long published, served, active, bytesSent, refused;

    private WeightServer(WeightServerOptions options)
    {
        if (options.KeepLatest < 1) throw new ArgumentException($"weight server: keep-latest {options.KeepLatest} must be at least 1");
        this.options = options;
        key = WeightWire.Key(options.Secret);
        var ip = options.Hostname is "localhost" ? IPAddress.Loopback
            : IPAddress.TryParse(options.Hostname, out var parsed) ? parsed
            : Dns.GetHostAddresses(options.Hostname).OrderBy(a => a.AddressFamily != AddressFamily.InterNetwork).FirstOrDefault()
              ?? throw new ArgumentException($"weight server: hostname '{options.Hostname}' does not resolve");
        listener = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(new IPEndPoint(ip, options.Port));
            listener.Listen(512);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new IOException($"weight server: cannot listen on {WeightWire.Endpoint(options.Hostname, options.Port)}: {e.Message}", e);
        }
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        Endpoint = WeightWire.Endpoint(options.PublicHostname ?? options.Hostname, port);
        acceptLoop = Task.Run(AcceptLoop);
    }

    /// <summary>Starts a server listening now.</summary>
    public static WeightServer Start(WeightServerOptions? options = null) => new(options ?? new WeightServerOptions());

    /// <summary>Where nodes reach this server (<c>host:port</c>).</summary>
    public string Endpoint { get; }

    /// <summary>The server's counters.</summary>
    public WeightServerStats Stats => new(Interlocked.Read(ref published), Interlocked.Read(ref served), Interlocked.Read(ref active),
        Interlocked.Read(ref bytesSent), Interlocked.Read(ref refused));

    /// <summary>Serves <paramref name="bytes"/> as version <paramref name="version"/>. The array is kept by reference and
    /// must not change afterwards. Publishing the same bytes again returns the same reference.</summary>
    public WeightsRef Publish(long version, byte[] bytes)
    {
        string sha = WeightWire.Hex(SHA256.HashData(bytes));
        return Add(new MemoryBlob(version, sha, bytes));
    }

    /// <summary>Serves the file at <paramref name="path"/> (any size) as version <paramref name="version"/>; the file must
    /// not change while it is published. Its SHA-256 is computed now.</summary>
    public WeightsRef PublishFile(long version, string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"weight server: no file {path}", path);
        string sha;
        using (var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20))
            sha = WeightWire.Hex(SHA256.HashData(f));
        return Add(new FileBlob(version, sha, Path.GetFullPath(path), new FileInfo(path).Length));
    }

    /// <summary>True while the blob with this SHA-256 is served.</summary>
    public bool Serves(string sha256) => blobs.ContainsKey(sha256.ToLowerInvariant());

    /// <summary>Stops serving the blob with this SHA-256 (transfers under way complete). False when it was not served.</summary>
    public bool Withdraw(string sha256) => blobs.TryRemove(sha256.ToLowerInvariant(), out _);

    private WeightsRef Add(Blob blob)
    {
        lock (gate)
        {
            if (!blobs.ContainsKey(blob.Sha))
            {
                blobs[blob.Sha] = blob;
                order.Enqueue(blob.Sha);
                Interlocked.Increment(ref published);
            }
            while (blobs.Count > options.KeepLatest && order.TryDequeue(out var oldest)) blobs.TryRemove(oldest, out _);
            // Drop queue entries of blobs already withdrawn, so the queue stays as small as the set.
            while (order.Count > 4 * options.KeepLatest && order.TryPeek(out var head) && !blobs.ContainsKey(head)) order.Dequeue();
        }
        return new WeightsRef(blob.Version, blob.Size, blob.Sha, Endpoint);
    }

    private async Task AcceptLoop()
    {
        while (!stop.IsCancellationRequested)
        {
            Socket s;
            try { s = await listener.AcceptAsync(stop.Token).ConfigureAwait(false); }
            catch (Exception) when (stop.IsCancellationRequested) { return; }
            catch (SocketException) { continue; }
            _ = Task.Run(() => Serve(s));
        }
    }

    private async Task Serve(Socket s)
    {
        using var _ = s;
        try
        {
            s.NoDelay = true;
            s.SendBufferSize = Math.Max(s.SendBufferSize, 4 << 20);
            var nonce = RandomNumberGenerator.GetBytes(WeightWire.NonceSize);
            var hello = new byte[WeightWire.HelloSize];
            BinaryPrimitives.WriteUInt32LittleEndian(hello, WeightWire.Magic);
            nonce.CopyTo(hello, 4);
            await s.SendAsync(hello, SocketFlags.None, stop.Token).ConfigureAwait(false);

            var req = new byte[WeightWire.RequestSize];
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop.Token))
            {
                timeout.CancelAfter(options.RequestTimeout);
                int got = 0;
                while (got < req.Length)
                {
                    int n = await s.ReceiveAsync(req.AsMemory(got), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                    if (n == 0) return;
                    got += n;
                }
            }
            var sha = req.AsSpan(4, WeightWire.ShaSize);
            long offset = BinaryPrimitives.ReadInt64LittleEndian(req.AsSpan(4 + WeightWire.ShaSize));
            var mac = req.AsSpan(4 + WeightWire.ShaSize + 8, WeightWire.MacSize);
            Blob? blob = null;
            byte status = BinaryPrimitives.ReadUInt32LittleEndian(req) != WeightWire.Magic ? WeightWire.BadRequest
                : !CryptographicOperations.FixedTimeEquals(mac, WeightWire.Mac(key, nonce, sha, offset)) ? WeightWire.Unauthorized
                : !blobs.TryGetValue(WeightWire.Hex(sha), out blob) ? WeightWire.NotFound
                : offset < 0 || offset > blob.Size ? WeightWire.BadRequest
                : WeightWire.Ok;
            if (status != WeightWire.Ok) blob = null;
            var reply = new byte[WeightWire.ReplySize];
            reply[0] = status;
            BinaryPrimitives.WriteInt64LittleEndian(reply.AsSpan(1), blob?.Size ?? 0);
            await s.SendAsync(reply, SocketFlags.None, stop.Token).ConfigureAwait(false);
            if (blob is null) { Interlocked.Increment(ref refused); return; }

            Interlocked.Increment(ref active);
            try
            {
                using var stall = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                await blob.SendAsync(s, offset, options.ChunkBytes, async chunk =>
                {
                    stall.CancelAfter(options.SendStallTimeout);
                    int sent = 0;
                    while (sent < chunk.Length) sent += await s.SendAsync(chunk[sent..], SocketFlags.None, stall.Token).ConfigureAwait(false);
                    Interlocked.Add(ref bytesSent, chunk.Length);
                }).ConfigureAwait(false);
                Interlocked.Increment(ref served);
            }
            finally { Interlocked.Decrement(ref active); }
            s.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The client left, stalled or the server stops: nothing to answer. The client retries.
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (stop.IsCancellationRequested) return;
        stop.Cancel();
        listener.Dispose();
        try { acceptLoop.Wait(TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
        blobs.Clear();
    }

    private abstract class Blob(long version, string sha, long size)
    {
        public long Version { get; } = version;
        public string Sha { get; } = sha;
        public long Size { get; } = size;

        /// <summary>Hands the bytes from <paramref name="offset"/> to the end to <paramref name="send"/>, chunk by chunk.</summary>
        public abstract Task SendAsync(Socket s, long offset, int chunkBytes, Func<ReadOnlyMemory<byte>, Task> send);
    }

    private sealed class MemoryBlob(long version, string sha, byte[] bytes) : Blob(version, sha, bytes.LongLength)
    {
        public override async Task SendAsync(Socket s, long offset, int chunkBytes, Func<ReadOnlyMemory<byte>, Task> send)
        {
            for (long pos = offset; pos < bytes.LongLength; pos += chunkBytes)
                await send(bytes.AsMemory((int)pos, (int)Math.Min(chunkBytes, bytes.LongLength - pos))).ConfigureAwait(false);
        }
    }

    private sealed class FileBlob(long version, string sha, string path, long size) : Blob(version, sha, size)
    {
        public override async Task SendAsync(Socket s, long offset, int chunkBytes, Func<ReadOnlyMemory<byte>, Task> send)
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous);
            var buffer = ArrayPool<byte>.Shared.Rent(chunkBytes);
            try
            {
                for (long pos = offset; pos < Size;)
                {
                    int n = await RandomAccess.ReadAsync(handle, buffer.AsMemory(0, (int)Math.Min(chunkBytes, Size - pos)), pos).ConfigureAwait(false);
                    if (n == 0) throw new IOException($"weight server: {path} is shorter than when it was published");
                    await send(buffer.AsMemory(0, n)).ConfigureAwait(false);
                    pos += n;
                }
            }
            finally { ArrayPool<byte>.Shared.Return(buffer); }
        }
    }
}
