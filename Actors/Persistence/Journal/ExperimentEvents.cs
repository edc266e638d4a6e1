namespace RlActors.Actors.Persistence;

/// <summary>
/// An event in an experiment's persisted record. Every event is stored by <see cref="ExperimentEventSerializer"/> under
/// a fixed manifest (never a CLR type name), so these types may be renamed or moved without breaking an existing store.
/// Changing a field's meaning or order needs a new manifest version, not an edit of the old one.
/// </summary>
public interface IExperimentEvent
{
    /// <summary>When the event happened (UTC by convention; stored with its <see cref="DateTimeKind"/>).</summary>
    DateTime At { get; }
}

/// <summary>An experiment was created: its configuration (text and sha256), seed, code version and total steps.</summary>
/// <param name="Name">Experiment name; the journal's persistence id is <c>experiment-{Name}</c>.</param>
/// <param name="ConfigText">The experiment file's text as given.</param>
/// <param name="ConfigSha256">Lower-case hex sha256 of <paramref name="ConfigText"/> (see <see cref="ExperimentState.Sha256Hex(string)"/>).</param>
/// <param name="Seed">The experiment's root seed.</param>
/// <param name="CodeVersion">Version of the code that started it (e.g. assembly informational version or git commit).</param>
/// <param name="TotalSteps">Steps to run in total.</param>
/// <param name="At">When.</param>
public sealed record ExperimentStarted(string Name, string ConfigText, string ConfigSha256, ulong Seed, string CodeVersion, long TotalSteps, DateTime At)
    : IExperimentEvent;

/// <summary>
/// A training step completed. Metrics are those of this step only. A step at or below the state's current step is
/// ignored by <see cref="ExperimentState.Apply"/>, so a step recomputed after a resume is recorded once.
/// </summary>
/// <param name="Step">The completed step, 1-based.</param>
/// <param name="PolicyVersion">Policy version after the step's update.</param>
/// <param name="Metrics">Metric name to value.</param>
/// <param name="At">When.</param>
public sealed record StepCompleted(long Step, long PolicyVersion, IReadOnlyDictionary<string, double> Metrics, DateTime At) : IExperimentEvent
{
    /// <summary>Value equality, including the metrics' contents (order-independent).</summary>
    public bool Equals(StepCompleted? other) =>
        other is not null && Step == other.Step && PolicyVersion == other.PolicyVersion && At == other.At
        && ExperimentState.SameMetrics(Metrics, other.Metrics);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Step, PolicyVersion, Metrics.Count, At);
}

/// <summary>
/// An evaluation (a line of eval.jsonl): kept in the journal so that a resume, also on another machine, rebuilds the
/// evaluations up to its checkpoint. It does not change the <see cref="ExperimentState"/>.
/// </summary>
/// <param name="Phase">E.g. "sft", "step", "final", "epoch", "pretrained".</param>
/// <param name="Step">The step it evaluated.</param>
/// <param name="Metrics">Metric name to value.</param>
/// <param name="At">When.</param>
public sealed record EvaluationRecorded(string Phase, long Step, IReadOnlyDictionary<string, double> Metrics, DateTime At) : IExperimentEvent
{
    /// <summary>Value equality, including the metrics' contents (order-independent).</summary>
    public bool Equals(EvaluationRecorded? other) =>
        other is not null && Phase == other.Phase && Step == other.Step && At == other.At && ExperimentState.SameMetrics(Metrics, other.Metrics);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Phase, Step, Metrics.Count, At);
}

/// <summary>A checkpoint was written completely and its checksum recorded.</summary>
/// <param name="Step">The last step included in the checkpoint.</param>
/// <param name="CheckpointId">The checkpoint's id in the checkpoint store.</param>
/// <param name="Sha256">Lower-case hex sha256 of the checkpoint as stored.</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="At">When.</param>
public sealed record CheckpointSaved(long Step, string CheckpointId, string Sha256, long Size, DateTime At) : IExperimentEvent;

/// <summary>
/// A checkpoint recorded by <see cref="CheckpointSaved"/> was deleted from the store (only the last
/// <c>runtime.keep-checkpoints</c> are kept), so the record lists only checkpoints that a resume can still use.
/// </summary>
/// <param name="CheckpointId">The deleted checkpoint's id.</param>
/// <param name="At">When.</param>
public sealed record CheckpointPruned(string CheckpointId, DateTime At) : IExperimentEvent;

/// <summary>The experiment's total step count was changed (e.g. <c>resume --steps N</c>).</summary>
public sealed record TotalStepsChanged(long TotalSteps, DateTime At) : IExperimentEvent;

/// <summary>The experiment ran all its steps.</summary>
public sealed record ExperimentFinished(DateTime At) : IExperimentEvent;

/// <summary>The experiment stopped on an error.</summary>
/// <param name="Reason">What went wrong, for a person.</param>
/// <param name="At">When.</param>
public sealed record ExperimentFailed(string Reason, DateTime At) : IExperimentEvent;

/// <summary>The experiment was resumed from the checkpoint at <paramref name="FromStep"/> on <paramref name="Host"/>.</summary>
public sealed record ExperimentResumed(long FromStep, string Host, DateTime At) : IExperimentEvent;

/// <summary>
/// The experiment was stopped on request (SIGINT or SIGTERM) at a step boundary, after the checkpoint of
/// <paramref name="Step"/> (its last completed step) was stored; <c>resume</c> continues from there.
/// </summary>
/// <param name="Step">The last completed step, which the latest checkpoint holds.</param>
/// <param name="Reason">Why, for a person (e.g. "SIGTERM").</param>
/// <param name="At">When.</param>
public sealed record ExperimentStopped(long Step, string Reason, DateTime At) : IExperimentEvent;
