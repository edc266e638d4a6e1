namespace RlActors.Rewards.Capo;

/// <summary>The hyperparameters of CAPO's reward: how many critiques per response, how they are combined, and the credit values.</summary>
public sealed record CapoOptions
{
    /// <summary>Critiques requested per response (N). Default 4.</summary>
    public int Critiques { get; init; } = 4;

    /// <summary>How the valid critiques of a response are combined. Default majority (flagged by more than half).</summary>
    public VoteRule Rule { get; init; } = VoteRule.Majority;

    /// <summary>The threshold τ of <see cref="VoteRule.Average"/>: a step is wrong when at least this fraction of critiques flags it. Default 0.5.</summary>
    public double Tau { get; init; } = 0.5;

    /// <summary>The credit values C and P.</summary>
    public CapoCreditOptions Credit { get; init; } = new();

    /// <summary>Checks the values.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the message names the key.</exception>
    public void Validate()
    {
        if (Critiques < 1)
            throw new ArgumentException($"Critiques must be at least 1, not {Critiques}.", nameof(Critiques));
        if (!Enum.IsDefined(Rule))
            throw new ArgumentException($"Rule {Rule} is not a vote rule.", nameof(Rule));
        if (!(Tau > 0 && Tau <= 1))
            throw new ArgumentException($"Tau must be in (0, 1], not {Tau}.", nameof(Tau));
        ArgumentNullException.ThrowIfNull(Credit, nameof(Credit));
        Credit.Validate();
    }
}

/// <summary>What happened while scoring one group with CAPO, for metrics (see <c>CapoMetrics</c>).</summary>
/// <param name="Requested">Critiques asked for: per sample, the larger of N and the critiques received.</param>
/// <param name="Valid">Critiques that voted.</param>
/// <param name="Unparseable">Critiques with no usable conclusion.</param>
/// <param name="TimedOut">Critiques that timed out, including those requested but never delivered.</param>
/// <param name="Failed">Critiques whose judge failed.</param>
/// <param name="Fallbacks">Samples with no valid critique, scored without step penalties.</param>
/// <param name="StepsJudged">Steps of the samples that had at least one valid critique.</param>
/// <param name="StepsVotedWrong">Of those, the steps voted wrong.</param>
/// <param name="AgreementItems">Per sample with a valid critique: its step count and the valid critiques' sets (input of <see cref="VoteStatistics.FleissKappa"/>).</param>
/// <param name="VsOracle">The voted sets against the oracle's, over the samples with a valid critique; null when not compared.</param>
/// <param name="Reasons">Per reason kind (<see cref="CritiqueFailure"/>), the critiques that did not vote for it; null when none was counted.</param>
public sealed record CapoGroupStats(
    int Requested,
    int Valid,
    int Unparseable,
    int TimedOut,
    int Failed,
    int Fallbacks,
    int StepsJudged,
    int StepsVotedWrong,
    IReadOnlyList<(int StepCount, IReadOnlyList<int[]> Sets)> AgreementItems,
    PrmConfusion? VsOracle,
    IReadOnlyDictionary<string, int>? Reasons = null);

/// <summary>
/// CAPO for one group, end to end and pure: the critiques of each sample → vote → token credit. Both the vote
/// aggregator actor and the in-process <see cref="CapoReward"/> call it.
/// </summary>
public static class CapoScoring
{
    /// <summary>Scores a group from the critiques gathered for it.</summary>
    /// <param name="group">The group.</param>
    /// <param name="critiques">
    /// critiques[i] = the critiques gathered for sample i, of any status. Fewer than <see cref="CapoOptions.Critiques"/>
    /// means the rest never arrived: they count as timed out.
    /// </param>
    /// <param name="o">The options.</param>
    /// <param name="compareWithOracle">Whether to compare the voted sets with <see cref="OracleJudge"/> (the arithmetic task always can).</param>
    /// <returns>
    /// Sequence = C per sample; PerToken = C, minus P on penalised tokens (see <see cref="TokenCredit"/>); PerStep = the
    /// credit of each step's tokens (C − P for a penalised step, else C); and the stats.
    /// </returns>
    /// <remarks>
    /// <para>A "valid" critique naming a step the sample does not have (it cannot come from
    /// <see cref="CritiqueParser"/>, which checks the range, but a remote voter could send one) is counted as
    /// unparseable and abstains.</para>
    /// <para>Fallback: a sample with no valid critique gets no step penalties: its tokens get C, except that a cut-off
    /// or missing answer is still penalised, since the rule verifier finds it without a judge (otherwise a failing
    /// judge would reopen the padding-first reward hack, see <see cref="TokenCredit"/>). It counts in
    /// <see cref="CapoGroupStats.Fallbacks"/> and not in the step, agreement and oracle statistics.</para>
    /// </remarks>
    /// <exception cref="ArgumentException">The critiques do not have one list per sample.</exception>
    public static (GroupScores Scores, CapoGroupStats Stats) Score(
        RewardGroup group, IReadOnlyList<IReadOnlyList<Critique>> critiques, CapoOptions o, bool compareWithOracle)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(critiques);
        ArgumentNullException.ThrowIfNull(o);
        o.Validate();
        int n = group.Samples.Count;
        if (critiques.Count != n)
            throw new ArgumentException($"Got critiques for {critiques.Count} samples but the group has {n}.", nameof(critiques));

