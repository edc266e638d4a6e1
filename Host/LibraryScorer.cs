using RlActors.Environments.Arithmetic;
using RlActors.Host.Configuration;
using RlActors.Policies.Training;
using RlActors.Rewards;
using RlActors.Rewards.Capo;

namespace RlActors.Host;

/// <summary>
/// The experiment's reward components (built-ins, plug-ins and CAPO with an in-process judge) as a group scorer for
/// the library loop, combined exactly as the actor runtime's reward workers combine them: weighted sums, per-token
/// extras (combined token reward minus sequence reward) and summed counters turned into step metrics.
/// </summary>
public sealed class LibraryScorer : IDisposable
{
    private readonly List<(string Name, double Weight, TimeSpan Timeout, IAsyncRewardFunction Function)> components = new();
    private readonly List<IDisposable> owned = new();
    private readonly long policyVersionOffset;

    /// <summary>Loads every reward of <paramref name="exp"/>; a plug-in that cannot be loaded is a <see cref="ConfigError"/>.</summary>
    public LibraryScorer(GrpoExperiment exp, long policyVersionOffset = 0)
    {
        this.policyVersionOffset = policyVersionOffset;
        foreach (var r in exp.Rewards)
        {
            var timeout = TimeSpan.FromSeconds(r.TimeoutSeconds);
            if (r.Type == GrpoExperiment.CapoRewardType)
            {
                var judge = exp.Capo.Judge.Create();
                if (judge is IDisposable d) owned.Add(d);
                components.Add((GrpoExperiment.CapoRewardType, r.Weight, timeout, new CapoReward(judge, exp.Capo.ToOptions(), exp.Capo.CompareWithOracle)));
                continue;
            }
            try
            {
                var loaded = RewardPluginLoader.Load(new RewardSpec(r.Type, r.Assembly, r.Weight) { Timeout = timeout },
                    Directory.GetCurrentDirectory());
                components.Add((loaded.Name, r.Weight, timeout, loaded.Factory()));
            }
            catch (PluginLoadException e) { throw new ConfigError($"rewards: {e.Message}"); }
        }
    }

    /// <summary>Whether the rewards are exactly the default outcome verifier (the loop's built-in path is then used).</summary>
    public static bool IsDefault(GrpoExperiment exp) => exp.Rewards.Count == 1 && exp.Rewards[0].Type == Rewards.OutcomeReward.RewardName && exp.Rewards[0].Weight == 1.0;

    /// <summary>Scores one step's groups.</summary>
    public GrpoTrainer.GroupScoring Score(long step, IReadOnlyList<ArithmeticProblem> problems, IReadOnlyList<int[][]> completions)
    {
        var rewards = new float[problems.Count][];
        var extras = new float[][]?[problems.Count];
        var counters = new Dictionary<string, double>();
        int failures = 0;
        for (int p = 0; p < problems.Count; p++)
        {
            var group = RewardGroup.FromCompletions($"step-{step}/p{p}", problems[p], completions[p].Select(c => (IReadOnlyList<int>)c).ToList(),
                step - 1 + policyVersionOffset);
            var results = Task.WhenAll(components.Select(c => RewardGuard.RunAsync(c.Function, group, c.Timeout, CancellationToken.None))).GetAwaiter().GetResult();
            var parts = components.Select((c, i) => ComponentResult.FromGuarded(c.Name, c.Weight, results[i])).ToList();
            var combined = WeightedReward.Combine(parts, group.Samples.Count);
            failures += combined.FailedComponents.Count;
            rewards[p] = combined.Sequence.Select(x => (float)x).ToArray();
            extras[p] = combined.TokenExtras();
            RewardCounters.AddInto(counters, combined.Counters);
        }
        var metrics = RewardCounters.ToMetrics(counters);
        metrics["reward_failures"] = failures;
        return new GrpoTrainer.GroupScoring(rewards, extras.Any(e => e is not null) ? extras : null, metrics);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var d in owned) d.Dispose();
    }
}
