namespace RlActors.Rewards;

/// <summary>
/// A reward computed in-process from the group alone: verifiable rewards, format checks, length penalties.
/// Implementations should be pure (the same group gives the same scores) and cheap; the runtime may call
/// <see cref="Score"/> from any thread, so keep no mutable state or guard it. A plug-in class needs a public
/// parameterless constructor.
/// </summary>
public interface IRewardFunction
{
    /// <summary>A short stable name, used in metrics and logs (e.g. "outcome").</summary>
    string Name { get; }

    /// <summary>Scores every sample of <paramref name="group"/>.</summary>
    GroupScores Score(RewardGroup group);
}

/// <summary>
/// A reward that waits on something: a scoring service, an LLM judge, a remote verifier. Honour
/// <paramref name="ct"/> in <see cref="ScoreAsync"/>: it is cancelled when the reward's timeout expires or the
/// runtime stops. A plug-in class needs a public parameterless constructor.
/// </summary>
public interface IAsyncRewardFunction
{
    /// <summary>A short stable name, used in metrics and logs (e.g. "judge").</summary>
    string Name { get; }

    /// <summary>Scores every sample of <paramref name="group"/>.</summary>
    /// <param name="group">The group to score.</param>
    /// <param name="ct">Cancelled on timeout or shutdown.</param>
    Task<GroupScores> ScoreAsync(RewardGroup group, CancellationToken ct);
}

/// <summary>Helpers for reward functions.</summary>
public static class RewardFunctions
{
    /// <summary>
    /// Adapts a synchronous reward to <see cref="IAsyncRewardFunction"/>: <c>ScoreAsync</c> calls
    /// <see cref="IRewardFunction.Score"/> on the calling thread and returns its result as a completed task
    /// (an exception becomes a faulted task). The name is the wrapped reward's.
    /// </summary>
    public static IAsyncRewardFunction AsAsync(IRewardFunction function)
    {
        ArgumentNullException.ThrowIfNull(function);
        return new SyncAdapter(function);
    }

    private sealed class SyncAdapter(IRewardFunction inner) : IAsyncRewardFunction
    {
        public string Name => inner.Name;

        public Task<GroupScores> ScoreAsync(RewardGroup group, CancellationToken ct)
        {
            if (ct.IsCancellationRequested)
                return Task.FromCanceled<GroupScores>(ct);
            try
            {
                return Task.FromResult(inner.Score(group));
            }
            catch (Exception e)
            {
                return Task.FromException<GroupScores>(e);
            }
        }

        public override string ToString() => $"{inner} (sync)";
    }
}
