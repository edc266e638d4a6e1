namespace RlActors.Rewards;

/// <summary>How a guarded reward call ended.</summary>
public enum FailureKind
{
    /// <summary>The reward returned valid scores.</summary>
    None,

    /// <summary>The reward threw (or returned a faulted task, or a null task or null scores).</summary>
    Threw,

    /// <summary>The reward did not finish within its timeout (whether or not it honoured cancellation).</summary>
    TimedOut,

    /// <summary>The reward returned scores that break the contract: NaN, ±∞ or wrong lengths.</summary>
    InvalidValue,

    /// <summary>The caller's cancellation token was cancelled (e.g. the runtime is stopping) before the reward finished.</summary>
    Cancelled,
}

/// <summary>The outcome of <see cref="RewardGuard.RunAsync"/>.</summary>
/// <param name="Scores">The validated scores, or null when the call failed.</param>
/// <param name="Failure">A one-line description naming the reward and what went wrong, or null on success.</param>
/// <param name="Kind">How the call ended.</param>
public sealed record GuardedResult(GroupScores? Scores, string? Failure, FailureKind Kind)
{
    /// <summary>Whether the reward returned valid scores.</summary>
    public bool Succeeded => Kind == FailureKind.None;
}

/// <summary>
/// Runs a reward function so that nothing it does can hurt the caller: it runs on the thread pool, is given a
/// deadline, and its exceptions and invalid values are turned into a <see cref="GuardedResult"/>.
/// This is the containment logic of the reward actors, kept free of Akka so it can be tested alone.
/// </summary>
public static class RewardGuard
{
    /// <summary>
    /// Scores <paramref name="group"/> with <paramref name="function"/> under a timeout. Never throws.
    /// </summary>
    /// <remarks>
    /// <para><c>ScoreAsync</c> is started with <see cref="Task.Run(Func{Task})"/>, so a reward that blocks
    /// synchronously (or a synchronous reward adapted by <see cref="RewardFunctions.AsAsync"/>) cannot block the
    /// caller. The token it receives is cancelled when <paramref name="timeout"/> expires or
    /// <paramref name="ct"/> is cancelled.</para>
    /// <para>At the deadline the call returns <see cref="FailureKind.TimedOut"/> without waiting for the reward:
    /// a reward that ignores cancellation keeps its thread until it finishes, and its eventual result or exception
    /// is observed and discarded.</para>
    /// <para>Scores are checked with <see cref="GroupScores.Validate"/>; a violation is
    /// <see cref="FailureKind.InvalidValue"/>.</para>
    /// </remarks>
    /// <param name="function">The reward.</param>
    /// <param name="group">The group to score.</param>
    /// <param name="timeout">How long the reward may take; <see cref="Timeout.InfiniteTimeSpan"/> for no limit.</param>
    /// <param name="ct">The caller's token; when cancelled the call returns <see cref="FailureKind.Cancelled"/>.</param>
    public static async Task<GuardedResult> RunAsync(IAsyncRewardFunction function, RewardGroup group, TimeSpan timeout, CancellationToken ct)
    {
        if (function is null)
            return new GuardedResult(null, "reward function is null", FailureKind.Threw);
        string name = SafeName(function);
        if (group is null)
            return new GuardedResult(null, $"reward '{name}' was given no group", FailureKind.Threw);
        if (timeout < TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
            return new GuardedResult(null, $"reward '{name}' has a negative timeout {timeout}", FailureKind.Threw);
        if (ct.IsCancellationRequested)
            return Cancelled(name);

        // Not disposed while the reward may still use the token: an abandoned call disposes them when it ends.
        var deadline = new CancellationTokenSource();
        var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, deadline.Token);
        CancellationToken token = linked.Token;

        Task<GroupScores> work = Task.Run(async () =>
        {
            Task<GroupScores>? pending = function.ScoreAsync(group, token);
            if (pending is null)
                throw new InvalidOperationException("ScoreAsync returned a null task");
            return await pending.ConfigureAwait(false);
        }, CancellationToken.None);

        if (timeout != Timeout.InfiniteTimeSpan && timeout.TotalMilliseconds < int.MaxValue)
            deadline.CancelAfter(timeout); // longer than ~24 days counts as no limit

        // Completes when the deadline passes or the caller cancels, whichever comes first.
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task first;
        using (token.Register(static s => ((TaskCompletionSource)s!).TrySetResult(), stop))
            first = await Task.WhenAny(work, stop.Task).ConfigureAwait(false);
        bool timedOut = deadline.IsCancellationRequested;
        if (first != work)
        {
            Abandon(work, deadline, linked);
            return ct.IsCancellationRequested ? Cancelled(name) : TimedOut(name, timeout);
        }
        linked.Dispose();
        deadline.Dispose();

        if (work.IsCanceled || (work.IsFaulted && work.Exception!.InnerException is OperationCanceledException))
        {
            if (ct.IsCancellationRequested)
                return Cancelled(name);
            if (timedOut)
                return TimedOut(name, timeout);
        }
        if (work.IsCanceled)
            return new GuardedResult(null, $"reward '{name}' cancelled itself", FailureKind.Threw);
        if (work.IsFaulted)
        {
            Exception e = work.Exception!.InnerExceptions.Count == 1 ? work.Exception.InnerException! : work.Exception;
            return new GuardedResult(null, $"reward '{name}' threw {e.GetType().Name}: {e.Message}", FailureKind.Threw);
        }

        GroupScores scores = work.Result;
        if (scores is null)
            return new GuardedResult(null, $"reward '{name}' returned no scores (null)", FailureKind.Threw);
        try
        {
            scores.Validate(group);
        }
        catch (RewardContractException e)
        {
            return new GuardedResult(null, $"reward '{name}' returned invalid scores: {e.Message}", FailureKind.InvalidValue);
        }
        catch (Exception e)
        {
            return new GuardedResult(null, $"reward '{name}' returned scores that could not be checked: {e.Message}", FailureKind.InvalidValue);
        }
        return new GuardedResult(scores, null, FailureKind.None);
    }

    /// <summary>The reward's name, or its type name when the Name property throws or is empty.</summary>
    private static string SafeName(IAsyncRewardFunction function)
    {
        try
        {
            string? name = function.Name;
            if (!string.IsNullOrWhiteSpace(name))
                return name;
        }
        catch (Exception)
        {
            // A plug-in whose Name throws is still named by its type.
        }
        return function.GetType().FullName ?? function.GetType().Name;
    }

    private static GuardedResult TimedOut(string name, TimeSpan timeout) =>
        new(null, $"reward '{name}' timed out after {timeout.TotalSeconds:0.###} s", FailureKind.TimedOut);

    private static GuardedResult Cancelled(string name) =>
        new(null, $"reward '{name}' was cancelled by the caller", FailureKind.Cancelled);

    /// <summary>
    /// Lets an abandoned call run to its end: then observes its exception (so it is not reported as unobserved)
    /// and disposes the token sources it was given.
    /// </summary>
    private static void Abandon(Task work, CancellationTokenSource deadline, CancellationTokenSource linked) =>
        work.ContinueWith(t =>
        {
            _ = t.Exception;
            linked.Dispose();
            deadline.Dispose();
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
}
