using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;

namespace RlActors.Actors.Persistence;

/// <summary>Where an experiment stands.</summary>
public enum ExperimentStatus
{
    /// <summary>No <see cref="ExperimentStarted"/> yet.</summary>
    New = 0,
    /// <summary>Started or resumed, not finished.</summary>
    Running = 1,
    /// <summary>Ran all its steps.</summary>
    Finished = 2,
    /// <summary>Stopped on an error (a resume makes it <see cref="Running"/> again).</summary>
    Failed = 3,
    /// <summary>Stopped on request (SIGINT, SIGTERM) after checkpointing its last completed step (a resume makes it <see cref="Running"/> again).</summary>
    Stopped = 4,
}

/// <summary>A checkpoint recorded by <see cref="CheckpointSaved"/>.</summary>
/// <param name="Step">The last step included.</param>
/// <param name="Id">The checkpoint's id in the checkpoint store.</param>
/// <param name="Sha256">Lower-case hex sha256 as stored.</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="At">When it was saved.</param>
public sealed record RecordedCheckpoint(long Step, string Id, string Sha256, long Size, DateTime At);

/// <summary>
/// The state of one experiment, rebuilt from its events by <see cref="Apply"/>. Immutable and pure: <see cref="Apply"/>
/// returns a new state, or this very instance when the event changes nothing (a replayed or duplicate event), so a
/// caller can tell with <see cref="object.ReferenceEquals"/> whether an event is worth persisting.
/// Equality is by value, including the metrics' and checkpoints' contents.
/// </summary>
public sealed record ExperimentState
{
    /// <summary>The state before any event.</summary>
    public static readonly ExperimentState Empty = new();

    /// <summary>Experiment name.</summary>
    public string Name { get; init; } = "";
    /// <summary>Where it stands.</summary>
    public ExperimentStatus Status { get; init; } = ExperimentStatus.New;
    /// <summary>The experiment file's text.</summary>
    public string ConfigText { get; init; } = "";
    /// <summary>Lower-case hex sha256 of <see cref="ConfigText"/> as recorded.</summary>
    public string ConfigSha256 { get; init; } = "";
    /// <summary>Root seed.</summary>
    public ulong Seed { get; init; }
    /// <summary>Version of the code that started it.</summary>
    public string CodeVersion { get; init; } = "";
    /// <summary>Steps to run in total (the latest <see cref="TotalStepsChanged"/> wins).</summary>
    public long TotalSteps { get; init; }
    /// <summary>The last completed step (0 before the first).</summary>
    public long Step { get; init; }
    /// <summary>Policy version after <see cref="Step"/>.</summary>
    public long PolicyVersion { get; init; }
    /// <summary>Metrics of <see cref="Step"/>.</summary>
    public IReadOnlyDictionary<string, double> LastMetrics { get; init; } = ImmutableSortedDictionary<string, double>.Empty.WithComparers(StringComparer.Ordinal);
    /// <summary>Every recorded checkpoint not pruned since, in the order recorded (one per id).</summary>
    public IReadOnlyList<RecordedCheckpoint> Checkpoints { get; init; } = ImmutableList<RecordedCheckpoint>.Empty;
    /// <summary>The checkpoint with the highest step (the latest recorded among equals), if any.</summary>
    public RecordedCheckpoint? LastCheckpoint { get; init; }
    /// <summary>Time of the last event that changed the state.</summary>
    public DateTime? LastUpdate { get; init; }
    /// <summary>Why it failed while <see cref="Status"/> is <see cref="ExperimentStatus.Failed"/>, or why it was stopped while it is
    /// <see cref="ExperimentStatus.Stopped"/>.</summary>
    public string? FailureReason { get; init; }
    /// <summary>How many times it was resumed.</summary>
    public int Resumes { get; init; }

    /// <summary>Checkpoints from the highest step down (latest recorded first among equal steps): the order to try on resume.</summary>
    public IEnumerable<RecordedCheckpoint> CheckpointsNewestFirst =>
        Checkpoints.Select((c, i) => (c, i)).OrderByDescending(x => x.c.Step).ThenByDescending(x => x.i).Select(x => x.c);

