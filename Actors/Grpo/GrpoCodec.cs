using RlActors.Actors.Protocol;
using RlActors.Actors.Serialization;
using static RlActors.Actors.Protocol.RewardProtocol;
using static RlActors.Actors.Protocol.SamplerProtocol;
using static RlActors.Actors.Protocol.WeightsProtocol;

namespace RlActors.Actors.Grpo;

/// <summary>The wire format of a language-model experiment's messages: sampling slots, rollouts, policy weights and scoring.</summary>
internal sealed class GrpoCodec : IPayloadCodec
{
    public string Prefix => "lm";

    public IReadOnlyDictionary<Type, string> Manifests { get; } = new Dictionary<Type, string>
    {
        [typeof(SampleTask)] = "lm.task", [typeof(SlotRollouts)] = "lm.rollouts", [typeof(CannotSample)] = "lm.cannot",
        [typeof(PolicyWeights)] = "lm.weights", [typeof(ScoreSlot)] = "lm.score", [typeof(SlotScored)] = "lm.scored",
        [typeof(ScoringFailed)] = "lm.score-failed",
    };

    public void Write(BinaryWriter w, object message, Akka.Actor.ExtendedActorSystem system)
    {
        switch (message)
        {
            case SampleTask m:
                w.Write(m.Experiment); w.Write(m.Step); w.Write(m.Slot); w.Write(m.PolicyVersion); w.WriteLongs(m.ProblemIndices);
                WriteTask(w, m.Task); WriteSampling(w, m.Sampling); w.Write(m.SampleSeed); break;
            case SlotRollouts m:
                w.Write(m.Experiment); w.Write(m.Step); w.Write(m.Slot); w.Write(m.PolicyVersion); w.Write(m.SamplerId);
                WriteGroups(w, m.Groups); w.Write(m.GeneratedTokens); w.Write(m.SampleSeconds); break;
            case CannotSample m: w.Write(m.Experiment); w.Write(m.Reason); break;
            case PolicyWeights m:
                w.Write(m.Version); w.Write(m.Model); w.WriteWeightBytes(system, m.Version, m.Bytes, m.Remote); break;
            case ScoreSlot m:
                w.Write(m.Experiment); w.Write(m.Step); w.Write(m.Slot); w.Write(m.PolicyVersion); WriteTask(w, m.Task);
                w.Write(m.Rewards.Length);
                foreach (var r in m.Rewards) { w.Write(r.Type); w.WriteNullable(r.Assembly); w.Write(r.Weight); w.Write(r.TimeoutSeconds); w.WriteNullable(r.Settings); }
                WriteGroups(w, m.Groups); break;
            case ScoringFailed m: w.Write(m.Experiment); w.Write(m.Reason); break;
            case SlotScored m:
                w.Write(m.Experiment); w.Write(m.Step); w.Write(m.Slot); w.Write(m.Rewards.Length);
                foreach (var r in m.Rewards) w.WriteFloats(r);
                w.WriteInts(m.Correct); w.Write(m.Failures); w.Write(m.FailedComponents.Length);
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
                        foreach (var row in g) w.WriteFloats(row);
                    }
                }
                w.Write(m.Counters?.Count ?? 0);
                foreach (var (k, v) in m.Counters ?? new Dictionary<string, double>()) { w.Write(k); w.Write(v); }
                break;
        }
    }

    public object Read(BinaryReader r, string manifest) => manifest switch
    {
        "lm.task" => new SampleTask(r.ReadString(), r.ReadInt64(), r.ReadInt32(), r.ReadInt64(), r.ReadLongs(), ReadTask(r), ReadSampling(r), r.ReadUInt64()),
        "lm.rollouts" => new SlotRollouts(r.ReadString(), r.ReadInt64(), r.ReadInt32(), r.ReadInt64(), r.ReadString(), ReadGroups(r), r.ReadInt64(), r.ReadDouble()),
        "lm.cannot" => new CannotSample(r.ReadString(), r.ReadString()),
        "lm.weights" => ReadPolicyWeights(r),
        "lm.score" => ReadScoreSlot(r),
        "lm.scored" => ReadSlotScored(r),
        _ => new ScoringFailed(r.ReadString(), r.ReadString()),
    };

    private static PolicyWeights ReadPolicyWeights(BinaryReader r)
    {
        long v = r.ReadInt64();
        string model = r.ReadString();
        var (bytes, remote) = r.ReadWeightBytes();
        return new PolicyWeights(v, model, bytes, remote);
    }

    private static ScoreSlot ReadScoreSlot(BinaryReader r)
    {
        string exp = r.ReadString(); long step = r.ReadInt64(); int slot = r.ReadInt32(); long version = r.ReadInt64();
        var task = ReadTask(r);
        var specs = new RewardSpecDto[r.ReadInt32()];
        for (int i = 0; i < specs.Length; i++) specs[i] = new RewardSpecDto(r.ReadString(), r.ReadNullable(), r.ReadDouble(), r.ReadDouble(), r.ReadNullable());
        return new ScoreSlot(exp, step, slot, version, task, specs, ReadGroups(r));
    }

    private static SlotScored ReadSlotScored(BinaryReader r)
    {
        string exp = r.ReadString(); long step = r.ReadInt64(); int slot = r.ReadInt32();
        var rewards = new float[r.ReadInt32()][];
        for (int i = 0; i < rewards.Length; i++) rewards[i] = r.ReadFloats();
        var correct = r.ReadInts(); int failures = r.ReadInt32();
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
                for (int j = 0; j < rows.Length; j++) rows[j] = r.ReadFloats();
                extras[g] = rows;
            }
        }
        int counterCount = r.ReadInt32();
        Dictionary<string, double>? counters = counterCount == 0 ? null : new Dictionary<string, double>(counterCount);
        for (int i = 0; i < counterCount; i++) counters![r.ReadString()] = r.ReadDouble();
        return new SlotScored(exp, step, slot, rewards, correct, failures, names, extras, counters);
    }

    private static void WriteTask(BinaryWriter w, TaskSpec t) { w.Write(t.Kind); w.Write(t.Settings); w.Write(t.DataSeed); w.WriteNullable(t.Tokenizer); }
    private static TaskSpec ReadTask(BinaryReader r) => new(r.ReadString(), r.ReadString(), r.ReadUInt64(), r.ReadNullable());
    private static void WriteSampling(BinaryWriter w, SamplingSpec s) { w.Write(s.GroupSize); w.Write(s.Temperature); w.Write(s.TopK); w.Write(s.MaxNewTokens); }
    private static SamplingSpec ReadSampling(BinaryReader r) => new(r.ReadInt32(), r.ReadDouble(), r.ReadInt32(), r.ReadInt32());

    private static void WriteGroups(BinaryWriter w, RolloutGroup[] groups)
    {
        w.Write(groups.Length);
        foreach (var g in groups)
        {
            w.Write(g.RolloutId); w.Write(g.ProblemIndex); w.WriteInts(g.Prompt);
            w.Write(g.Completions.Length);
            foreach (var c in g.Completions) w.WriteInts(c);
            w.Write(g.LogProbs.Length);
            foreach (var l in g.LogProbs) w.WriteFloats(l);
        }
    }

    private static RolloutGroup[] ReadGroups(BinaryReader r)
    {
        var groups = new RolloutGroup[r.ReadInt32()];
        for (int i = 0; i < groups.Length; i++)
        {
            string id = r.ReadString(); long problem = r.ReadInt64(); var prompt = r.ReadInts();
            var completions = new int[r.ReadInt32()][];
            for (int j = 0; j < completions.Length; j++) completions[j] = r.ReadInts();
            var logps = new float[r.ReadInt32()][];
            for (int j = 0; j < logps.Length; j++) logps[j] = r.ReadFloats();
            groups[i] = new RolloutGroup(id, problem, prompt, completions, logps);
        }
        return groups;
    }
}
