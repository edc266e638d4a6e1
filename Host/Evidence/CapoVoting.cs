using System.Globalization;
using System.Text;
using RlActors.Host.Configuration;
using RlActors.Rewards.Capo;

namespace RlActors.Host.Evidence;

/// <summary>
/// Evidence for the choice of voting rule and N: the noisy oracle critiques a fixed set of responses N times, and each
/// rule's voted wrong steps are scored against the oracle (precision, recall, F1), for several error correlations.
/// Writes capo-voting.md and capo-voting.png into the report folder.
/// </summary>
public static class CapoVoting
{
    /// <summary>Arguments of <c>capo-voting</c>.</summary>
    public sealed record Args(int Responses, double WrongRate, double Flip, IReadOnlyList<double> Correlations, IReadOnlyList<int> Ns,
        ulong Seed, string Report);

    /// <summary>Runs the study and writes the report; returns the exit code.</summary>
    public static int Execute(Args a, TextWriter log)
    {
        if (a.Responses < 1) throw new ConfigError($"--responses must be >= 1 (got {a.Responses})");
        if (a.WrongRate is < 0 or > 1) throw new ConfigError($"--wrong-rate must be in [0, 1] (got {a.WrongRate})");
        if (a.Flip is < 0 or > 1) throw new ConfigError($"--flip must be in [0, 1] (got {a.Flip})");
        if (a.Correlations.Count == 0 || a.Correlations.Any(c => c is < 0 or > 1)) throw new ConfigError("--correlations: give values in [0, 1], e.g. 0,0.3");
        if (a.Ns.Count == 0 || a.Ns.Any(n => n < 1)) throw new ConfigError("--ns: give numbers of critiques >= 1, e.g. 1,2,4,8");

        var responses = VotingStudy.SyntheticResponses(a.Responses, a.WrongRate, a.Seed);
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine("# CAPO: voting accuracy against the number of critiques");
        sb.AppendLine();
        sb.AppendLine("Reproduce with:");
        sb.AppendLine();
        sb.AppendLine("```");
        sb.Append(inv, $"dotnet run --project Host -- capo-voting --responses {a.Responses} --wrong-rate {a.WrongRate} --flip {a.Flip} ");
        sb.AppendLine(inv, $"--correlations {string.Join(',', a.Correlations.Select(c => c.ToString(inv)))} --ns {string.Join(',', a.Ns)} --seed {a.Seed} --report {a.Report}");
        sb.AppendLine("```");
        sb.AppendLine();
        sb.Append(inv, $"Responses: {a.Responses} synthetic solutions of 2-4 operation problems in which each step is corrupted with probability {a.WrongRate} ");
        sb.Append(inv, $"(VotingStudy.SyntheticResponses); the judge is the noisy oracle: each step's verdict is flipped with probability {a.Flip} ");
        sb.Append("(false positives and false negatives alike). With correlation ρ, a step's flip is shared by all critiques of the response ");
        sb.Append("with probability ρ, else drawn independently: real LLM judges err together, and voting cannot remove shared errors. ");
        sb.AppendLine("Majority = flagged by more than half of the critiques (so N = 2 equals intersection); average = flagged by at least τ = 0.5.");
        sb.AppendLine();

        var plot = new ScottPlot.Plot();
        foreach (var rho in a.Correlations)
        {
            var result = VotingStudy.Run(responses, a.Flip, rho, [.. a.Ns], a.Seed);
            sb.AppendLine(string.Create(inv, $"## correlation ρ = {rho}"));
            sb.AppendLine();
            sb.Append(result.ToMarkdown());
            sb.AppendLine();
            foreach (var (rule, _) in VotingStudy.Rules)
            {
                var rows = result.Rows.Where(r => r.Rule == rule).OrderBy(r => r.N).ToArray();
                var line = plot.Add.ScatterLine(rows.Select(r => (double)r.N).ToArray(), rows.Select(r => r.F1).ToArray());
                line.LegendText = string.Create(inv, $"{rows[0].RuleLabel}, ρ = {rho}");
                if (rho > 0) line.LinePattern = ScottPlot.LinePattern.Dashed;
            }
            log.WriteLine(string.Create(inv, $"ρ = {rho}: majority F1 at N = {a.Ns.Max()}: {result.Row(VoteRule.Majority, a.Ns.Max()).F1:F3}"));
        }
        plot.Title(string.Create(inv, $"Voted wrong steps vs the oracle ({a.Flip:P0} per-step judge error)"));
        plot.XLabel("critiques per response (N)");
        plot.YLabel("F1");
        plot.ShowLegend();
        Directory.CreateDirectory(a.Report);
        plot.SavePng(Path.Combine(a.Report, "capo-voting.png"), 900, 500);
        sb.AppendLine("![F1 against N](capo-voting.png)");
        File.WriteAllText(Path.Combine(a.Report, "capo-voting.md"), sb.ToString());
        log.WriteLine($"report: {Path.Combine(a.Report, "capo-voting.md")}");
        return 0;
    }
}
