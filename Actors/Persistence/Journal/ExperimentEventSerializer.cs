using System.Collections.Immutable;
using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Akka.Serialization;

namespace RlActors.Actors.Persistence;

/// <summary>
/// Binary serializer for experiment events (<see cref="IExperimentEvent"/>), the snapshot (<see cref="ExperimentState"/>)
/// and the journal actor's messages (<see cref="ExperimentJournal"/>). Manifests are fixed strings such as
/// <c>exp.step.v1</c>, never CLR type names, and the payload holds no type names either, so renaming or moving a type
/// does not break a stored journal. The format of a manifest never changes: a new layout gets a new manifest
/// (<c>.v2</c>) and the reader keeps the old one.
/// Layout: little-endian fixed-width numbers, strings as UTF-8 with a 7-bit-encoded length (BinaryWriter), DateTime as
/// <see cref="DateTime.ToBinary"/>, metrics as a count and (name, value) pairs sorted by name (ordinal).
/// </summary>
public sealed class ExperimentEventSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>Serializer id (akka.actor.serialization-identifiers). Never reuse or change it: it is stored in every row.</summary>
    public const int Id = 7240;

    /// <summary>Name under akka.actor.serializers.</summary>
    public const string Name = "rl-experiment";

    /// <summary>Manifest of <see cref="ExperimentStarted"/>.</summary>
    public const string StartedManifest = "exp.started.v1";
    /// <summary>Manifest of <see cref="StepCompleted"/>.</summary>
    public const string StepManifest = "exp.step.v1";
    /// <summary>Manifest of <see cref="EvaluationRecorded"/>.</summary>
    public const string EvaluationManifest = "exp.evaluation.v1";
    /// <summary>Manifest of <see cref="CheckpointSaved"/>.</summary>
    public const string CheckpointManifest = "exp.checkpoint.v1";
    /// <summary>Manifest of <see cref="CheckpointPruned"/>.</summary>
    public const string CheckpointPrunedManifest = "exp.checkpoint-pruned.v1";
    /// <summary>Manifest of <see cref="TotalStepsChanged"/>.</summary>
    public const string TotalStepsManifest = "exp.total-steps.v1";
    /// <summary>Manifest of <see cref="ExperimentFinished"/>.</summary>
    public const string FinishedManifest = "exp.finished.v1";
    /// <summary>Manifest of <see cref="ExperimentFailed"/>.</summary>
    public const string FailedManifest = "exp.failed.v1";
    /// <summary>Manifest of <see cref="ExperimentResumed"/>.</summary>
    public const string ResumedManifest = "exp.resumed.v1";
    /// <summary>Manifest of <see cref="ExperimentStopped"/>.</summary>
    public const string StoppedManifest = "exp.stopped.v1";
    /// <summary>Manifest of the <see cref="ExperimentState"/> snapshot.</summary>
    public const string StateManifest = "exp.state.v1";
    /// <summary>Manifest of <see cref="ExperimentJournal.Record"/>.</summary>
    public const string RecordManifest = "exp.cmd.record.v1";
    /// <summary>Manifest of <see cref="ExperimentJournal.Recorded"/>.</summary>
    public const string RecordedManifest = "exp.cmd.recorded.v1";
    /// <summary>Manifest of <see cref="ExperimentJournal.GetState"/>.</summary>
    public const string GetStateManifest = "exp.cmd.get-state.v1";

    /// <summary>Every manifest this serializer writes, by the type it is written for.</summary>
    public static readonly IReadOnlyDictionary<Type, string> Manifests = new Dictionary<Type, string>
    {
        [typeof(ExperimentStarted)] = StartedManifest, [typeof(StepCompleted)] = StepManifest, [typeof(EvaluationRecorded)] = EvaluationManifest,
        [typeof(CheckpointSaved)] = CheckpointManifest, [typeof(CheckpointPruned)] = CheckpointPrunedManifest, [typeof(TotalStepsChanged)] = TotalStepsManifest,
        [typeof(ExperimentFinished)] = FinishedManifest, [typeof(ExperimentFailed)] = FailedManifest,
        [typeof(ExperimentResumed)] = ResumedManifest, [typeof(ExperimentStopped)] = StoppedManifest, [typeof(ExperimentState)] = StateManifest,
        [typeof(ExperimentJournal.Record)] = RecordManifest, [typeof(ExperimentJournal.Recorded)] = RecordedManifest,
        [typeof(ExperimentJournal.GetState)] = GetStateManifest,
    };

    /// <summary>The types bound to this serializer (base types: every implementation of them goes here).</summary>
    public static readonly IReadOnlyList<Type> BoundTypes =
    [
        typeof(IExperimentEvent), typeof(ExperimentState), typeof(ExperimentJournal.Record), typeof(ExperimentJournal.Recorded),
        typeof(ExperimentJournal.GetState),
    ];

    /// <summary>
    /// HOCON registering this serializer, its id and its bindings. Add it to every ActorSystem that persists, recovers or
    /// exchanges experiment events (<see cref="PersistenceSetup.Hocon"/> includes it).
    /// </summary>
    public static string Hocon
    {
        get
        {
            var sb = new StringBuilder();
            string aqn = $"{typeof(ExperimentEventSerializer).FullName}, {typeof(ExperimentEventSerializer).Assembly.GetName().Name}";
            sb.Append("akka.actor {\n");
            sb.Append($"  serializers {{ {Name} = \"{aqn}\" }}\n");
            sb.Append("  serialization-bindings {\n");
            foreach (var t in BoundTypes) sb.Append($"    \"{t.FullName}, {t.Assembly.GetName().Name}\" = {Name}\n");
            sb.Append("  }\n");
            sb.Append($"  serialization-identifiers {{ \"{aqn}\" = {Id} }}\n");
            sb.Append("}\n");
            return sb.ToString();
        }
    }

    /// <inheritdoc />
    public override int Identifier => Id;

    /// <inheritdoc />
    public override string Manifest(object o) =>
        Manifests.TryGetValue(o.GetType(), out var m) ? m : throw new ArgumentException($"{nameof(ExperimentEventSerializer)} has no manifest for {o.GetType()}");

    /// <inheritdoc />
    public override byte[] ToBinary(object obj)
    {
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true)) Write(w, obj);
        return ms.ToArray();
    }

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, string manifest) => Decode(bytes, manifest);

    /// <summary>
    /// Reads a payload written under <paramref name="manifest"/> without an ActorSystem (for readers of the stored rows, e.g.
    /// <see cref="ExperimentRecords"/>). Throws <see cref="SerializationException"/> for an unknown manifest or a bad payload.
    /// </summary>
    public static object Decode(byte[] bytes, string manifest)
    {
        using var r = new BinaryReader(new MemoryStream(bytes, writable: false), Encoding.UTF8);
        object result;
        try { result = Read(r, manifest); }
        catch (EndOfStreamException e) { throw new SerializationException($"truncated payload for manifest '{manifest}' ({bytes.Length} bytes)", e); }
        if (r.BaseStream.Position != bytes.Length)
            throw new SerializationException($"{bytes.Length - r.BaseStream.Position} trailing bytes after a '{manifest}' payload");
        return result;
    }

    private void Write(BinaryWriter w, object obj)
    {
        switch (obj)
        {
            case ExperimentStarted e:
                w.Write(e.Name); w.Write(e.ConfigText); w.Write(e.ConfigSha256); w.Write(e.Seed); w.Write(e.CodeVersion); w.Write(e.TotalSteps);
                WriteTime(w, e.At); break;
            case StepCompleted e: w.Write(e.Step); w.Write(e.PolicyVersion); WriteMetrics(w, e.Metrics); WriteTime(w, e.At); break;
            case EvaluationRecorded e: w.Write(e.Phase); w.Write(e.Step); WriteMetrics(w, e.Metrics); WriteTime(w, e.At); break;
            case CheckpointSaved e: w.Write(e.Step); w.Write(e.CheckpointId); w.Write(e.Sha256); w.Write(e.Size); WriteTime(w, e.At); break;
            case CheckpointPruned e: w.Write(e.CheckpointId); WriteTime(w, e.At); break;
            case TotalStepsChanged e: w.Write(e.TotalSteps); WriteTime(w, e.At); break;
            case ExperimentFinished e: WriteTime(w, e.At); break;
            case ExperimentFailed e: w.Write(e.Reason); WriteTime(w, e.At); break;
            case ExperimentResumed e: w.Write(e.FromStep); w.Write(e.Host); WriteTime(w, e.At); break;
            case ExperimentStopped e: w.Write(e.Step); w.Write(e.Reason); WriteTime(w, e.At); break;
            case ExperimentState s:
                w.Write(s.Name); w.Write((int)s.Status); w.Write(s.ConfigText); w.Write(s.ConfigSha256); w.Write(s.Seed); w.Write(s.CodeVersion);
                w.Write(s.TotalSteps); w.Write(s.Step); w.Write(s.PolicyVersion); WriteMetrics(w, s.LastMetrics);
                w.Write(s.Checkpoints.Count);
                foreach (var c in s.Checkpoints) WriteCheckpoint(w, c);
                w.Write(s.LastCheckpoint is not null);
                if (s.LastCheckpoint is not null) WriteCheckpoint(w, s.LastCheckpoint);
                w.Write(s.LastUpdate.HasValue);
                if (s.LastUpdate.HasValue) WriteTime(w, s.LastUpdate.Value);
                w.Write(s.FailureReason is not null);
                if (s.FailureReason is not null) w.Write(s.FailureReason);
                w.Write(s.Resumes);
                break;
            case ExperimentJournal.Record c:
                w.Write(Manifest(c.Event));
                var inner = ToBinary(c.Event);
                w.Write(inner.Length); w.Write(inner); break;
            case ExperimentJournal.Recorded c: w.Write(c.SequenceNr); w.Write(c.Applied); break;
            case ExperimentJournal.GetState: break;
            default: throw new ArgumentException($"{nameof(ExperimentEventSerializer)} cannot serialize {obj.GetType()}");
        }
    }

    private static object Read(BinaryReader r, string manifest) => manifest switch
    {
        StartedManifest => new ExperimentStarted(r.ReadString(), r.ReadString(), r.ReadString(), r.ReadUInt64(), r.ReadString(), r.ReadInt64(), ReadTime(r)),
        StepManifest => new StepCompleted(r.ReadInt64(), r.ReadInt64(), ReadMetrics(r), ReadTime(r)),
        EvaluationManifest => new EvaluationRecorded(r.ReadString(), r.ReadInt64(), ReadMetrics(r), ReadTime(r)),
        CheckpointManifest => new CheckpointSaved(r.ReadInt64(), r.ReadString(), r.ReadString(), r.ReadInt64(), ReadTime(r)),
        CheckpointPrunedManifest => new CheckpointPruned(r.ReadString(), ReadTime(r)),
        TotalStepsManifest => new TotalStepsChanged(r.ReadInt64(), ReadTime(r)),
        FinishedManifest => new ExperimentFinished(ReadTime(r)),
        FailedManifest => new ExperimentFailed(r.ReadString(), ReadTime(r)),
        ResumedManifest => new ExperimentResumed(r.ReadInt64(), r.ReadString(), ReadTime(r)),
        StoppedManifest => new ExperimentStopped(r.ReadInt64(), r.ReadString(), ReadTime(r)),
        StateManifest => ReadState(r),
        RecordManifest => ReadRecord(r),
        RecordedManifest => new ExperimentJournal.Recorded(r.ReadInt64(), r.ReadBoolean()),
        GetStateManifest => ExperimentJournal.GetState.Instance,
        _ => throw new SerializationException($"unknown experiment manifest '{manifest}' (this build reads: {string.Join(", ", Manifests.Values)})"),
    };

    private static ExperimentJournal.Record ReadRecord(BinaryReader r)
    {
        string manifest = r.ReadString();
        int n = r.ReadInt32();
        if (n < 0 || n > r.BaseStream.Length - r.BaseStream.Position) throw new SerializationException($"bad inner length {n} in a record command");
        var inner = Decode(r.ReadBytes(n), manifest);
        return new ExperimentJournal.Record(inner as IExperimentEvent
            ?? throw new SerializationException($"record command holds '{manifest}', which is not an experiment event"));
    }

    private static ExperimentState ReadState(BinaryReader r)
    {
        string name = r.ReadString();
        int status = r.ReadInt32();
        if (!Enum.IsDefined((ExperimentStatus)status)) throw new SerializationException($"unknown experiment status {status} in a snapshot");
        string configText = r.ReadString(), configSha = r.ReadString();
        ulong seed = r.ReadUInt64();
        string code = r.ReadString();
        long total = r.ReadInt64(), step = r.ReadInt64(), version = r.ReadInt64();
        var metrics = ReadMetrics(r);
        int n = r.ReadInt32();
        if (n < 0) throw new SerializationException($"negative checkpoint count {n} in a snapshot");
        var checkpoints = ImmutableList.CreateBuilder<RecordedCheckpoint>();
        for (int i = 0; i < n; i++) checkpoints.Add(ReadCheckpoint(r));
        var last = r.ReadBoolean() ? ReadCheckpoint(r) : null;
        DateTime? lastUpdate = r.ReadBoolean() ? ReadTime(r) : null;
        string? reason = r.ReadBoolean() ? r.ReadString() : null;
        int resumes = r.ReadInt32();
        return new ExperimentState
        {
            Name = name, Status = (ExperimentStatus)status, ConfigText = configText, ConfigSha256 = configSha, Seed = seed, CodeVersion = code,
            TotalSteps = total, Step = step, PolicyVersion = version, LastMetrics = metrics, Checkpoints = checkpoints.ToImmutable(),
            LastCheckpoint = last, LastUpdate = lastUpdate, FailureReason = reason, Resumes = resumes,
        };
    }

    private static void WriteCheckpoint(BinaryWriter w, RecordedCheckpoint c) { w.Write(c.Step); w.Write(c.Id); w.Write(c.Sha256); w.Write(c.Size); WriteTime(w, c.At); }
    private static RecordedCheckpoint ReadCheckpoint(BinaryReader r) => new(r.ReadInt64(), r.ReadString(), r.ReadString(), r.ReadInt64(), ReadTime(r));

    private static void WriteTime(BinaryWriter w, DateTime t) => w.Write(t.ToBinary());
    private static DateTime ReadTime(BinaryReader r) => DateTime.FromBinary(r.ReadInt64());

    private static void WriteMetrics(BinaryWriter w, IReadOnlyDictionary<string, double> metrics)
    {
        w.Write(metrics.Count);
        foreach (var (k, v) in metrics.OrderBy(kv => kv.Key, StringComparer.Ordinal)) { w.Write(k); w.Write(v); }
    }

    private static ImmutableSortedDictionary<string, double> ReadMetrics(BinaryReader r)
    {
        int n = r.ReadInt32();
        if (n < 0) throw new SerializationException($"negative metric count {n}");
        var b = ImmutableSortedDictionary.CreateBuilder<string, double>(StringComparer.Ordinal);
        for (int i = 0; i < n; i++)
        {
            string k = r.ReadString();
            if (!b.TryAdd(k, r.ReadDouble())) throw new SerializationException($"metric '{k}' appears twice");
        }
        return b.ToImmutable();
    }
}
