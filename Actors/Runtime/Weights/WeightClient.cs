using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace RlActors.Actors.Runtime.Weights;

/// <summary>How a <see cref="WeightClient"/> fetches, waits and retries, and what it keeps.</summary>
public sealed record WeightClientOptions
{
    /// <summary>A connection not made within this time fails the attempt.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(3);
    /// <summary>No byte from the server for this long fails the attempt (a stalled server or network).</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(3);
    /// <summary>Attempts per fetch; a broken transfer resumes from the bytes received, a SHA-256 mismatch starts over.</summary>
    public int Attempts { get; init; } = 3;
    /// <summary>Pause before the second attempt; it doubles for each further one.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);
    /// <summary>Versions kept in memory after they were fetched: the highest ones (by default only the latest).</summary>
    public int KeepLatest { get; init; } = 1;
    /// <summary>Cluster secret (must match the server's), or null.</summary>
    public string? Secret { get; init; }
    /// <summary>Largest read per receive call.</summary>
    public int ChunkBytes { get; init; } = 4 << 20;
}

/// <summary>Counters of a <see cref="WeightClient"/>.</summary>
/// <param name="Downloads">Blobs downloaded and verified.</param>
/// <param name="FailedAttempts">Attempts that failed and were retried or given up (broken, stalled, corrupt).</param>
/// <param name="BytesReceived">Blob bytes received over all attempts.</param>
public sealed record WeightClientStats(long Downloads, long FailedAttempts, long BytesReceived);

/// <summary>
/// Fetches weight blobs from a <see cref="WeightServer"/> by <see cref="WeightsRef"/>. A blob is downloaded at most once:
/// concurrent requests for the same blob share one download, and the <see cref="WeightClientOptions.KeepLatest"/> highest
/// versions stay cached. Bytes stream straight into the result and are hashed on the way; a blob is returned only when its
/// SHA-256 matches. A broken transfer resumes, a stalled one is abandoned after <see cref="WeightClientOptions.StallTimeout"/>,
/// and after <see cref="WeightClientOptions.Attempts"/> attempts the fetch fails with a <see cref="WeightFetchException"/>
/// that says why. Thread-safe.
/// </summary>
public sealed class WeightClient : IDisposable
{
    private readonly WeightClientOptions options;
    private readonly byte[] key;
    private readonly CancellationTokenSource stop = new();
    private readonly Dictionary<string, Entry> cache = new(StringComparer.Ordinal);
    private readonly object gate = new();
    private long downloads, failedAttempts, bytesReceived;

    private sealed class Entry(WeightsRef r)
    {
        public WeightsRef Ref { get; } = r;
        public Task<byte[]> Bytes { get; set; } = null!;
        public bool Done { get; set; } // downloaded and verified (set under the lock before Bytes completes)
    }

    /// <summary>A client; see <see cref="WeightClientOptions"/> for the defaults.</summary>
    public WeightClient(WeightClientOptions? options = null)
    {
        this.options = options ?? new WeightClientOptions();
        if (this.options.Attempts < 1) throw new ArgumentException($"weight client: attempts {this.options.Attempts} must be at least 1");
        if (this.options.KeepLatest < 0) throw new ArgumentException($"weight client: keep-latest {this.options.KeepLatest} must not be negative");
        key = WeightWire.Key(this.options.Secret);
    }

    /// <summary>The client's counters.</summary>
    public WeightClientStats Stats => new(Interlocked.Read(ref downloads), Interlocked.Read(ref failedAttempts), Interlocked.Read(ref bytesReceived));

    /// <summary>Versions held in memory now (downloaded and verified), lowest first.</summary>
    public IReadOnlyList<long> CachedVersions
    {
        get { lock (gate) return cache.Values.Where(e => e.Done).Select(e => e.Ref.Version).Order().ToArray(); }
    }

    /// <summary>The bytes of <paramref name="r"/>, verified against its SHA-256: from the cache, from a download under way,
    /// or downloaded now. <paramref name="ct"/> stops this caller's wait, not a download others share.
    /// Callers must not change the returned array (it is shared).</summary>
    /// <exception cref="WeightFetchException">The blob could not be fetched (the message says why).</exception>
    public Task<byte[]> FetchAsync(WeightsRef r, CancellationToken ct = default)
    {
        r.Validate();
        if (r.Size > Array.MaxLength)
            throw new ArgumentException($"weights v{r.Version} are {r.Size} bytes, more than one array holds: use {nameof(FetchToFileAsync)}");
        ObjectDisposedException.ThrowIf(stop.IsCancellationRequested, this);
        string sha = r.Sha256.ToLowerInvariant();
        Entry entry;
        lock (gate)
        {
            if (!cache.TryGetValue(sha, out entry!))
            {
                entry = new Entry(r);
                var e = entry;
                cache[sha] = entry;
                entry.Bytes = Task.Run(async () =>
                {
                    try
                    {
                        var bytes = await DownloadToMemory(r).ConfigureAwait(false);
                        Settled(sha, e, ok: true);
                        return bytes;
                    }
                    catch
                    {
                        Settled(sha, e, ok: false);
                        throw;
                    }
                });
            }
        }
        return entry.Bytes.WaitAsync(ct);
    }