        var sequence = new double[n];
        var perToken = new double[n][];
        var perStep = new double[n][];
        int requested = 0, valid = 0, unparseable = 0, timedOut = 0, failed = 0, fallbacks = 0, judged = 0, votedWrong = 0;
        var agreement = new List<(int StepCount, IReadOnlyList<int[]> Sets)>();
        PrmConfusion? vsOracle = compareWithOracle ? new PrmConfusion() : null;
        var reasons = new SortedDictionary<string, int>(StringComparer.Ordinal);

        for (int i = 0; i < n; i++)
        {
            RewardSample sample = group.Samples[i];
            int steps = sample.Parsed.Steps.Count;
            IReadOnlyList<Critique> gathered = critiques[i] ?? [];
            requested += Math.Max(o.Critiques, gathered.Count);
            timedOut += Math.Max(0, o.Critiques - gathered.Count);
            if (o.Critiques > gathered.Count)
                reasons[CritiqueFailure.Deadline] = reasons.GetValueOrDefault(CritiqueFailure.Deadline) + o.Critiques - gathered.Count;

            var sets = new List<int[]>();
            foreach (Critique? critique in gathered)
            {
                if (critique is null || !(critique.IsValid && critique.WrongSteps is { } ok && ok.All(s => s >= 1 && s <= steps)))
                {
                    string kind = critique is null ? CritiqueFailure.JudgeError
                        : critique.IsValid ? CritiqueFailure.Unparseable : CritiqueFailure.KindOf(critique.Status, critique.Detail);
                    reasons[kind] = reasons.GetValueOrDefault(kind) + 1;
                }
                switch (critique?.Status)
                {
                    case CritiqueStatus.Valid when critique.WrongSteps is { } w && w.All(s => s >= 1 && s <= steps):
                        valid++;
                        sets.Add(w);
                        break;
                    case CritiqueStatus.Valid or CritiqueStatus.Unparseable:
                        unparseable++;
                        break;
                    case CritiqueStatus.TimedOut:
                        timedOut++;
                        break;
                    default:
                        failed++;
                        break;
                }
            }

            int[] wrong;
            if (sets.Count == 0)
            {
                fallbacks++;
                wrong = [];
            }
            else
            {
                wrong = Voting.Vote(sets, o.Rule, o.Tau);
                judged += steps;
                votedWrong += wrong.Length;
                agreement.Add((steps, sets.AsReadOnly()));
                vsOracle?.Add(wrong, OracleJudge.WrongSteps(group.RequireProblem("capo"), sample.Parsed));
            }

            (sequence[i], perToken[i]) = TokenCredit.Compute(sample, group.RequireProblem("capo"), wrong, o.Credit);
            perStep[i] = new double[steps];
            for (int k = 0; k < steps; k++)
            {
                int first = sample.Parsed.Steps[k].TokenStart;
                perStep[i][k] = first < perToken[i].Length ? perToken[i][first] : sequence[i];
            }
        }

        var stats = new CapoGroupStats(requested, valid, unparseable, timedOut, failed, fallbacks, judged, votedWrong,
            agreement.AsReadOnly(), vsOracle, reasons.Count > 0 ? reasons : null);
        return (new GroupScores(sequence, perToken, perStep), stats);
    }
}
