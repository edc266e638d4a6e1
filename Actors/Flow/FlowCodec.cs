using RlActors.Actors.Serialization;
using RlActors.Policies.Flow;
using static RlActors.Actors.Flow.FlowProtocol;

namespace RlActors.Actors.Flow;

/// <summary>The wire format of a flow experiment's messages: explorer tasks, explored groups, weights and the reward model.</summary>
internal sealed class FlowCodec : IPayloadCodec
{
    public string Prefix => "fx";

    public IReadOnlyDictionary<Type, string> Manifests { get; } = new Dictionary<Type, string>
    {
        [typeof(ExploreTask)] = "fx.task", [typeof(ExploredGroups)] = "fx.groups", [typeof(FlowWeights)] = "fx.weights",
        [typeof(GetRewardModel)] = "fx.reward-get", [typeof(RewardModel)] = "fx.reward-model",
    };

    public void Write(BinaryWriter w, object message, Akka.Actor.ExtendedActorSystem system)
    {
        switch (message)
        {
            case ExploreTask m:
                w.Write(m.Experiment); w.Write(m.Step); w.Write(m.Task); w.Write(m.PolicyVersion);
                w.Write(m.Groups.Length);
                foreach (var g in m.Groups) { w.Write(g.Class); w.Write(g.BranchStep); w.Write(g.Members); w.Write(g.Seed); w.Write(g.GroupId); }
                w.Write(m.Sampling.Steps); w.Write(m.Sampling.NoiseLevel); w.Write((int)m.Sampling.LogProb);
                w.Write(m.TaskJson); w.Write(m.RewardModelSha256); break;
            case ExploredGroups m:
                w.Write(m.Experiment); w.Write(m.Step); w.Write(m.Task); w.Write(m.PolicyVersion); w.Write(m.ExplorerId);
                w.Write(m.Groups.Length);
                foreach (var g in m.Groups) WriteGroup(w, g);
                w.Write(m.Seconds); break;
            case FlowWeights m: w.Write(m.Version); WriteModel(w, m.Model); w.WriteWeightBytes(system, m.Version, m.Bytes, m.Remote); break;
            case GetRewardModel m: w.Write(m.Sha256); break;
            case RewardModel m: w.Write(m.Sha256); w.WriteBytes(m.Bytes); break;
        }
    }

    public object Read(BinaryReader r, string manifest) => manifest switch
    {
        "fx.task" => ReadExploreTask(r),
        "fx.groups" => ReadExploredGroups(r),
        "fx.weights" => ReadFlowWeights(r),
        "fx.reward-get" => new GetRewardModel(r.ReadString()),
        _ => new RewardModel(r.ReadString(), r.ReadBytesBlock()),
    };

    private static FlowWeights ReadFlowWeights(BinaryReader r)
    {
        long v = r.ReadInt64(); var model = ReadModel(r);
        var (bytes, remote) = r.ReadWeightBytes();
        return new FlowWeights(v, model, bytes, remote);
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
        for (int i = 0; i < groups.Length; i++) groups[i] = ReadGroup(r);
        return new ExploredGroups(exp, step, task, version, explorer, groups, r.ReadDouble());
    }

    private static void WriteGroup(BinaryWriter w, FlowRolloutGroup g)
    {
        w.Write(g.Class); w.Write(g.BranchStep); w.Write(g.Steps); w.Write(g.NoiseLevel); w.Write(g.Dim); w.Write(g.Members);
        w.WriteInts(g.TrainedSteps); w.WriteFloats(g.Times); w.WriteFloats(g.Dts); w.WriteFloats(g.NoiseWeights);
        w.WriteFloats(g.States); w.WriteFloats(g.Next); w.WriteFloats(g.OldLogProbs); w.WriteFloats(g.Finals); w.WriteFloats(g.Rewards);
        w.Write(g.Seed); w.Write(g.GroupId); w.Write(g.PolicyVersion); w.Write(g.Nfe);
    }

    private static FlowRolloutGroup ReadGroup(BinaryReader r) => new(
        r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadDouble(), r.ReadInt32(), r.ReadInt32(),
        r.ReadInts(), r.ReadFloats(), r.ReadFloats(), r.ReadFloats(),
        r.ReadFloats(), r.ReadFloats(), r.ReadFloats(), r.ReadFloats(), r.ReadFloats(),
        r.ReadUInt64(), r.ReadInt64(), r.ReadInt64(), r.ReadInt64());

    private static void WriteModel(BinaryWriter w, FlowModelSpec m)
    {
        w.Write((int)m.Architecture); w.Write(m.Dim); w.Write(m.Classes); w.Write(m.Width); w.Write(m.Layers);
        w.Write(m.TimeFeatures); w.Write(m.ClassEmbedding); w.Write(m.Side);
    }

    private static FlowModelSpec ReadModel(BinaryReader r) => new()
    {
        Architecture = (FlowArchitecture)r.ReadInt32(), Dim = r.ReadInt32(), Classes = r.ReadInt32(), Width = r.ReadInt32(), Layers = r.ReadInt32(),
        TimeFeatures = r.ReadInt32(), ClassEmbedding = r.ReadInt32(), Side = r.ReadInt32(),
    };
}
