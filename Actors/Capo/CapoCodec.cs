using RlActors.Actors.Serialization;
using static RlActors.Actors.Protocol.CritiqueProtocol;

namespace RlActors.Actors.Capo;

/// <summary>The wire format of CAPO's critique requests and replies (vote aggregator ↔ voters).</summary>
internal sealed class CapoCodec : IPayloadCodec
{
    public string Prefix => "c";

    public IReadOnlyDictionary<Type, string> Manifests { get; } = new Dictionary<Type, string>
    {
        [typeof(CritiqueWork)] = "c.work", [typeof(CritiqueDone)] = "c.done",
    };

    public void Write(BinaryWriter w, object message, Akka.Actor.ExtendedActorSystem system)
    {
        switch (message)
        {
            case CritiqueWork m:
                w.Write(m.RequestId); w.Write(m.ResponseKey); w.Write(m.ProblemIndex); w.WriteLongs(m.Operands); w.Write(m.Operators);
                w.WriteInts(m.Completion); w.Write(m.Judge); w.Write(m.Count); w.Write(m.FirstIndex); break;
            case CritiqueDone m:
                w.Write(m.RequestId); w.Write(m.Critiques.Length);
                foreach (var c in m.Critiques) { w.Write(c.Status); w.WriteInts(c.WrongSteps); w.WriteNullable(c.Detail); }
                break;
        }
    }

    public object Read(BinaryReader r, string manifest)
    {
        if (manifest == "c.work")
            return new CritiqueWork(r.ReadString(), r.ReadString(), r.ReadInt64(), r.ReadLongs(), r.ReadString(), r.ReadInts(), r.ReadString(), r.ReadInt32(), r.ReadInt32());
        string id = r.ReadString();
        var critiques = new CritiqueDto[r.ReadInt32()];
        for (int i = 0; i < critiques.Length; i++) critiques[i] = new CritiqueDto(r.ReadInt32(), r.ReadInts(), r.ReadNullable());
        return new CritiqueDone(id, critiques);
    }
}
