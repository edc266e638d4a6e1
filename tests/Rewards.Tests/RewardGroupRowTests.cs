using RlActors.Environments.Tasks;
using static RlActors.Rewards.Tests.TestGroups;

namespace RlActors.Rewards.Tests;

/// <summary>A reward can be written against the task row alone (prompt, answer, columns) instead of the arithmetic problem.</summary>
public sealed class RewardGroupRowTests
{
    /// <summary>A reward that knows nothing of arithmetic: 1 when a verifier reads the row's answer in the completion.</summary>
    private sealed class AnswerMatch(string verifier) : IRewardFunction
    {
        private readonly IAnswerVerifier check = AnswerVerifiers.Create(verifier);
        public string Name => "answer-match";
        public GroupScores Score(RewardGroup group) =>
            new([.. group.Samples.Select(s => check.IsCorrect(s.Completion, group.Row.Answer!) ? 1.0 : 0.0)]);
    }

    [Fact]
    public void An_arithmetic_group_has_a_row_with_the_prompt_the_answer_and_the_solution()
    {
        var group = Small(); // 7+5-3
        Assert.Equal(group.Prompt, group.Row.Prompt);
        Assert.Equal("9", group.Row.Answer);
        Assert.Equal(group.Problem!.ReferenceCompletion, group.Row.Fields["solution"]);
        Assert.Equal("7+5-3", group.Row.Fields["expression"]);
    }

    [Fact]
    public void A_reward_reading_only_the_row_scores_any_row_it_is_given()
    {
        var group = Small(); // completions answer 9 (right) and 12 (wrong)
        Assert.Equal([1.0, 0.0], new AnswerMatch("last-number").Score(group).Sequence);
        // The same completions against another task's row: the reward follows the row, not the arithmetic problem.
        var other = group with { Row = new TaskRow(0, "How much is twelve?", "12", new Dictionary<string, string> { ["level"] = "easy" }) };
        Assert.Equal([0.0, 1.0], new AnswerMatch("last-number").Score(other).Sequence);
    }

    [Fact]
    public void A_data_set_group_has_no_problem_and_the_outcome_reward_applies_the_tasks_verifier()
    {
        var tok = Environments.Arithmetic.CharTokenizer.FromTexts(["What is 3+4?\n", "3+4=7\n#### 7", "#### 8"]);
        var row = new TaskRow(4, "What is 3+4?", "7", new Dictionary<string, string> { ["question"] = "What is 3+4?", ["answer"] = "7" });
        int[] Ids(string text) => [.. tok.EncodeWithEos(text), .. Enumerable.Repeat(Environments.Arithmetic.CharTokenizer.Pad, 14 - text.Length - 1)];
        var group = RewardGroup.FromRow("g", row, [Ids("3+4=7\n#### 7"), Ids("#### 8"), Ids("7")], 3, tok, AnswerVerifiers.Create("gsm8k"));
        Assert.Null(group.Problem);
        Assert.Equal("What is 3+4?", group.Prompt);
        Assert.Equal("3+4=7\n#### 7", group.Samples[0].Completion);
        Assert.Equal([1.0, 0.0, 0.0], new OutcomeReward().Score(group).Sequence); // "7" alone has no "####": no answer
        Assert.Contains("step-correctness", Assert.Throws<InvalidOperationException>(() => new StepCorrectnessReward().Score(group)).Message);
    }
}
