using System.Security.Cryptography;
using System.Text;

namespace RlActors.Policies.Checkpoints;

/// <summary>
/// Everything a learner needs to continue exactly where it stopped, as one self-checking byte blob:
/// step and policy version, policy weights, optimizer state, optional reference weights, and named extra parts
/// (generator states, dataset cursors). Layout: magic "RLCK", format version, parts, then a SHA-256 of everything
/// before it, so a truncated or corrupted checkpoint is detected on load.
/// </summary>
public sealed record TrainingCheckpoint
{
    private static readonly byte[] Magic = "RLCK"u8.ToArray();
    private const int FormatVersion = 1;

    /// <summary>GRPO steps completed.</summary>
    public long Step { get; init; }
    /// <summary>Version of <see cref="PolicyWeights"/> (steps trained).</summary>
    public long PolicyVersion { get; init; }
    /// <summary>Policy weights (TorchSharp format).</summary>
    public required byte[] PolicyWeights { get; init; }
    /// <summary>Optimizer state; empty before the first update.</summary>
    public byte[] OptimizerState { get; init; } = [];
    /// <summary>Frozen reference weights, when the run uses a KL penalty.</summary>
    public byte[]? ReferenceWeights { get; init; }
    /// <summary>Other named state: generator states, dataset cursors.</summary>
    public IReadOnlyDictionary<string, byte[]> Parts { get; init; } = new Dictionary<string, byte[]>();

    /// <summary>SHA-256 (hex) of the policy weights as stored.</summary>
    public string WeightsSha256 => Convert.ToHexStringLower(SHA256.HashData(PolicyWeights));

    /// <summary>The checkpoint as bytes (with its checksum at the end): exactly what <see cref="WriteTo"/> writes.</summary>
    public byte[] Encode()
    {
        long length = EncodedLength;
        if (length > Array.MaxLength) throw new InvalidOperationException($"checkpoint of {length} bytes does not fit in one array; use WriteTo");
        var bytes = new byte[length];
        using var ms = new MemoryStream(bytes, writable: true);
        WriteTo(ms);
        if (ms.Position != length) throw new InvalidOperationException($"checkpoint encoding wrote {ms.Position} bytes, expected {length}");
        return bytes;
    }

    /// <summary>Size in bytes of the encoded checkpoint.</summary>
    public long EncodedLength
    {
        get
        {
            long n = Magic.Length + 4 + 8 + 8 + 4L + PolicyWeights.Length + 4L + OptimizerState.Length + 1 + 4 + 32;
            if (ReferenceWeights is not null) n += 4L + ReferenceWeights.Length;
            foreach (var (name, data) in Parts)
            {
                int utf8 = Encoding.UTF8.GetByteCount(name);
                n += SevenBitLength(utf8) + utf8 + 4L + data.Length;
            }
            return n;
        }
    }

    /// <summary>
    /// Writes the checkpoint to <paramref name="stream"/> (the bytes of <see cref="Encode"/>) without building it in
    /// memory first: the parts are written as they are and hashed on the way; the SHA-256 of everything goes last.
    /// </summary>
    public void WriteTo(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var hashing = new HashingWriteStream(stream, hash);
        using (var w = new BinaryWriter(hashing, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(FormatVersion);
            w.Write(Step);
            w.Write(PolicyVersion);
            WriteBlob(w, PolicyWeights);
            WriteBlob(w, OptimizerState);
            w.Write(ReferenceWeights is not null);
            if (ReferenceWeights is not null) WriteBlob(w, ReferenceWeights);
            w.Write(Parts.Count);
            foreach (var (name, data) in Parts.OrderBy(p => p.Key, StringComparer.Ordinal)) { w.Write(name); WriteBlob(w, data); }
        }
        Span<byte> digest = stackalloc byte[32];
        hash.GetHashAndReset(digest);
        stream.Write(digest);
    }

    private static int SevenBitLength(int value)
    {
        int n = 1;
        for (uint v = (uint)value; v >= 0x80; v >>= 7) n++;
        return n;
    }

    /// <summary>Passes writes through to the inner stream and hashes them.</summary>
    private sealed class HashingWriteStream(Stream inner, IncrementalHash hash) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            hash.AppendData(buffer);
            inner.Write(buffer);
        }
        public override void WriteByte(byte value) => Write([value]);
    }

    /// <summary>Reads bytes written by <see cref="Encode"/>; anything truncated, corrupted or of another format throws <see cref="InvalidDataException"/>.</summary>
    public static TrainingCheckpoint Decode(byte[] bytes)
    {
        if (bytes.Length < Magic.Length + 4 + 32) throw new InvalidDataException($"checkpoint is truncated ({bytes.Length} bytes)");
        var body = bytes.AsSpan(0, bytes.Length - 32);
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - 32)))
            throw new InvalidDataException("checkpoint checksum mismatch (corrupted or truncated)");
        if (!body[..4].SequenceEqual(Magic)) throw new InvalidDataException("not a checkpoint (bad magic)");
        using var r = new BinaryReader(new MemoryStream(bytes, 0, body.Length, writable: false));
        r.ReadBytes(4);
        int version = r.ReadInt32();
        if (version != FormatVersion) throw new InvalidDataException($"checkpoint format {version} is not supported (expected {FormatVersion})");
        try
        {
            long step = r.ReadInt64(), policyVersion = r.ReadInt64();
            var weights = ReadBlob(r);
            var optimizer = ReadBlob(r);
            byte[]? reference = r.ReadBoolean() ? ReadBlob(r) : null;
            int n = r.ReadInt32();
            if (n < 0) throw new InvalidDataException("checkpoint part count is negative");
            var parts = new Dictionary<string, byte[]>();
            for (int i = 0; i < n; i++) parts[r.ReadString()] = ReadBlob(r);
            return new TrainingCheckpoint
            {
                Step = step, PolicyVersion = policyVersion, PolicyWeights = weights, OptimizerState = optimizer,
                ReferenceWeights = reference, Parts = parts,
            };
        }
        catch (EndOfStreamException e) { throw new InvalidDataException("checkpoint is truncated", e); }
    }

    private static void WriteBlob(BinaryWriter w, byte[] data) { w.Write(data.Length); w.Write(data); }

    private static byte[] ReadBlob(BinaryReader r)
    {
        int n = r.ReadInt32();
        if (n < 0 || n > r.BaseStream.Length - r.BaseStream.Position) throw new InvalidDataException($"checkpoint part of {n} bytes does not fit");
        return r.ReadBytes(n);
    }
}