    /// <summary>Downloads <paramref name="r"/> (any size) into the file <paramref name="path"/>, verified against its
    /// SHA-256: the bytes go to <c>path.partial</c>, which is renamed when they check. Not cached.</summary>
    public async Task FetchToFileAsync(WeightsRef r, string path, CancellationToken ct = default)
    {
        r.Validate();
        string partial = path + ".partial";
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, stop.Token);
        try
        {
            await using (var file = new FileStream(partial, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 20, FileOptions.Asynchronous))
            {
                var buffer = ArrayPool<byte>.Shared.Rent(options.ChunkBytes);
                try
                {
                    await Download(r, new Sink(
                        Window: have => buffer.AsMemory(0, (int)Math.Min(buffer.Length, r.Size - have)),
                        Commit: async (have, n) => { file.Position = have; await file.WriteAsync(buffer.AsMemory(0, n), linked.Token).ConfigureAwait(false); },
                        Reset: () => file.SetLength(0)), linked.Token).ConfigureAwait(false);
                    file.SetLength(r.Size);
                }
                finally { ArrayPool<byte>.Shared.Return(buffer); }
            }
            File.Move(partial, path, overwrite: true);
        }
        finally { if (File.Exists(partial)) File.Delete(partial); }
    }

    private void Settled(string sha, Entry entry, bool ok)
    {
        lock (gate)
        {
            if (!ok)
            {
                if (cache.GetValueOrDefault(sha) == entry) cache.Remove(sha); // a failed fetch is tried again by the next caller
                return;
            }
            entry.Done = true;
            // Keep the KeepLatest highest versions among the downloaded blobs; downloads under way stay.
            var done = cache.Where(kv => kv.Value.Done).OrderByDescending(kv => kv.Value.Ref.Version).ToList();
            foreach (var (k, _) in done.Skip(options.KeepLatest)) cache.Remove(k);
        }
    }

    private async Task<byte[]> DownloadToMemory(WeightsRef r)
    {
        var bytes = GC.AllocateUninitializedArray<byte>((int)r.Size);
        await Download(r, new Sink(
            Window: have => bytes.AsMemory((int)have, (int)Math.Min(options.ChunkBytes, r.Size - have)),
            Commit: (_, _) => Task.CompletedTask,
            Reset: () => { }, Target: bytes), stop.Token).ConfigureAwait(false);
        return bytes;
    }

    /// <summary>Where received bytes go: <see cref="Window"/> gives the memory to receive into when <c>have</c> bytes are
    /// in, <see cref="Commit"/> stores <c>n</c> bytes just received there, <see cref="Reset"/> forgets everything;
    /// <see cref="Target"/> is the array the bytes land in, in order, when there is one.</summary>
    private sealed record Sink(Func<long, Memory<byte>> Window, Func<long, int, Task> Commit, Action Reset, byte[]? Target = null);

    /// <summary>Bytes in so far and their running SHA-256. With a <c>target</c> array (the bytes land there in order) the hash
    /// runs on another thread, trailing the receive, so a node hashes while the network delivers; otherwise inline.</summary>
    private sealed class Progress(byte[]? target) : IDisposable
    {
        private readonly IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly SemaphoreSlim more = new(0);
        private long have, hashed;
        private Task? trailer;
        private volatile bool stopped;

        public long Have => have;

        /// <summary><paramref name="chunk"/> was just received at <see cref="Have"/>.</summary>
        public void Received(ReadOnlySpan<byte> chunk)
        {
            if (target is null) { hash.AppendData(chunk); have += chunk.Length; return; }
            Volatile.Write(ref have, have + chunk.Length);
            trailer ??= Task.Run(Trail);
            if (more.CurrentCount == 0) more.Release();
        }

        private async Task Trail()
        {
            while (!stopped)
            {
                long h = Volatile.Read(ref have);
                while (hashed < h && !stopped)
                {
                    int n = (int)Math.Min(1 << 20, h - hashed);
                    hash.AppendData(target!, (int)hashed, n);
                    hashed += n;
                }
                if (hashed == target!.LongLength) return;
                await more.WaitAsync().ConfigureAwait(false);
            }
        }

        /// <summary>The SHA-256 of all bytes (call when every byte is in).</summary>
        public async Task<byte[]> Finish()
        {
            if (trailer is not null) { await trailer.ConfigureAwait(false); trailer = null; }
            return hash.GetHashAndReset();
        }

        /// <summary>Forget everything (after <see cref="Finish"/>).</summary>
        public void Reset() => have = hashed = 0;

        public void Dispose()
        {
            stopped = true;
            more.Release();
            try { trailer?.Wait(); } catch (AggregateException) { }
            hash.Dispose();
            more.Dispose();
        }
    }

    private async Task Download(WeightsRef r, Sink sink, CancellationToken ct)
    {
        var expected = Convert.FromHexString(r.Sha256);
        var (host, port) = WeightWire.ParseEndpoint(r.Endpoint);
        using var progress = new Progress(sink.Target);
        var failures = new List<string>();
        for (int attempt = 1; attempt <= options.Attempts; attempt++)
        {
            if (attempt > 1) await Task.Delay(options.RetryDelay * (1 << Math.Min(attempt - 2, 6)), ct).ConfigureAwait(false);
            try
            {
                await Attempt(r, host, port, expected, sink, progress, ct).ConfigureAwait(false);
                var got = await progress.Finish().ConfigureAwait(false);
                if (CryptographicOperations.FixedTimeEquals(got, expected))
                {
                    Interlocked.Increment(ref downloads);
                    return;
                }
                failures.Add($"attempt {attempt}: the {r.Size} bytes have sha256 {WeightWire.Hex(got)[..12]}..., not {r.Sha256[..12]}... (corrupt transfer; starting over)");
                progress.Reset();
                sink.Reset();
            }
            catch (RefusedException e) { throw Fail(r, failures, $"the server refused: {e.Message}"); }
            catch (Exception e) when (!ct.IsCancellationRequested && e is SocketException or IOException or TimeoutException or OperationCanceledException)
            {
                failures.Add($"attempt {attempt}: {(e is OperationCanceledException ? "cancelled" : e.Message)} ({progress.Have} of {r.Size} bytes in)");
            }
            Interlocked.Increment(ref failedAttempts);
        }
        throw Fail(r, failures, $"gave up after {options.Attempts} attempts");
    }

    private static WeightFetchException Fail(WeightsRef r, List<string> failures, string why) =>
        new($"cannot fetch weights v{r.Version} ({r.Size} bytes, sha256 {r.Sha256[..12]}...) from {r.Endpoint}: {why}" +
            (failures.Count > 0 ? ": " + string.Join("; ", failures) : ""));

    private sealed class RefusedException(string message) : Exception(message);

    private async Task Attempt(WeightsRef r, string host, int port, byte[] sha, Sink sink, Progress progress, CancellationToken ct)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.ReceiveBufferSize = Math.Max(socket.ReceiveBufferSize, 4 << 20);
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timer.CancelAfter(options.ConnectTimeout);
        try { await socket.ConnectAsync(host, port, timer.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"no connection to {host}:{port} within {options.ConnectTimeout.TotalSeconds:0.###} s");
        }

        var hello = new byte[WeightWire.HelloSize];
        await ReceiveExactly(socket, hello, timer, ct).ConfigureAwait(false);
        if (BinaryPrimitives.ReadUInt32LittleEndian(hello) != WeightWire.Magic) throw new RefusedException($"{host}:{port} is not a weight server");
        var req = new byte[WeightWire.RequestSize];
        BinaryPrimitives.WriteUInt32LittleEndian(req, WeightWire.Magic);
        sha.CopyTo(req, 4);
        BinaryPrimitives.WriteInt64LittleEndian(req.AsSpan(4 + WeightWire.ShaSize), progress.Have);
        WeightWire.Mac(key, hello.AsSpan(4, WeightWire.NonceSize), sha, progress.Have).CopyTo(req, 4 + WeightWire.ShaSize + 8);
        await socket.SendAsync(req, SocketFlags.None, ct).ConfigureAwait(false);

        var reply = new byte[WeightWire.ReplySize];
        await ReceiveExactly(socket, reply, timer, ct).ConfigureAwait(false);
        long size = BinaryPrimitives.ReadInt64LittleEndian(reply.AsSpan(1));
        switch (reply[0])
        {
            case WeightWire.Ok: break;
            case WeightWire.NotFound: throw new RefusedException("it does not serve this blob (withdrawn, or never published)");
            case WeightWire.Unauthorized: throw new RefusedException("the cluster secret does not match");
            default: throw new RefusedException($"bad request (status {reply[0]})");
        }
        if (size != r.Size) throw new RefusedException($"it serves {size} bytes under this sha256, not {r.Size}");

        while (progress.Have < r.Size)
        {
            var window = sink.Window(progress.Have);
            timer.TryReset();
            timer.CancelAfter(options.StallTimeout);
            int n;
            try { n = await socket.ReceiveAsync(window, SocketFlags.None, timer.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested) { throw Stalled(); }
            if (n == 0) throw new IOException($"the server closed the connection after {progress.Have} of {r.Size} bytes");
            await sink.Commit(progress.Have, n).ConfigureAwait(false);
            progress.Received(window.Span[..n]);
            Interlocked.Add(ref bytesReceived, n);
        }
    }

    private TimeoutException Stalled() => new($"no data for {options.StallTimeout.TotalSeconds:0.###} s (stalled)");

    private async Task ReceiveExactly(Socket socket, byte[] buffer, CancellationTokenSource timer, CancellationToken ct)
    {
        timer.TryReset();
        timer.CancelAfter(options.StallTimeout);
        int got = 0;
        try
        {
            while (got < buffer.Length)
            {
                int n = await socket.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None, timer.Token).ConfigureAwait(false);
                if (n == 0) throw new IOException("the server closed the connection before its reply");
                got += n;
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested) { throw Stalled(); }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        stop.Cancel();
        lock (gate) cache.Clear();
    }
}
