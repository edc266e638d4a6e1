namespace RlActors.Actors.Persistence;

/// <summary>What the store knows about one complete checkpoint (the blob itself is opaque to it).</summary>
/// <param name="Experiment">Experiment name.</param>
/// <param name="CheckpointId">Id, unique within the experiment.</param>
/// <param name="Step">Training step the checkpoint was taken at.</param>
/// <param name="PolicyVersion">Policy version at that step.</param>
/// <param name="Sha256">Lower-case hex SHA-256 of the whole blob as saved.</param>
/// <param name="Size">Blob size in bytes.</param>
/// <param name="Chunks">Number of chunk rows.</param>
/// <param name="CreatedAt">When it was saved (UTC, clock of the saving host).</param>
public sealed record CheckpointInfo(
    string Experiment,
    string CheckpointId,
    long Step,
    long PolicyVersion,
    string Sha256,
    long Size,
    int Chunks,
    DateTimeOffset CreatedAt);

/// <summary>A checkpoint read back and verified against its recorded SHA-256.</summary>
public sealed record StoredCheckpoint(CheckpointInfo Info, byte[] Data);

/// <summary>A stored checkpoint whose bytes do not match what was recorded (changed, truncated or missing chunks).</summary>
public sealed class CheckpointCorruptException(string experiment, string checkpointId, string reason)
    : Exception($"checkpoint '{checkpointId}' of experiment '{experiment}' is corrupt: {reason}")
{
    /// <summary>Experiment name.</summary>
    public string Experiment { get; } = experiment;
    /// <summary>The corrupt checkpoint.</summary>
    public string CheckpointId { get; } = checkpointId;
    /// <summary>What did not match.</summary>
    public string Reason { get; } = reason;
}

/// <summary>The single-writer lease of an experiment.</summary>
/// <param name="Experiment">Experiment name.</param>
/// <param name="Owner">Who holds (or held) it, e.g. "host:pid:guid".</param>
/// <param name="ExpiresAt">When it lapses unless renewed.</param>
public sealed record LeaseInfo(string Experiment, string Owner, DateTimeOffset ExpiresAt);

/// <summary>Result of <see cref="CheckpointStore.TryAcquireLease"/>.</summary>
/// <param name="Acquired">True when the caller now holds the lease.</param>
/// <param name="Holder">The lease as it is now: the caller's on success, the other owner's on refusal.</param>
public sealed record LeaseResult(bool Acquired, LeaseInfo Holder);
