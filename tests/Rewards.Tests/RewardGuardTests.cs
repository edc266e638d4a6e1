using System.Diagnostics;
using static RlActors.Rewards.Tests.TestGroups;

namespace RlActors.Rewards.Tests;

public class RewardGuardTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(200);
    /// <summary>For the cases not about timing: a first call that loads and JITs a plug-in can take longer than
    /// <see cref="Timeout"/> on a busy machine (seen in CI), and these tests must not turn into timeout tests.</summary>
    private static readonly TimeSpan Roomy = TimeSpan.FromSeconds(30);

    /// <summary>Generous room for a loaded 2-core CI machine; the point is "about the timeout", not 30 s.</summary>
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(2);

    private static IAsyncRewardFunction Plugin(string type) =>
        RewardPluginLoader.Load(new RewardSpec($"TestPlugins.{type}, TestPlugins", PluginPaths.TestPlugins), "/").Factory();

    [Fact]
    public async Task A_well_behaved_reward_returns_its_validated_scores()
    {
        RewardGroup g = Small();
        GuardedResult r = await RewardGuard.RunAsync(RewardFunctions.AsAsync(new OutcomeReward()), g, Roomy, CancellationToken.None);
        Assert.Equal(FailureKind.None, r.Kind);
        Assert.True(r.Succeeded);
        Assert.Null(r.Failure);
        Assert.Equal([1.0, 0.0], r.Scores!.Sequence);
    }

    [Fact]
    public async Task A_throwing_plug_in_is_contained_and_named()
    {
        GuardedResult r = await RewardGuard.RunAsync(Plugin("ThrowingReward"), Small(), Roomy, CancellationToken.None);
        Assert.Equal(FailureKind.Threw, r.Kind);
        Assert.Null(r.Scores);
        Assert.Equal("reward 'throwing' threw InvalidOperationException: boom", r.Failure);
    }

    [Fact]
    public async Task A_hanging_plug_in_times_out_at_about_the_timeout()
    {
        IAsyncRewardFunction hanging = Plugin("HangingReward"); // loaded before the clock starts: loading is not the subject
        var clock = Stopwatch.StartNew();
        GuardedResult r = await RewardGuard.RunAsync(hanging, Small(), Timeout, CancellationToken.None);
        clock.Stop();

        Assert.Equal(FailureKind.TimedOut, r.Kind);
        Assert.Equal("reward 'hanging' timed out after 0.2 s", r.Failure);
        Assert.InRange(clock.Elapsed, Timeout - TimeSpan.FromMilliseconds(50), Timeout + Slack);
    }

    [Fact]
    public async Task A_plug_in_that_blocks_and_ignores_cancellation_neither_blocks_the_caller_nor_holds_the_result()
    {
        IAsyncRewardFunction blocking = Plugin("BlockingReward");
        var clock = Stopwatch.StartNew();
        Task<GuardedResult> call = RewardGuard.RunAsync(blocking, Small(), Timeout, CancellationToken.None);
        TimeSpan returnedAfter = clock.Elapsed;
        GuardedResult r = await call;
        clock.Stop();

        Assert.True(returnedAfter < Slack, $"RunAsync blocked its caller for {returnedAfter}");
        Assert.Equal(FailureKind.TimedOut, r.Kind);
        Assert.InRange(clock.Elapsed, Timeout - TimeSpan.FromMilliseconds(50), Timeout + Slack);
    }

    [Fact]
    public async Task A_plug_in_returning_NaN_or_the_wrong_length_is_an_invalid_value()
    {
        GuardedResult nan = await RewardGuard.RunAsync(Plugin("NaNReward"), Small(), Roomy, CancellationToken.None);
        Assert.Equal(FailureKind.InvalidValue, nan.Kind);
        Assert.Null(nan.Scores);
        Assert.Equal("reward 'nan' returned invalid scores: Sequence[0] (sample 0) is NaN.", nan.Failure);

        GuardedResult shortScores = await RewardGuard.RunAsync(Plugin("WrongLengthReward"), Small(), Roomy, CancellationToken.None);
        Assert.Equal(FailureKind.InvalidValue, shortScores.Kind);
        Assert.Equal("reward 'wrong-length' returned invalid scores: Sequence has 1 scores but the group has 2 samples.", shortScores.Failure);
    }

    [Fact]
    public async Task Cancelling_the_caller_token_stops_waiting_and_reports_cancelled()
    {
        IAsyncRewardFunction hanging = Plugin("HangingReward");
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var clock = Stopwatch.StartNew();
        GuardedResult r = await RewardGuard.RunAsync(hanging, Small(), TimeSpan.FromSeconds(30), cts.Token);
        Assert.Equal(FailureKind.Cancelled, r.Kind);
        Assert.True(clock.Elapsed < Slack, $"took {clock.Elapsed}");

        GuardedResult already = await RewardGuard.RunAsync(Plugin("HangingReward"), Small(), Timeout, cts.Token);
        Assert.Equal(FailureKind.Cancelled, already.Kind);
    }

    [Fact]
    public async Task Guarded_results_of_several_rewards_combine_with_the_failures_counted()
    {
        RewardGroup g = Small();
        var parts = new List<ComponentResult>();
        foreach ((IAsyncRewardFunction f, double w) in new[]
                 {
                     (RewardFunctions.AsAsync(new OutcomeReward()), 1.0),
                     (Plugin("ThrowingReward"), 5.0),
                     (RewardFunctions.AsAsync(new FormatReward()), 0.5),
                 })
            parts.Add(ComponentResult.FromGuarded(f.Name, w, await RewardGuard.RunAsync(f, g, Roomy, CancellationToken.None)));

        CombinedScores c = WeightedReward.Combine(parts, g.Samples.Count);
        Assert.Equal([1.5, 0.5], c.Sequence);
        Assert.Equal(["throwing"], c.FailedComponents);
    }
}
