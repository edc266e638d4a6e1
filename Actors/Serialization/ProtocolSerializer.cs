using Akka.Actor;
using System.Runtime.Serialization;
using Akka.Serialization;
using RlActors.Actors.Protocol;
using RlActors.Policies.Flow;
using static RlActors.Actors.Flow.FlowProtocol;
using static RlActors.Actors.Protocol.CritiqueProtocol;
using static RlActors.Actors.Protocol.RewardProtocol;
using static RlActors.Actors.Protocol.SamplerProtocol;
using static RlActors.Actors.Protocol.WeightsProtocol;

namespace RlActors.Actors.Serialization;

/// <summary>
/// Binary serializer for every <see cref="IRlMessage"/>. Manifests are short fixed strings, independent of CLR type
/// names, so renaming a type never breaks a peer or a stored message. Token ids, log-probs and weights are raw
/// little-endian bytes. Each payload starts with a format version byte.
/// </summary>
public sealed class ProtocolSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    private const byte FormatVersion = 2;

    /// <summary>Serializer id registered in HOCON (akka.actor.serialization-identifiers).</summary>
    public const int Id = 7231;

    /// <inheritdoc />
    public override int Identifier => Id;

    private static readonly Dictionary<Type, string> Manifests = new()
    {
        [typeof(RequestWork)] = "sp.request", [typeof(SampleTask)] = "sp.task", [typeof(SlotRollouts)] = "sp.rollouts",
        [typeof(NoMoreWork)] = "sp.done", [typeof(CannotSample)] = "sp.cannot", [typeof(GetWeights)] = "w.get", [typeof(PolicyWeights)] = "w.weights",
        [typeof(WeightsUnavailable)] = "w.unavailable", [typeof(ScoreSlot)] = "r.score", [typeof(SlotScored)] = "r.scored", [typeof(ScoringFailed)] = "r.failed",
        [typeof(CritiqueWork)] = "c.work", [typeof(CritiqueDone)] = "c.done",
        [typeof(RequestExploration)] = "fx.request", [typeof(ExploreTask)] = "fx.task", [typeof(ExploredGroups)] = "fx.groups",
        [typeof(FlowWeights)] = "fx.weights", [typeof(GetRewardModel)] = "fx.reward-get", [typeof(RewardModel)] = "fx.reward-model",
    };

    /// <inheritdoc />
    public override string Manifest(object o) =>
        Manifests.TryGetValue(o.GetType(), out var m) ? m : throw new ArgumentException($"no manifest for {o.GetType()}");

    /// <inheritdoc />
    public override byte[] ToBinary(object obj)
    {
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms);
        w.Write(FormatVersion);
        switch (obj)
        {
            case RequestWork m: w.Write(m.SamplerId); break;
            case SampleTask m:
                w.Write(m.Experiment); w.Write(m.Step); w.Write(m.Slot); w.Write(m.PolicyVersion); WriteLongs(w, m.ProblemIndices);
                WriteTask(w, m.Task); WriteSampling(w, m.Sampling); w.Write(m.SampleSeed); break;
            case SlotRollouts m:
                w.Write(m.Experiment); w.Write(m.Step); w.Write(m.Slot); w.Write(m.PolicyVersion); w.Write(m.SamplerId);
                WriteGroups(w, m.Groups); w.Write(m.GeneratedTokens); w.Write(m.SampleSeconds); break;
            case NoMoreWork m: w.Write(m.Experiment); break;
            case CannotSample m: w.Write(m.Experiment); w.Write(m.Reason); break;
            case GetWeights m: w.Write(m.Version); break;
            case PolicyWeights m:
                w.Write(m.Version); w.Write(m.VocabSize); w.Write(m.DModel); w.Write(m.Layers); w.Write(m.Heads); w.Write(m.Context);
                w.Write(m.MlpRatio); WriteWeightBytes(w, m.Version, m.Bytes, m.Remote); break;
            case WeightsUnavailable m: w.Write(m.Requested); w.Write(m.Current); break;
            case ScoreSlot m:
                w.Write(m.Experiment); w.Write(m.Step); w.Write(m.Slot); w.Write(m.PolicyVersion); WriteTask(w, m.Task);
                w.Write(m.Rewards.Length);
                foreach (var r in m.Rewards) { w.Write(r.Type); WriteNullable(w, r.Assembly); w.Write(r.Weight); w.Write(r.TimeoutSeconds); WriteNullable(w, r.Settings); }
                WriteGroups(w, m.Groups); break;
            case ScoringFailed m: w.Write(m.Experiment); w.Write(m.Reason); break;
            case SlotScored m:
                w.Write(m.Experiment); w.Write(m.Step); w.Write(m.Slot); w.Write(m.Rewards.Length);
                foreach (var r in m.Rewards) WriteFloats(w, r);
                WriteInts(w, m.Correct); w.Write(m.Failures); w.Write(m.FailedComponents.Length);
                foreach (var f in m.FailedComponents) w.Write(f);
                w.Write(m.TokenExtras is not null);
                if (m.TokenExtras is not null)
                {
                    w.Write(m.TokenExtras.Length);
                    foreach (var g in m.TokenExtras)
                    {
                        w.Write(g is not null);
                        if (g is null) continue;
                        w.Write(g.Length);
                        foreach (var row in g) WriteFloats(w, row);
                    }
                }
                w.Write(m.Counters?.Count ?? 0);
                foreach (var (k, v) in m.Counters ?? new Dictionary<string, double>()) { w.Write(k); w.Write(v); }
                break;
            case CritiqueWork m:
                w.Write(m.RequestId); w.Write(m.ResponseKey); w.Write(m.ProblemIndex); WriteLongs(w, m.Operands); w.Write(m.Operators);
                WriteInts(w, m.Completion); w.Write(m.Judge); w.Write(m.Count); w.Write(m.FirstIndex); break;
            case CritiqueDone m:
                w.Write(m.RequestId); w.Write(m.Critiques.Length);
                foreach (var c in m.Critiques) { w.Write(c.Status); WriteInts(w, c.WrongSteps); WriteNullable(w, c.Detail); }
                break;
            case RequestExploration m: w.Write(m.ExplorerId); break;
            case ExploreTask m:
                w.Write(m.Experiment); w.Write(m.Step); w.Write(m.Task); w.Write(m.PolicyVersion);
                w.Write(m.Groups.Length);
                foreach (var g in m.Groups) { w.Write(g.Class); w.Write(g.BranchStep); w.Write(g.Members); w.Write(g.Seed); w.Write(g.GroupId); }
                w.Write(m.Sampling.Steps); w.Write(m.Sampling.NoiseLevel); w.Write((int)m.Sampling.LogProb);
                w.Write(m.TaskJson); w.Write(m.RewardModelSha256); break;
            case ExploredGroups m:
                w.Write(m.Experiment); w.Write(m.Step); w.Write(m.Task); w.Write(m.PolicyVersion); w.Write(m.ExplorerId);
                w.Write(m.Groups.Length);
                foreach (var g in m.Groups) WriteFlowGroup(w, g);
                w.Write(m.Seconds); break;
            case FlowWeights m:
                w.Write(m.Version); WriteFlowModel(w, m.Model); WriteWeightBytes(w, m.Version, m.Bytes, m.Remote); break;
            case GetRewardModel m: w.Write(m.Sha256); break;
            case RewardModel m: w.Write(m.Sha256); w.Write(m.Bytes.Length); w.Write(m.Bytes); break;
            default: throw new ArgumentException($"cannot serialize {obj.GetType()}");
        }
        w.Flush();
        CheckFrame(obj, ms.Length);
        return ms.ToArray();
    }

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, string manifest)
    {
        using var r = new BinaryReader(new MemoryStream(bytes, writable: false));
        byte version = r.ReadByte();
        if (version != FormatVersion) throw new SerializationException($"message format version {version} is not supported (manifest {manifest})");
        return manifest switch
        {
            "sp.request" => new RequestWork(r.ReadString()),
            "sp.task" => new SampleTask(r.ReadString(), r.ReadInt64(), r.ReadInt32(), r.ReadInt64(), ReadLongs(r), ReadTask(r), ReadSampling(r), r.ReadUInt64()),
            "sp.rollouts" => new SlotRollouts(r.ReadString(), r.ReadInt64(), r.ReadInt32(), r.ReadInt64(), r.ReadString(), ReadGroups(r), r.ReadInt64(), r.ReadDouble()),
            "sp.done" => new NoMoreWork(r.ReadString()),
            "sp.cannot" => new CannotSample(r.ReadString(), r.ReadString()),
            "w.get" => new GetWeights(r.ReadInt64()),
            "w.weights" => ReadPolicyWeights(r),
            "w.unavailable" => new WeightsUnavailable(r.ReadInt64(), r.ReadInt64()),
            "r.score" => ReadScoreSlot(r),
            "r.scored" => ReadSlotScored(r),
            "r.failed" => new ScoringFailed(r.ReadString(), r.ReadString()),
            "c.work" => new CritiqueWork(r.ReadString(), r.ReadString(), r.ReadInt64(), ReadLongs(r), r.ReadString(), ReadInts(r), r.ReadString(), r.ReadInt32(), r.ReadInt32()),
            "c.done" => ReadCritiqueDone(r),
            "fx.request" => new RequestExploration(r.ReadString()),
            "fx.task" => ReadExploreTask(r),
            "fx.groups" => ReadExploredGroups(r),
            "fx.weights" => ReadFlowWeights(r),
            "fx.reward-get" => new GetRewardModel(r.ReadString()),
            "fx.reward-model" => new RewardModel(r.ReadString(), r.ReadBytes(r.ReadInt32())),
            _ => throw new SerializationException($"unknown manifest '{manifest}'"),
        };
    }

    // ---- Weights by reference and the frame check (issue 14) ----

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

    /// <summary>Weight bytes inline (length, bytes), or, when larger than the offload threshold (or already by reference),
    /// length -1 and a <see cref="Runtime.Weights.WeightsRef"/> to this node's weight server.</summary>
    private void WriteWeightBytes(BinaryWriter w, long version, byte[] bytes, Runtime.Weights.WeightsRef? remote)
    {
        if (remote is null)
        {
            var distribution = Runtime.Weights.WeightDistribution.Get(system);
            if (!distribution.ShouldOffload(bytes.LongLength)) { w.Write(bytes.Length); w.Write(bytes); return; }
            remote = distribution.Offload(version, bytes);
        }
        w.Write(-1); w.Write(remote.Version); w.Write(remote.Size); w.Write(remote.Sha256); w.Write(remote.Endpoint);
    }

    private static (byte[] Bytes, Runtime.Weights.WeightsRef? Remote) ReadWeightBytes(BinaryReader r)
    {
        int n = r.ReadInt32();
        if (n >= 0) return (r.ReadBytes(n), null);
        return ([], new Runtime.Weights.WeightsRef(r.ReadInt64(), r.ReadInt64(), r.ReadString(), r.ReadString()));
    }

    private static PolicyWeights ReadPolicyWeights(BinaryReader r)
    {
        long v = r.ReadInt64(); int vocab = r.ReadInt32(), d = r.ReadInt32(), layers = r.ReadInt32(), heads = r.ReadInt32(), context = r.ReadInt32(), mlp = r.ReadInt32();
        var (bytes, remote) = ReadWeightBytes(r);
        return new PolicyWeights(v, vocab, d, layers, heads, context, mlp, bytes, remote);
    }

    private static FlowWeights ReadFlowWeights(BinaryReader r)
    {
        long v = r.ReadInt64(); var model = ReadFlowModel(r);
        var (bytes, remote) = ReadWeightBytes(r);
        return new FlowWeights(v, model, bytes, remote);
    }

    private static ScoreSlot ReadScoreSlot(BinaryReader r)
    {
        string exp = r.ReadString(); long step = r.ReadInt64(); int slot = r.ReadInt32(); long version = r.ReadInt64();
        var task = ReadTask(r);
        var specs = new RewardSpecDto[r.ReadInt32()];
        for (int i = 0; i < specs.Length; i++) specs[i] = new RewardSpecDto(r.ReadString(), ReadNullable(r), r.ReadDouble(), r.ReadDouble(), ReadNullable(r));
        return new ScoreSlot(exp, step, slot, version, task, specs, ReadGroups(r));
    }

    private static SlotScored ReadSlotScored(BinaryReader r)
    {
        string exp = r.ReadString(); long step = r.ReadInt64(); int slot = r.ReadInt32();
        var rewards = new float[r.ReadInt32()][];
        for (int i = 0; i < rewards.Length; i++) rewards[i] = ReadFloats(r);
        var correct = ReadInts(r); int failures = r.ReadInt32();
        var names = new string[r.ReadInt32()];
        for (int i = 0; i < names.Length; i++) names[i] = r.ReadString();
        float[][]?[]? extras = null;
        if (r.ReadBoolean())
        {
            extras = new float[][]?[r.ReadInt32()];
            for (int g = 0; g < extras.Length; g++)
            {
                if (!r.ReadBoolean()) continue;
                var rows = new float[r.ReadInt32()][];
                for (int j = 0; j < rows.Length; j++) rows[j] = ReadFloats(r);
                extras[g] = rows;
            }
        }
        int counterCount = r.ReadInt32();
        Dictionary<string, double>? counters = counterCount == 0 ? null : new Dictionary<string, double>(counterCount);
        for (int i = 0; i < counterCount; i++) counters![r.ReadString()] = r.ReadDouble();
        return new SlotScored(exp, step, slot, rewards, correct, failures, names, extras, counters);
    }

    private static CritiqueDone ReadCritiqueDone(BinaryReader r)
    {
        string id = r.ReadString();
        var critiques = new CritiqueDto[r.ReadInt32()];
        for (int i = 0; i < critiques.Length; i++) critiques[i] = new CritiqueDto(r.ReadInt32(), ReadInts(r), ReadNullable(r));
        return new CritiqueDone(id, critiques);
    }

    private static ExploreTask ReadExploreTask(BinaryReader r)
    {
        string exp = r.ReadString(); long step = r.ReadInt64(); int task = r.ReadInt32(); long version = r.ReadInt64();
        var specs = new FlowGroupSpec[r.ReadInt32()];
        for (int i = 0; i < specs.Length; i++) specs[i] = new FlowGroupSpec(r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadUInt64(), r.ReadInt64());
        var sampling = new FlowSamplingOptions { Steps = r.ReadInt32(), NoiseLevel = r.ReadDouble(), LogProb = (LogProbReduction)r.ReadInt32() };
        return new ExploreTask(exp, step, task, version, specs, sampling, r.ReadString(), r.ReadString());
    }

    private static ExploredGroups ReadExploredGroups(BinaryReader r)
    {
        string exp = r.ReadString(); long step = r.ReadInt64(); int task = r.ReadInt32(); long version = r.ReadInt64(); string explorer = r.ReadString();
        var groups = new FlowRolloutGroup[r.ReadInt32()];
        for (int i = 0; i < groups.Length; i++) groups[i] = ReadFlowGroup(r);
        return new ExploredGroups(exp, step, task, version, explorer, groups, r.ReadDouble());
    }

    private static void WriteFlowGroup(BinaryWriter w, FlowRolloutGroup g)
    {
        w.Write(g.Class); w.Write(g.BranchStep); w.Write(g.Steps); w.Write(g.NoiseLevel); w.Write(g.Dim); w.Write(g.Members);
        WriteInts(w, g.TrainedSteps); WriteFloats(w, g.Times); WriteFloats(w, g.Dts); WriteFloats(w, g.NoiseWeights);
        WriteFloats(w, g.States); WriteFloats(w, g.Next); WriteFloats(w, g.OldLogProbs); WriteFloats(w, g.Finals); WriteFloats(w, g.Rewards);
        w.Write(g.Seed); w.Write(g.GroupId); w.Write(g.PolicyVersion); w.Write(g.Nfe);
    }

    private static FlowRolloutGroup ReadFlowGroup(BinaryReader r) => new(
        r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadDouble(), r.ReadInt32(), r.ReadInt32(),
        ReadInts(r), ReadFloats(r), ReadFloats(r), ReadFloats(r),
        ReadFloats(r), ReadFloats(r), ReadFloats(r), ReadFloats(r), ReadFloats(r),
        r.ReadUInt64(), r.ReadInt64(), r.ReadInt64(), r.ReadInt64());

    private static void WriteFlowModel(BinaryWriter w, FlowModelSpec m)
    {
        w.Write((int)m.Architecture); w.Write(m.Dim); w.Write(m.Classes); w.Write(m.Width); w.Write(m.Layers);
        w.Write(m.TimeFeatures); w.Write(m.ClassEmbedding); w.Write(m.Side);
    }

    private static FlowModelSpec ReadFlowModel(BinaryReader r) => new()
    {
        Architecture = (FlowArchitecture)r.ReadInt32(), Dim = r.ReadInt32(), Classes = r.ReadInt32(), Width = r.ReadInt32(), Layers = r.ReadInt32(),
        TimeFeatures = r.ReadInt32(), ClassEmbedding = r.ReadInt32(), Side = r.ReadInt32(),
    };

    private static void WriteTask(BinaryWriter w, TaskSpec t) { w.Write(t.Kind); w.Write(t.Settings); w.Write(t.DataSeed); }
    private static TaskSpec ReadTask(BinaryReader r) => new(r.ReadString(), r.ReadString(), r.ReadUInt64());
    private static void WriteSampling(BinaryWriter w, SamplingSpec s) { w.Write(s.GroupSize); w.Write(s.Temperature); w.Write(s.TopK); w.Write(s.MaxNewTokens); }
    private static SamplingSpec ReadSampling(BinaryReader r) => new(r.ReadInt32(), r.ReadDouble(), r.ReadInt32(), r.ReadInt32());

    private static void WriteGroups(BinaryWriter w, RolloutGroup[] groups)
    {
        w.Write(groups.Length);
        foreach (var g in groups)
        {
            w.Write(g.RolloutId); w.Write(g.ProblemIndex); WriteInts(w, g.Prompt);
            w.Write(g.Completions.Length);
            foreach (var c in g.Completions) WriteInts(w, c);
            w.Write(g.LogProbs.Length);
            foreach (var l in g.LogProbs) WriteFloats(w, l);
        }
    }

    private static RolloutGroup[] ReadGroups(BinaryReader r)
    {
        var groups = new RolloutGroup[r.ReadInt32()];
        for (int i = 0; i < groups.Length; i++)
        {
            string id = r.ReadString(); long problem = r.ReadInt64(); var prompt = ReadInts(r);
            var completions = new int[r.ReadInt32()][];
            for (int j = 0; j < completions.Length; j++) completions[j] = ReadInts(r);
            var logps = new float[r.ReadInt32()][];
            for (int j = 0; j < logps.Length; j++) logps[j] = ReadFloats(r);
            groups[i] = new RolloutGroup(id, problem, prompt, completions, logps);
        }
        return groups;
    }

    private static void WriteNullable(BinaryWriter w, string? s) { w.Write(s is not null); if (s is not null) w.Write(s); }
    private static string? ReadNullable(BinaryReader r) => r.ReadBoolean() ? r.ReadString() : null;

    private static void WriteInts(BinaryWriter w, int[] xs) { w.Write(xs.Length); w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(xs.AsSpan())); }
    private static int[] ReadInts(BinaryReader r) { var xs = new int[r.ReadInt32()]; r.BaseStream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(xs.AsSpan())); return xs; }
    private static void WriteFloats(BinaryWriter w, float[] xs) { w.Write(xs.Length); w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(xs.AsSpan())); }
    private static float[] ReadFloats(BinaryReader r) { var xs = new float[r.ReadInt32()]; r.BaseStream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(xs.AsSpan())); return xs; }
    private static void WriteLongs(BinaryWriter w, long[] xs) { w.Write(xs.Length); w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(xs.AsSpan())); }
    private static long[] ReadLongs(BinaryReader r) { var xs = new long[r.ReadInt32()]; r.BaseStream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(xs.AsSpan())); return xs; }
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
