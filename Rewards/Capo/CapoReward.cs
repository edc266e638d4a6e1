namespace RlActors.Rewards.Capo;

/// <summary>
/// CAPO as an in-process reward (no voter actors): asks one judge for <see cref="CapoOptions.Critiques"/> critiques
/// of every sample of a group, all samples at once, then scores the group with <see cref="CapoScoring.Score"/>.
/// Name "capo". Thread-safe: several groups may be scored at the same time.
/// </summary>
/// <remarks>
/// <para>Statistics, three ways: the returned <see cref="GroupScores.Counters"/> carry the group's additive CAPO
/// counters (<see cref="CapoMetrics.Counters"/>), which the runtime sums into the step metrics; <see cref="LastStats"/>
/// is the stats of the group scored last; and <see cref="TakeCounters"/> returns the counters summed over every
/// group scored since the previous call and starts a new sum (for callers that drive the reward themselves).</para>
/// <para>Response keys are "<c>{GroupId}/{sample index}</c>", so a seeded judge gives the same critiques when the
/// same group is scored again (e.g. after a resume).</para>
/// <para>A judge that breaks its contract (throws, or returns the wrong number of critiques) does not fail the
/// group: its missing critiques count as <see cref="CritiqueStatus.Failed"/>.</para>
/// </remarks>
public sealed class CapoReward : IAsyncRewardFunction
{
    /// <summary>The name used in specs and metrics.</summary>
    public const string RewardName = "capo";

    private readonly IGenPrmJudge _judge;
    private readonly CapoOptions _options;
    private readonly bool _compareWithOracle;
    private readonly Lock _gate = new();
    private Dictionary<string, double> _sums = [];
    private CapoGroupStats? _last;

    /// <summary>Creates the reward.</summary>
    /// <param name="judge">The judge that writes the critiques.</param>
    /// <param name="o">The options; validated here.</param>
    /// <param name="compareWithOracle">Whether to measure the voted sets against the arithmetic oracle (prm_precision, prm_recall, prm_f1).</param>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public CapoReward(IGenPrmJudge judge, CapoOptions o, bool compareWithOracle = true)
    {
        ArgumentNullException.ThrowIfNull(judge);
        ArgumentNullException.ThrowIfNull(o);
        o.Validate();
        _judge = judge;
        _options = o;
        _compareWithOracle = compareWithOracle;
    }

    /// <inheritdoc />
    public string Name => RewardName;

    /// <summary>The options.</summary>
    public CapoOptions Options => _options;

    /// <summary>The stats of the group scored last, or null before the first.</summary>
    public CapoGroupStats? LastStats
    {
        get
        {
            lock (_gate)
                return _last;
        }
    }

    /// <summary>
    /// The CAPO counters summed over the groups scored since the previous call (see <see cref="CapoMetrics"/> and
    /// <see cref="RewardCounters.ToMetrics"/> for the metrics they give); empty when none was.
    /// </summary>
    public Dictionary<string, double> TakeCounters()
    {
        lock (_gate)
        {
            Dictionary<string, double> sums = _sums;
            _sums = [];
            return sums;
        }
    }

    /// <inheritdoc />
    public async Task<GroupScores> ScoreAsync(RewardGroup group, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(group);
        var tasks = new Task<IReadOnlyList<Critique>>[group.Samples.Count];
        for (int i = 0; i < tasks.Length; i++)
        {
            RewardSample sample = group.Samples[i];
            CritiqueRequest request = CritiquePrompt.Build($"{group.GroupId}/{sample.Index}", group.RequireProblem("capo"), sample.Parsed)
                with { CompletionTokens = sample.CompletionTokens };
            tasks[i] = AskAsync(request, ct);
        }
        IReadOnlyList<Critique>[] critiques = await Task.WhenAll(tasks).ConfigureAwait(false);

        (GroupScores scores, CapoGroupStats stats) = CapoScoring.Score(group, critiques, _options, _compareWithOracle);
        Dictionary<string, double> counters = CapoMetrics.Counters(stats);
        lock (_gate)
        {
            _last = stats;
            RewardCounters.AddInto(_sums, counters);
        }
        return scores with { Counters = counters };
    }

    private async Task<IReadOnlyList<Critique>> AskAsync(CritiqueRequest request, CancellationToken ct)
    {
        int n = _options.Critiques;
        IReadOnlyList<Critique> got;
        try
        {
            got = await _judge.CritiqueAsync(request, n, 0, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            string detail = $"judge '{_judge.Name}' threw {e.GetType().Name}: {e.Message}";
            return [.. Enumerable.Range(0, n).Select(_ => Critique.Abstain(CritiqueStatus.Failed, CritiqueFailure.JudgeError, detail))];
        }
        if (got is null || got.Count != n)
        {
            string detail = $"judge '{_judge.Name}' returned {got?.Count ?? 0} critiques instead of {n}";
            var fixedUp = new List<Critique>(n);
            for (int c = 0; c < n; c++)
                fixedUp.Add(got is not null && c < got.Count ? got[c] : Critique.Abstain(CritiqueStatus.Failed, CritiqueFailure.JudgeError, detail));
            return fixedUp;
        }
        return got;
    }
}
