using System.Globalization;
using System.Text;
using RlActors.Environments;
using RlActors.Environments.Arithmetic;

namespace RlActors.Rewards.Capo;

/// <summary>The accuracy of one voting rule with N critiques, against the oracle.</summary>
/// <param name="Rule">The rule.</param>
/// <param name="Tau">The threshold (used by <see cref="VoteRule.Average"/> only).</param>
/// <param name="N">The number of critiques voting.</param>
/// <param name="Confusion">The voted wrong steps against the oracle's, micro over all steps.</param>
public sealed record VotingStudyRow(VoteRule Rule, double Tau, int N, PrmConfusion Confusion)
{
    /// <summary>Precision of the voted wrong steps.</summary>
    public double Precision => Confusion.Precision;

    /// <summary>Recall of the voted wrong steps.</summary>
    public double Recall => Confusion.Recall;

    /// <summary>F1 of the voted wrong steps.</summary>
    public double F1 => Confusion.F1;

    /// <summary>The rule as written in configuration, with τ for the average rule ("average(0.5)").</summary>
    public string RuleLabel => Rule == VoteRule.Average
        ? string.Create(CultureInfo.InvariantCulture, $"average(τ={Tau})")
        : Voting.Name(Rule);
}

/// <summary>The result of <see cref="VotingStudy.Run"/>.</summary>
/// <param name="Rows">One row per rule and N, rules in <see cref="VotingStudy.Rules"/> order, N ascending.</param>
/// <param name="Responses">The responses judged.</param>
/// <param name="Steps">Their steps.</param>
/// <param name="WrongSteps">Of those, the steps the oracle calls wrong.</param>
public sealed record VotingStudyResult(IReadOnlyList<VotingStudyRow> Rows, int Responses, long Steps, long WrongSteps)
{
    /// <summary>The row of a rule and N.</summary>
    /// <exception cref="KeyNotFoundException">The study did not include them.</exception>
    public VotingStudyRow Row(VoteRule rule, int n) =>
        Rows.FirstOrDefault(r => r.Rule == rule && r.N == n)
        ?? throw new KeyNotFoundException($"The study has no row for {Voting.Name(rule)} with N = {n}.");

    /// <summary>A markdown table: one line per rule, F1 (precision / recall) per N.</summary>
    public string ToMarkdown()
    {
        int[] ns = [.. Rows.Select(r => r.N).Distinct().Order()];
        var text = new StringBuilder();
        text.Append("| rule |");
        foreach (int n in ns)
            text.Append(CultureInfo.InvariantCulture, $" N = {n} |");
        text.Append("\n|---|").Append(string.Concat(Enumerable.Repeat("---|", ns.Length))).Append('\n');
        foreach (var rule in Rows.GroupBy(r => r.RuleLabel))
        {
            text.Append("| ").Append(rule.Key).Append(" |");
            foreach (int n in ns)
            {
                VotingStudyRow? row = rule.FirstOrDefault(r => r.N == n);
                text.Append(row is null ? " |" : string.Create(CultureInfo.InvariantCulture,
                    $" {row.F1:F3} ({row.Precision:F2} / {row.Recall:F2}) |"));
            }
            text.Append('\n');
        }
        text.Append(CultureInfo.InvariantCulture,
            $"\nF1 (precision / recall) of the voted wrong steps against the oracle; {Responses} responses, {Steps} steps, {WrongSteps} wrong.\n");
        return text.ToString();
    }
}

/// <summary>
/// How voting accuracy scales with the number of critiques: the noisy oracle critiques a fixed set of responses,
/// and each rule's voted wrong steps are compared with the oracle's. The evidence behind the choice of rule and N.
/// </summary>
public static class VotingStudy
{
    /// <summary>The rules compared: majority, intersection, union, and average with τ = 0.5.</summary>
    public static IReadOnlyList<(VoteRule Rule, double Tau)> Rules { get; } =
        [(VoteRule.Majority, 0.5), (VoteRule.Intersection, 0.5), (VoteRule.Union, 0.5), (VoteRule.Average, 0.5)];

