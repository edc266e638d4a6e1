using System.Globalization;
using System.Text;
using RlActors.Rewards.Capo;
using Xunit.Abstractions;

namespace RlActors.Rewards.Tests.Capo;

/// <summary>
/// How real judges phrase their verdict, by family, with the list each phrasing means (for a 4-step response). The
/// table feeds a per-phrasing test and the per-family parse rates of docs/capo.md:
/// <c>CAPO_PARSE_RATES=rates.md dotnet test tests/Rewards.Tests --filter FullyQualifiedName~CritiquePhrasingTests</c>
/// writes the rates as a markdown table to rates.md.
/// </summary>
public sealed class CritiquePhrasingTests(ITestOutputHelper output)
{
    private const int Steps = 4;

    /// <summary>(family, judge output, the wrong steps it means).</summary>
    public static readonly (string Family, string Text, int[] Wrong)[] Table =
    [
        ("bracketed list after a key", "Step 1 is fine, step 2 is off by one.\nWrong steps: [2]", [2]),
        ("bracketed list after a key", "Wrong step list: [2, 3]", [2, 3]),
        ("bracketed list after a key", "All steps are correct. Wrong step list: []", []),
        ("bracketed list after a key", "Incorrect steps: [1, 4]", [1, 4]),
        ("bracketed list after a key", "Erroneous steps = [3]", [3]),
        ("bracketed list after a key", "The wrong steps are [2, 3].", [2, 3]),
        ("bracketed list after a key", "Wrong step(s): [2]", [2]),
        ("bracketed list after a key", "**Incorrect step list:** [1]", [1]),
        ("bracketed list after a key", "Wrong step numbers: [3, 4]", [3, 4]),
        ("bracketed list after a key", "Wrong steps: 2, 3", [2, 3]),

        ("\"Step k\" statements", "Analysis...\nStep 2 is wrong.", [2]),
        ("\"Step k\" statements", "Step 1: 3+4=7 is correct.\nStep 2: 7-2=4. Step 2 is incorrect, it should be 5.\nStep 3 is correct.", [2]),
        ("\"Step k\" statements", "Steps 2 and 3 are incorrect.", [2, 3]),
        ("\"Step k\" statements", "The error is in step 3.", [3]),
        ("\"Step k\" statements", "The first mistake occurs in step 2; everything after follows from it.", [2]),
        ("\"Step k\" statements", "Step 1 is correct. Step 2 is wrong: 9-4 is 5. Step 3 is also wrong, 5+8 is 13.", [2, 3]),
        ("\"Step k\" statements", "Step 4 contains an arithmetic error.", [4]),
        ("\"Step k\" statements", "Analysis...\nStep 2 and Step 3", [2, 3]),
        ("\"Step k\" statements", "Analysis...\nErrors: step 1, step 3", [1, 3]),
        ("\"Step k\" statements", "Therefore, step 2 is incorrect.", [2]),

        ("JSON fields", "{\"wrong_steps\": [1, 3]}", [1, 3]),
        ("JSON fields", "```json\n{\"incorrect_steps\": []}\n```", []),
        ("JSON fields", "{\"wrongSteps\": [2]}", [2]),
        ("JSON fields", "{\"analysis\": \"step 2 subtracts wrongly\", \"wrong_step_list\": [2]}", [2]),
        ("JSON fields", "{\"erroneous_steps\": [4], \"confidence\": 0.8}", [4]),
        ("JSON fields", "[{\"step\": 1, \"correct\": true}, {\"step\": 2, \"correct\": false}, {\"step\": 3, \"correct\": true}]", [2]),
        ("JSON fields", "{\"steps\": [{\"step\": 1, \"verdict\": \"correct\"}, {\"step\": 2, \"verdict\": \"wrong\"}, {\"step\": 3, \"verdict\": \"incorrect\"}]}", [2, 3]),
        ("JSON fields", "{\"steps\": [{\"step\": 1, \"is_correct\": true}, {\"step\": 2, \"is_correct\": true}]}", []),

        ("none / all correct", "Wrong steps: none", []),
        ("none / all correct", "All steps are correct.", []),
        ("none / all correct", "There are no wrong steps.", []),
        ("none / all correct", "None of the steps are incorrect.", []),
        ("none / all correct", "No step is wrong.", []),
        ("none / all correct", "Every step is correct.", []),
        ("none / all correct", "No errors were found.", []),
        ("none / all correct", "Wrong steps: N/A", []),
        ("none / all correct", "Step 1: 3+4=7 is correct.\nStep 2: 7-2=5 is correct.\nConclusion: none", []),
        ("none / all correct", "Wrong steps: []", []),

        ("analysis mentions steps, the verdict differs", "Step 2 is correct. Step 3 is correct.\nWrong steps: [1]", [1]),
        ("analysis mentions steps, the verdict differs", "At first step 2 looks wrong, but step 2 is correct.\nWrong steps: none", []),
        ("analysis mentions steps, the verdict differs", "Step 2 is incorrect? No: 9-4 is 5, so it holds.\nAll steps are correct.", []),
        ("analysis mentions steps, the verdict differs", "Wrong steps: [1, 3]\nOn reflection step 1 is fine.\nWrong steps: [3]", [3]),
        ("analysis mentions steps, the verdict differs", "The number of wrong steps is 2.\nWrong step list: [2, 4]", [2, 4]),
        ("analysis mentions steps, the verdict differs", "Step 1 (3+4=7) is correct, step 2 (7-2=5) is correct.\nWrong steps: [4]", [4]),
    ];

    public static IEnumerable<object[]> Rows => Table.Select((r, i) => new object[] { i, r.Family });

    [Theory]
    [MemberData(nameof(Rows))]
    public void Each_common_phrasing_of_a_verdict_parses_to_the_steps_it_means(int row, string family)
    {
        var (_, text, wrong) = Table[row];
        Critique c = CritiqueParser.Parse(text, Steps);
        Assert.True(c.Status == CritiqueStatus.Valid && c.WrongSteps.SequenceEqual(wrong),
            $"[{family}] '{text}' gave {c.Status} [{string.Join(", ", c.WrongSteps)}] ({c.Detail}), expected [{string.Join(", ", wrong)}]");
    }

    /// <summary>The per-family parse rates (a phrasing counts when it parses to exactly the steps it means), as the markdown of docs/capo.md.</summary>
    public static string RatesMarkdown()
    {
        var md = new StringBuilder("| phrasing family | phrasings | parsed to the right list |\n| --- | --- | --- |\n");
        foreach (var family in Table.GroupBy(r => r.Family))
        {
            int total = family.Count();
            int right = family.Count(r => CritiqueParser.Parse(r.Text, Steps) is { Status: CritiqueStatus.Valid } c && c.WrongSteps.SequenceEqual(r.Wrong));
            md.Append(CultureInfo.InvariantCulture, $"| {family.Key} | {total} | {right} ({100.0 * right / total:0}%) |\n");
        }
        return md.ToString();
    }

    [Fact]
    public void Per_family_parse_rates_are_written_for_the_docs()
    {
        string md = RatesMarkdown();
        output.WriteLine(md);
        if (Environment.GetEnvironmentVariable("CAPO_PARSE_RATES") is { Length: > 0 } path)
            File.WriteAllText(path, md);
        Assert.Equal(Table.Select(r => r.Family).Distinct().Count(), md.Split('\n').Count(l => l.StartsWith("| ", StringComparison.Ordinal)) - 2);
        Assert.DoesNotContain("(0%)", md);
    }
}
