using Akka.Actor;
using System.Runtime.Serialization;
using Akka.Serialization;
using RlActors.Actors.Protocol;

namespace RlActors.Actors.Serialization;

/// <summary>
/// The wire format of one group of protocol messages (a kind's, or the runtime's shared ones). Its manifests are short fixed
/// strings starting with <see cref="Prefix"/> and a dot, independent of CLR type names, so renaming a type never breaks a peer.
/// </summary>
public interface IPayloadCodec
{
    /// <summary>The manifest prefix of every message of this codec (e.g. "lm"); unique among the registered codecs.</summary>
    string Prefix { get; }
    /// <summary>Message type → manifest (each starting with <see cref="Prefix"/> and a dot).</summary>
    IReadOnlyDictionary<Type, string> Manifests { get; }
    /// <summary>Writes the fields of <paramref name="message"/>; <paramref name="system"/> is the sending node's (weights too
    /// large for a frame are published on its weight server, <see cref="Wire.WriteWeightBytes"/>).</summary>
    void Write(BinaryWriter w, object message, ExtendedActorSystem system);
    /// <summary>Reads the message of <paramref name="manifest"/>.</summary>
    object Read(BinaryReader r, string manifest);
}

/// <summary>
/// Binary serializer for every <see cref="IRlMessage"/>: it finds the codec of a message by its type, and the codec of a
/// payload by its manifest's prefix. Codecs are registered in <see cref="Codecs"/>, one line each. Token ids, log-probs and
/// weights are raw little-endian bytes. Each payload starts with a format version byte.
/// </summary>
public sealed class ProtocolSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    private const byte FormatVersion = 3;

    /// <summary>Serializer id registered in HOCON (akka.actor.serialization-identifiers).</summary>
    public const int Id = 7231;

    /// <summary>Every codec: the runtime's shared messages and each kind's (a new kind adds its codec here).</summary>
    public static readonly IReadOnlyList<IPayloadCodec> Codecs =
    [
        new WorkerCodec(),
        new Grpo.GrpoCodec(),
        new Capo.CapoCodec(),
        new Flow.FlowCodec(),
    ];

    private static readonly Dictionary<Type, (string Manifest, IPayloadCodec Codec)> ByType = Codecs
        .SelectMany(c => c.Manifests.Select(kv => (kv.Key, (kv.Value, c)))).ToDictionary(x => x.Key, x => x.Item2);
    private static readonly Dictionary<string, IPayloadCodec> ByPrefix = Codecs.ToDictionary(c => c.Prefix);

    /// <inheritdoc />
    public override int Identifier => Id;

    /// <inheritdoc />
    public override string Manifest(object o) =>
        ByType.TryGetValue(o.GetType(), out var m) ? m.Manifest : throw new ArgumentException($"no manifest for {o.GetType()}");

    /// <inheritdoc />
    public override byte[] ToBinary(object obj)
    {
        if (!ByType.TryGetValue(obj.GetType(), out var entry)) throw new ArgumentException($"cannot serialize {obj.GetType()}");
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms);
        w.Write(FormatVersion);
        entry.Codec.Write(w, obj, system);
        w.Flush();
        CheckFrame(obj, ms.Length);
        return ms.ToArray();
    }

    /// <summary>Room left in a frame for Akka's envelope (recipient and sender paths, serializer id, manifest).</summary>
    public const int EnvelopeAllowance = 8 * 1024;

    private long? maximumFrameSize;

    /// <summary>Largest remote frame, from <c>akka.remote.dot-netty.tcp.maximum-frame-size</c>.</summary>
    public long MaximumFrameSize => maximumFrameSize ??=
        system.Settings.Config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size", 128_000) ?? 128_000;

    /// <summary>Akka drops a remote message larger than the frame size with only a log line: refuse it here instead, naming
    /// the message type and its size (the exception reaches the log of the sending node as a serialization failure).</summary>
    private void CheckFrame(object message, long size)
    {
        long limit = MaximumFrameSize - EnvelopeAllowance;
        if (size > limit) throw new OversizedMessageException(message.GetType(), size, MaximumFrameSize);
    }

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, string manifest)
    {
        using var r = new BinaryReader(new MemoryStream(bytes, writable: false));
        byte version = r.ReadByte();
        if (version != FormatVersion) throw new SerializationException($"message format version {version} is not supported (manifest {manifest})");
        int dot = manifest.IndexOf('.');
        if (dot <= 0 || !ByPrefix.TryGetValue(manifest[..dot], out var codec) || !codec.Manifests.Values.Contains(manifest))
            throw new SerializationException($"unknown manifest '{manifest}'");
        return codec.Read(r, manifest);
    }
}

/// <summary>The runtime's shared messages: pulling work and fetching weights (<see cref="WorkerProtocol"/>).</summary>
internal sealed class WorkerCodec : IPayloadCodec
{
    public string Prefix => "wk";

    public IReadOnlyDictionary<Type, string> Manifests { get; } = new Dictionary<Type, string>
    {
        [typeof(WorkerProtocol.RequestWork)] = "wk.request", [typeof(WorkerProtocol.NoMoreWork)] = "wk.done",
        [typeof(WorkerProtocol.GetWeights)] = "wk.weights-get", [typeof(WorkerProtocol.WeightsUnavailable)] = "wk.weights-unavailable",
        [typeof(WorkerProtocol.WorkDropped)] = "wk.dropped",
    };

