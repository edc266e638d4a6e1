using RlActors.Rewards;

namespace TestPlugins;

/// <summary>Throws InvalidOperationException("boom") from Score.</summary>
public sealed class ThrowingReward : IRewardFunction
{
    /// <inheritdoc />
    public string Name => "throwing";

    /// <inheritdoc />
    public GroupScores Score(RewardGroup group) => throw new InvalidOperationException("boom");
}

/// <summary>Never finishes on its own, but honours cancellation.</summary>
public sealed class HangingReward : IAsyncRewardFunction
{
    /// <inheritdoc />
    public string Name => "hanging";

    /// <inheritdoc />
    public async Task<GroupScores> ScoreAsync(RewardGroup group, CancellationToken ct)
    {
        await Task.Delay(Timeout.Infinite, ct);
        throw new InvalidOperationException("unreachable");
    }
}

/// <summary>Blocks its thread synchronously for 30 s inside ScoreAsync and ignores cancellation.</summary>
public sealed class BlockingReward : IAsyncRewardFunction
{
    /// <summary>How long a call blocks.</summary>
    public static readonly TimeSpan BlockFor = TimeSpan.FromSeconds(30);

    /// <inheritdoc />
    public string Name => "blocking";

    /// <inheritdoc />
    public Task<GroupScores> ScoreAsync(RewardGroup group, CancellationToken ct)
    {
        using var never = new ManualResetEventSlim(false);
        never.Wait(BlockFor); // deliberately not given ct
        return Task.FromResult(new GroupScores(new double[group.Samples.Count]));
    }
}

/// <summary>Returns NaN for every sample.</summary>
public sealed class NaNReward : IRewardFunction
{
    /// <inheritdoc />
    public string Name => "nan";

    /// <inheritdoc />
    public GroupScores Score(RewardGroup group)
    {
        var sequence = new double[group.Samples.Count];
        Array.Fill(sequence, double.NaN);
        return new GroupScores(sequence);
    }
}

/// <summary>Returns one score too few.</summary>
public sealed class WrongLengthReward : IRewardFunction
{
    /// <inheritdoc />
    public string Name => "wrong-length";

    /// <inheritdoc />
    public GroupScores Score(RewardGroup group) => new(new double[Math.Max(0, group.Samples.Count - 1)]);
}

/// <summary>A valid reward without a parameterless constructor.</summary>
public sealed class NoDefaultCtorReward(double scale) : IRewardFunction
{
    /// <inheritdoc />
    public string Name => "no-default-ctor";

    /// <inheritdoc />
    public GroupScores Score(RewardGroup group) => new(Enumerable.Repeat(scale, group.Samples.Count).ToArray());
}

/// <summary>A reward whose constructor throws.</summary>
public sealed class ThrowingCtorReward : IRewardFunction
{
    /// <summary>Always throws.</summary>
    public ThrowingCtorReward() => throw new InvalidOperationException("cannot reach the scoring service");

    /// <inheritdoc />
    public string Name => "throwing-ctor";

    /// <inheritdoc />
    public GroupScores Score(RewardGroup group) => new(new double[group.Samples.Count]);
}

/// <summary>Implements neither reward interface.</summary>
public sealed class NotAReward
{
    /// <summary>Looks like a reward but is not one.</summary>
    public string Name => "not-a-reward";
}

/// <summary>Counts its instances, to show that a loaded reward's factory makes a fresh instance per call.</summary>
public sealed class CountingReward : IRewardFunction
{
    private static int _instances;

    /// <summary>Creates an instance and counts it.</summary>
    public CountingReward() => Instance = Interlocked.Increment(ref _instances);

    /// <summary>The 1-based number of this instance.</summary>
    public int Instance { get; }

    /// <inheritdoc />
    public string Name => "counting";

    /// <inheritdoc />
    public GroupScores Score(RewardGroup group) => new(Enumerable.Repeat((double)Instance, group.Samples.Count).ToArray());
}