    /// <summary>
    /// Runs the study: <see cref="NoisyOracleJudge"/>(flipRate, flipRate, correlation, seed) writes max(ns) critiques
    /// of every response; for each N the first N of them vote under each of <see cref="Rules"/>.
    /// </summary>
    /// <param name="responses">The responses, each with its problem and a stable key.</param>
    /// <param name="flipRate">The judge's per-step error rate, both false positives and false negatives.</param>
    /// <param name="correlation">The share of errors common to all critiques of a response (0 = independent).</param>
    /// <param name="ns">The numbers of critiques to compare, each at least 1.</param>
    /// <param name="seed">The judge's seed.</param>
    /// <exception cref="ArgumentException">ns is empty or holds a value below 1.</exception>
    public static VotingStudyResult Run(
        IReadOnlyList<(ArithmeticProblem Problem, ParsedResponse Response, string Key)> responses,
        double flipRate, double correlation, int[] ns, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(responses);
        ArgumentNullException.ThrowIfNull(ns);
        if (ns.Length == 0 || ns.Any(n => n < 1))
            throw new ArgumentException("ns must list at least one number of critiques, each at least 1.", nameof(ns));
        int[] sortedNs = [.. ns.Distinct().Order()];
        var judge = new NoisyOracleJudge(flipRate, flipRate, correlation, seed);
        int maxN = sortedNs[^1];

        var confusions = new PrmConfusion[Rules.Count, sortedNs.Length];
        for (int r = 0; r < Rules.Count; r++)
            for (int j = 0; j < sortedNs.Length; j++)
                confusions[r, j] = new PrmConfusion();
        long steps = 0, wrongSteps = 0;
        foreach (var (problem, response, key) in responses)
        {
            int[] truth = OracleJudge.WrongSteps(problem, response);
            int stepCount = response.Steps.Count;
            steps += stepCount;
            wrongSteps += truth.Length;
            var sets = new int[maxN][];
            for (int c = 0; c < maxN; c++)
                sets[c] = judge.Flagged(key, truth, stepCount, c);
            for (int j = 0; j < sortedNs.Length; j++)
            {
                int[][] first = sets[..sortedNs[j]];
                for (int r = 0; r < Rules.Count; r++)
                    confusions[r, j].Add(Voting.Vote(first, Rules[r].Rule, Rules[r].Tau), truth);
            }
        }

        var rows = new List<VotingStudyRow>();
        for (int r = 0; r < Rules.Count; r++)
            for (int j = 0; j < sortedNs.Length; j++)
                rows.Add(new VotingStudyRow(Rules[r].Rule, Rules[r].Tau, sortedNs[j], confusions[r, j]));
        return new VotingStudyResult(rows.AsReadOnly(), responses.Count, steps, wrongSteps);
    }

    /// <summary>
    /// Synthetic responses for the study: problem i of an <see cref="ArithmeticGenerator"/> (by default 1-digit
    /// operands, 2–4 operations of + and −, the calibration task), solved correctly except that each step is
    /// corrupted with probability <paramref name="corruptRate"/>: either its result is off by one or its right
    /// operand is (and the result follows from the wrong operand). Later steps continue from the written result, so
    /// the oracle flags exactly the corrupted steps. Deterministic in the seed; keys are "synthetic/{i}".
    /// </summary>
    /// <param name="count">How many responses.</param>
    /// <param name="corruptRate">The probability that a step is corrupted, in [0, 1].</param>
    /// <param name="seed">The seed of the problems and the corruptions.</param>
    /// <param name="options">The task; null for the default described above.</param>
    public static IReadOnlyList<(ArithmeticProblem Problem, ParsedResponse Response, string Key)> SyntheticResponses(
        int count, double corruptRate, ulong seed, ArithmeticOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (!(corruptRate >= 0 && corruptRate <= 1))
            throw new ArgumentOutOfRangeException(nameof(corruptRate), corruptRate, "corruptRate must be in [0, 1].");
        var generator = new ArithmeticGenerator(options ?? new ArithmeticOptions { MinOps = 2, MaxOps = 4 }, SplitMix64.Stream(seed, 0));
        CharTokenizer tok = CharTokenizer.Default;
        var responses = new List<(ArithmeticProblem, ParsedResponse, string)>(count);
        for (int i = 0; i < count; i++)
        {
            ArithmeticProblem problem = generator.Get(i);
            SplitMix64 random = SplitMix64.Derive(SplitMix64.Stream(seed, 1), i);
            var text = new StringBuilder();
            long value = problem.Operands[0];
            for (int k = 0; k < problem.OperationCount; k++)
            {
                char op = problem.Operators[k];
                long right = problem.Operands[k + 1];
                bool corrupt = random.NextDouble() < corruptRate;
                bool offByOneResult = random.NextDouble() < 0.5;
                long delta = random.NextDouble() < 0.5 ? 1 : -1;
                if (corrupt && !offByOneResult)
                    right += 1; // a wrong operand, computed correctly
                long result = op switch { '+' => value + right, '-' => value - right, _ => value * right };
                if (corrupt && offByOneResult)
                    result += delta;
                text.Append(value.ToString(CultureInfo.InvariantCulture)).Append(op)
                    .Append(right.ToString(CultureInfo.InvariantCulture)).Append('=')
                    .Append(result.ToString(CultureInfo.InvariantCulture)).Append('\n');
                value = result;
            }
            text.Append("A:").Append(value.ToString(CultureInfo.InvariantCulture));
            ParsedResponse parsed = StepParser.Parse(tok.EncodeWithEos(text.ToString()), tok);
            responses.Add((problem, parsed, $"synthetic/{i.ToString(CultureInfo.InvariantCulture)}"));
        }
        return responses.AsReadOnly();
    }
}
