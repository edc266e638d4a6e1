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

    /// <summary>The checkpoint as bytes (with its checksum at the end).</summary>
    public byte[] Encode()
    {
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
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
        var body = ms.ToArray();
        return [.. body, .. SHA256.HashData(body)];
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