    /// <summary>
    /// The state after <paramref name="e"/>. Pure. Returns this instance unchanged for an event that changes nothing:
    /// a <see cref="StepCompleted"/> whose step is not above <see cref="Step"/> (so a replayed or recomputed step keeps
    /// its first metrics), a second <see cref="ExperimentStarted"/>, a checkpoint id already recorded, a repeated finish,
    /// a failure or stop with the reason already recorded, a total that is already set, or the pruning of a checkpoint not listed. A stop of a finished experiment
    /// changes nothing either.
    /// </summary>
    public ExperimentState Apply(IExperimentEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        switch (e)
        {
            case ExperimentStarted s:
                if (Status != ExperimentStatus.New) return this;
                return this with
                {
                    Name = s.Name, Status = ExperimentStatus.Running, ConfigText = s.ConfigText, ConfigSha256 = s.ConfigSha256,
                    Seed = s.Seed, CodeVersion = s.CodeVersion, TotalSteps = s.TotalSteps, LastUpdate = s.At,
                };
            case StepCompleted s:
                if (s.Step <= Step) return this;
                return this with
                {
                    Step = s.Step, PolicyVersion = s.PolicyVersion, LastMetrics = s.Metrics.ToImmutableSortedDictionary(StringComparer.Ordinal),
                    LastUpdate = s.At,
                };
            case EvaluationRecorded v:
                // Kept in the journal for resume's eval.jsonl (not in the state); a new state, so it is persisted.
                return this with { LastUpdate = v.At };
            case CheckpointSaved c:
                if (Checkpoints.Any(x => x.Id == c.CheckpointId)) return this;
                var info = new RecordedCheckpoint(c.Step, c.CheckpointId, c.Sha256, c.Size, c.At);
                return this with
                {
                    Checkpoints = Checkpoints.ToImmutableList().Add(info),
                    LastCheckpoint = LastCheckpoint is null || info.Step >= LastCheckpoint.Step ? info : LastCheckpoint,
                    LastUpdate = c.At,
                };
            case CheckpointPruned p:
                if (Checkpoints.All(x => x.Id != p.CheckpointId)) return this;
                var left = Checkpoints.Where(x => x.Id != p.CheckpointId).ToImmutableList();
                return this with
                {
                    Checkpoints = left,
                    // The highest step, the latest recorded among equals (as CheckpointSaved chooses it).
                    LastCheckpoint = left.Select((c, i) => (c, i)).OrderByDescending(x => x.c.Step).ThenByDescending(x => x.i).Select(x => x.c).FirstOrDefault(),
                    LastUpdate = p.At,
                };
            case TotalStepsChanged t:
                if (t.TotalSteps == TotalSteps) return this;
                return this with { TotalSteps = t.TotalSteps, LastUpdate = t.At };
            case ExperimentFinished f:
                if (Status == ExperimentStatus.Finished) return this;
                return this with { Status = ExperimentStatus.Finished, FailureReason = null, LastUpdate = f.At };
            case ExperimentFailed f:
                if (Status == ExperimentStatus.Failed && FailureReason == f.Reason) return this;
                return this with { Status = ExperimentStatus.Failed, FailureReason = f.Reason, LastUpdate = f.At };
            case ExperimentStopped x:
                if (Status == ExperimentStatus.Finished || (Status == ExperimentStatus.Stopped && FailureReason == x.Reason)) return this;
                return this with { Status = ExperimentStatus.Stopped, FailureReason = x.Reason, LastUpdate = x.At };
            case ExperimentResumed r:
                return this with { Status = ExperimentStatus.Running, FailureReason = null, Resumes = Resumes + 1, LastUpdate = r.At };
            default:
                throw new ArgumentException($"unknown experiment event {e.GetType().Name}", nameof(e));
        }
    }

    /// <summary>Folds <paramref name="events"/> over <see cref="Empty"/>.</summary>
    public static ExperimentState From(IEnumerable<IExperimentEvent> events) => events.Aggregate(Empty, (s, e) => s.Apply(e));

    /// <summary>Lower-case hex sha256 of the UTF-8 bytes of <paramref name="text"/> (the form of <see cref="ConfigSha256"/>).</summary>
    public static string Sha256Hex(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    /// <inheritdoc />
    public bool Equals(ExperimentState? other) =>
        other is not null
        && Name == other.Name && Status == other.Status && ConfigText == other.ConfigText && ConfigSha256 == other.ConfigSha256
        && Seed == other.Seed && CodeVersion == other.CodeVersion && TotalSteps == other.TotalSteps && Step == other.Step
        && PolicyVersion == other.PolicyVersion && SameMetrics(LastMetrics, other.LastMetrics)
        && Checkpoints.SequenceEqual(other.Checkpoints) && Equals(LastCheckpoint, other.LastCheckpoint)
        && LastUpdate == other.LastUpdate && FailureReason == other.FailureReason && Resumes == other.Resumes;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Name, Status, Step, PolicyVersion, Checkpoints.Count, LastUpdate, Resumes);

    /// <summary>Same keys with bitwise-equal values (NaN equals NaN), in any order.</summary>
    internal static bool SameMetrics(IReadOnlyDictionary<string, double> a, IReadOnlyDictionary<string, double> b)
    {
        if (ReferenceEquals(a, b)) return true;
        if (a.Count != b.Count) return false;
        foreach (var (k, v) in a)
            if (!b.TryGetValue(k, out var w) || BitConverter.DoubleToInt64Bits(v) != BitConverter.DoubleToInt64Bits(w)) return false;
        return true;
    }
}
