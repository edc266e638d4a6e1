using RlActors.Environments.Arithmetic;
using static RlActors.Rewards.Tests.TestGroups;

namespace RlActors.Rewards.Tests;

public class BuiltInRewardTests
{
    [Fact]
    public void Reference_solutions_from_the_generator_earn_full_outcome_format_and_step_rewards()
    {
        var generator = new ArithmeticGenerator(new ArithmeticOptions { MaxOps = 4, OperandDigits = 2, Operators = "+-*" }, seed: 11);
        for (int i = 0; i < 200; i++)
        {
            ArithmeticProblem p = generator.Get(i);
            RewardGroup g = Group(p, 80, p.ReferenceCompletion, p.ReferenceCompletion);

            Assert.Equal([1.0, 1.0], new OutcomeReward().Score(g).Sequence);
            Assert.Equal([1.0, 1.0], new FormatReward().Score(g).Sequence);
            GroupScores steps = new StepCorrectnessReward().Score(g);
            Assert.Equal([1.0, 1.0], steps.Sequence);
            Assert.All(steps.PerStep!, row => Assert.Equal(Enumerable.Repeat(1.0, p.OperationCount), row));
            steps.Validate(g);
        }
    }

    [Fact]
    public void Outcome_reward_is_one_only_for_a_complete_response_with_the_right_answer()
    {
        RewardGroup g = Group(Problem("+-", 7, 5, 3), 20,
            "7+5=12\n12-3=9\nA:9",   // right
            "7+5=12\n12-3=8\nA:8",   // wrong answer
            "7+5=12\n12-3=9\nA:9\n", // right number but text after the answer line: malformed
            "A:9",                   // right answer without steps is still complete
            "7+5=12\n12-3=9\nA:9…"); // no EOS, and pads without EOS: not complete

        Assert.Equal([1.0, 0.0, 0.0, 1.0, 0.0], new OutcomeReward().Score(g).Sequence);
        Assert.Equal("outcome", new OutcomeReward().Name);
    }

    [Fact]
    public void Format_reward_follows_the_parser_status_whatever_the_answer()
    {
        RewardGroup g = Group(Problem("+-", 7, 5, 3), 20,
            "7+5=12\n12-3=8\nA:8", // complete, wrong
            "7+5=12\n12-3=9",      // no answer line
            "7+5=\n12-3=9\nA:9",    // a malformed step
            "7+5=12\n12-3=9\nA:9");
        Assert.Equal([1.0, 0.0, 0.0, 1.0], new FormatReward().Score(g).Sequence);
        Assert.Equal("format", new FormatReward().Name);
    }

    [Fact]
    public void Step_correctness_scores_each_step_and_counts_missing_steps_against_the_sequence_score()
    {
        RewardGroup g = Group(Problem("+-*", 7, 5, 3, 2), 40,
            "7+5=12\n12-3=9\n9*2=18\nA:18", // all three right
            "7+5=13\n13-3=10\n10*2=20\nA:20", // first step wrong, the rest follow from it
            "7+5=12\nA:12",                  // one right, two never written
            "7+5=12\n12-3=9\n9*2=18\n18+1=19\nA:19", // an extra step
            "QQ::\n12-3=9\n9*2=18\nA:18");   // a malformed first line

        GroupScores s = new StepCorrectnessReward().Score(g);
        s.Validate(g);
        Assert.Equal("step-correctness", new StepCorrectnessReward().Name);
        Assert.Equal([1.0, 1.0, 1.0], s.PerStep![0]);
        Assert.Equal([0.0, 1.0, 1.0], s.PerStep[1]);
        Assert.Equal([1.0], s.PerStep[2]);
        Assert.Equal([1.0, 1.0, 1.0, 0.0], s.PerStep[3]);
        Assert.Equal([0.0, 1.0, 1.0], s.PerStep[4]);
        Assert.Equal([1.0, 2.0 / 3, 1.0 / 3, 3.0 / 4, 2.0 / 3], s.Sequence);
        Assert.Null(s.PerToken);
    }

    [Fact]
    public void A_group_built_from_ids_has_decoded_text_parsed_steps_and_equal_length_tokens()
    {
        RewardGroup g = Group(Problem("+", 7, 5), 12, "7+5=12\nA:12");
        RewardSample s = Assert.Single(g.Samples);
        Assert.Equal(0, s.Index);
        Assert.Equal("7+5=12\nA:12", s.Completion);
        Assert.Equal(12, s.CompletionTokens.Count);
        Assert.Equal(ResponseStatus.Complete, s.Parsed.Status);
        Assert.Equal("Q:7+5\n", g.Prompt);
        Assert.Equal(3, g.PolicyVersion);

        var e = Assert.Throws<ArgumentException>(() =>
            RewardGroup.FromCompletions("g", Problem("+", 7, 5), [new[] { 2, 3, 1 }, new[] { 2, 1 }], 0));
        Assert.Contains("Completion 1 has 2 ids but completion 0 has 3", e.Message);
    }
}