    public void Write(BinaryWriter w, object message, ExtendedActorSystem system)
    {
        switch (message)
        {
            case WorkerProtocol.RequestWork m: w.Write(m.WorkerId); w.Write(m.WorkKind); break;
            case WorkerProtocol.NoMoreWork m: w.Write(m.Experiment); break;
            case WorkerProtocol.GetWeights m: w.Write(m.Version); break;
            case WorkerProtocol.WeightsUnavailable m: w.Write(m.Requested); w.Write(m.Current); break;
            case WorkerProtocol.WorkDropped m: w.Write(m.Experiment); w.Write(m.Step); w.Write(m.Unit); w.Write(m.WorkerId); w.Write(m.Reason); break;
        }
    }

    public object Read(BinaryReader r, string manifest) => manifest switch
    {
        "wk.request" => new WorkerProtocol.RequestWork(r.ReadString(), r.ReadString()),
        "wk.done" => new WorkerProtocol.NoMoreWork(r.ReadString()),
        "wk.weights-get" => new WorkerProtocol.GetWeights(r.ReadInt64()),
        "wk.weights-unavailable" => new WorkerProtocol.WeightsUnavailable(r.ReadInt64(), r.ReadInt64()),
        _ => new WorkerProtocol.WorkDropped(r.ReadString(), r.ReadInt64(), r.ReadInt32(), r.ReadString(), r.ReadString()),
    };
}

/// <summary>Raw little-endian arrays and nullable strings, for codecs.</summary>
public static class Wire
{
    /// <summary>Writes a nullable string.</summary>
    public static void WriteNullable(this BinaryWriter w, string? s) { w.Write(s is not null); if (s is not null) w.Write(s); }
    /// <summary>Reads a nullable string.</summary>
    public static string? ReadNullable(this BinaryReader r) => r.ReadBoolean() ? r.ReadString() : null;
    /// <summary>Writes a length and the raw values.</summary>
    public static void WriteInts(this BinaryWriter w, int[] xs) { w.Write(xs.Length); w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(xs.AsSpan())); }
    /// <summary>Reads what <see cref="WriteInts"/> wrote.</summary>
    public static int[] ReadInts(this BinaryReader r) { var xs = new int[r.ReadInt32()]; r.BaseStream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(xs.AsSpan())); return xs; }
    /// <summary>Writes a length and the raw values.</summary>
    public static void WriteFloats(this BinaryWriter w, float[] xs) { w.Write(xs.Length); w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(xs.AsSpan())); }
    /// <summary>Reads what <see cref="WriteFloats"/> wrote.</summary>
    public static float[] ReadFloats(this BinaryReader r) { var xs = new float[r.ReadInt32()]; r.BaseStream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(xs.AsSpan())); return xs; }
    /// <summary>Writes a length and the raw values.</summary>
    public static void WriteLongs(this BinaryWriter w, long[] xs) { w.Write(xs.Length); w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(xs.AsSpan())); }
    /// <summary>Reads what <see cref="WriteLongs"/> wrote.</summary>
    public static long[] ReadLongs(this BinaryReader r) { var xs = new long[r.ReadInt32()]; r.BaseStream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(xs.AsSpan())); return xs; }
    /// <summary>Weight bytes inline (length, bytes), or, when larger than the offload threshold (or already by reference),
    /// length -1 and a <see cref="Runtime.Weights.WeightsRef"/> to this node's weight server.</summary>
    public static void WriteWeightBytes(this BinaryWriter w, ExtendedActorSystem system, long version, byte[] bytes, Runtime.Weights.WeightsRef? remote)
    {
        if (remote is null)
        {
            var distribution = Runtime.Weights.WeightDistribution.Get(system);
            if (!distribution.ShouldOffload(bytes.LongLength)) { w.Write(bytes.Length); w.Write(bytes); return; }
            remote = distribution.Offload(version, bytes);
        }
        w.Write(-1); w.Write(remote.Version); w.Write(remote.Size); w.Write(remote.Sha256); w.Write(remote.Endpoint);
    }

    /// <summary>Reads what <see cref="WriteWeightBytes"/> wrote: the bytes, or none and where they wait.</summary>
    public static (byte[] Bytes, Runtime.Weights.WeightsRef? Remote) ReadWeightBytes(this BinaryReader r)
    {
        int n = r.ReadInt32();
        if (n >= 0) return (r.ReadBytes(n), null);
        return ([], new Runtime.Weights.WeightsRef(r.ReadInt64(), r.ReadInt64(), r.ReadString(), r.ReadString()));
    }

    /// <summary>Writes a length and the bytes.</summary>
    public static void WriteBytes(this BinaryWriter w, byte[] xs) { w.Write(xs.Length); w.Write(xs); }
    /// <summary>Reads what <see cref="WriteBytes"/> wrote.</summary>
    public static byte[] ReadBytesBlock(this BinaryReader r) => r.ReadBytes(r.ReadInt32());
}

/// <summary>A protocol message too large for one remote frame: it names the message type, its size and the limit.</summary>
public sealed class OversizedMessageException(Type type, long size, long frame) : SerializationException(
    $"{type.FullName?.Replace('+', '.')} is {size:N0} bytes serialized, more than one remote frame carries " +
    $"(akka.remote.dot-netty.tcp.maximum-frame-size = {frame:N0} bytes, less {ProtocolSerializer.EnvelopeAllowance:N0} for the envelope); it was not sent")
{
    /// <summary>The message's type.</summary>
    public Type MessageType { get; } = type;
    /// <summary>Its serialized size in bytes.</summary>
    public long Size { get; } = size;
}
