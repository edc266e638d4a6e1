using RlActors.Rewards.Capo;
using static RlActors.Rewards.Tests.TestGroups;

namespace RlActors.Rewards.Tests.Capo;

public class CapoTokenCreditTests
{
    private static readonly CapoCreditOptions Default = new();

    /// <summary>The token positions whose reward differs from the sequence credit.</summary>
    private static int[] Penalised((double Sequence, double[] PerToken) credit) =>
        [.. Enumerable.Range(0, credit.PerToken.Length).Where(t => credit.PerToken[t] != credit.Sequence)];

    private static RewardSample Sample(string text, int budget = 24) => Group(Problem("+-", 7, 5, 3), budget, text).Samples[0];

    [Fact]
    public void The_penalty_lands_on_exactly_the_tokens_of_the_voted_steps()
    {
        // "7+5=12\n" is tokens 0-6, "12-4=8\n" tokens 7-13, "A:8" 14-16, EOS 17, then padding.
        RewardSample s = Sample("7+5=12\n12-4=8\nA:8");
        var credit = TokenCredit.Compute(s, Problem("+-", 7, 5, 3), [2], Default);

        Assert.Equal(0.0, credit.Sequence); // wrong answer: C = 0
        Assert.Equal(24, credit.PerToken.Length);
        Assert.Equal(Enumerable.Range(7, 7), Penalised(credit));
        Assert.All(Penalised(credit), t => Assert.Equal(-1.0, credit.PerToken[t]));
        Assert.Equal((s.Parsed.Steps[1].TokenStart, s.Parsed.Steps[1].TokenEnd), (7, 14));

        var both = TokenCredit.Compute(s, Problem("+-", 7, 5, 3), [1, 2], Default);
        Assert.Equal(Enumerable.Range(0, 14), Penalised(both));
        Assert.Empty(Penalised(TokenCredit.Compute(s, Problem("+-", 7, 5, 3), [], Default)));
    }

    [Fact]
    public void A_correct_answer_gets_C_everywhere_and_C_minus_P_on_wrong_steps_unless_configured_otherwise()
    {
        // 7+5=13 (wrong), 13-4=9 (wrong operand): the errors cancel and the answer 9 is right.
        RewardSample s = Sample("7+5=13\n13-4=9\nA:9");
        var o = new CapoCreditOptions { CorrectReward = 2.0, IncorrectReward = -0.5, Penalty = 0.5 };

        var credit = TokenCredit.Compute(s, Problem("+-", 7, 5, 3), [1, 2], o);
        Assert.Equal(2.0, credit.Sequence);
        Assert.Equal(Enumerable.Range(0, 14), Penalised(credit));
        Assert.All(Penalised(credit), t => Assert.Equal(1.5, credit.PerToken[t]));
        Assert.Equal(2.0, credit.PerToken[14]);

        var lenient = TokenCredit.Compute(s, Problem("+-", 7, 5, 3), [1, 2], o with { PenalizeCorrectAnswers = false });
        Assert.Equal(2.0, lenient.Sequence);
        Assert.All(lenient.PerToken, r => Assert.Equal(2.0, r));

        // A wrong answer is still penalised when correct answers are not.
        var wrong = TokenCredit.Compute(Sample("7+5=12\n12-4=8\nA:8"), Problem("+-", 7, 5, 3), [2], o with { PenalizeCorrectAnswers = false });
        Assert.Equal(-0.5, wrong.Sequence);
        Assert.Equal(-1.0, wrong.PerToken[7]);
    }

    [Fact]
    public void A_cut_off_answer_counts_as_a_wrong_step_up_to_the_end()
    {
        // 17 ids and no EOS: "A:9" is unfinished, so the response is truncated and has no answer.
        RewardSample s = Sample("7+5=12\n12-3=9\nA:9…", budget: 17);
        Assert.Equal(Environments.Arithmetic.ResponseStatus.Truncated, s.Parsed.Status);
        var credit = TokenCredit.Compute(s, Problem("+-", 7, 5, 3), [], Default);
        Assert.Equal(0.0, credit.Sequence);
        Assert.Equal(Enumerable.Range(14, 3), Penalised(credit));

        // Cut off in the middle of step 2: everything after step 1.
        RewardSample mid = Sample("7+5=12\n12-…", budget: 10);
        Assert.Equal(Enumerable.Range(7, 3), Penalised(TokenCredit.Compute(mid, Problem("+-", 7, 5, 3), [], Default)));
    }

    [Fact]
    public void Emitting_padding_or_EOS_first_is_penalised_on_the_terminal_token()
    {
        // The reward hack: an empty answer has no step to penalise, so the terminal token itself carries the penalty.
        RewardSample paddingFirst = Sample("…", budget: 8); // all padding
        var credit = TokenCredit.Compute(paddingFirst, Problem("+-", 7, 5, 3), [], Default);
        Assert.Equal(0, paddingFirst.Parsed.TerminalIndex);
        Assert.Equal([0], Penalised(credit));
        Assert.Equal(-1.0, credit.PerToken[0]);

        RewardSample eosFirst = Sample("", budget: 8);
        Assert.Equal([0], Penalised(TokenCredit.Compute(eosFirst, Problem("+-", 7, 5, 3), [], Default)));
    }

    [Fact]
    public void A_missing_or_malformed_answer_is_penalised_from_the_last_well_formed_step_to_the_terminal_token()
    {
        // No answer line: step 2 ends at token 13 (EOS): the EOS that stopped without answering is penalised.
        RewardSample noAnswer = Sample("7+5=12\n12-3=9");
        Assert.Equal([13], Penalised(TokenCredit.Compute(noAnswer, Problem("+-", 7, 5, 3), [], Default)));

        // "A:9+" is not an integer: the answer line and EOS (14-18).
        RewardSample malformed = Sample("7+5=12\n12-3=9\nA:9+");
        Assert.Equal(Enumerable.Range(14, 5), Penalised(TokenCredit.Compute(malformed, Problem("+-", 7, 5, 3), [], Default)));

        // Text after the answer line: from the answer line through EOS.
        RewardSample trailing = Sample("7+5=12\n12-3=9\nA:9\n");
        Assert.Equal(Enumerable.Range(14, 5), Penalised(TokenCredit.Compute(trailing, Problem("+-", 7, 5, 3), [], Default)));
    }

    [Fact]
    public void Skipping_the_working_is_penalised_on_the_answer_unless_configured_otherwise()
    {
        // The problem 7+5-3 has two operations. "A:8" alone (tokens 0-2, EOS 3) writes no step: no critique can flag
        // anything, so without this rule it would beat any attempt with a wrong step.
        var problem = Problem("+-", 7, 5, 3);
        var skipped = TokenCredit.Compute(Sample("A:8"), problem, [], Default);
        Assert.Equal(Enumerable.Range(0, 4), Penalised(skipped));
        Assert.All(Penalised(skipped), t => Assert.Equal(-1.0, skipped.PerToken[t]));

        // One step written of two: the tokens after it through EOS ("A:8" 7-9, EOS 10).
        var half = TokenCredit.Compute(Sample("7+5=12\nA:8"), problem, [], Default);
        Assert.Equal(Enumerable.Range(7, 4), Penalised(half));

        // All steps written: no answer-span penalty.
        Assert.Empty(Penalised(TokenCredit.Compute(Sample("7+5=12\n12-3=9\nA:9"), problem, [], Default)));

        var off = Default with { PenalizeMissingSteps = false };
        Assert.Empty(Penalised(TokenCredit.Compute(Sample("A:8"), problem, [], off)));
        Assert.Empty(Penalised(TokenCredit.Compute(Sample("7+5=12\nA:8"), problem, [], off)));
    }

    [Fact]
    public void A_token_is_penalised_at_most_once_where_a_wrong_step_and_the_answer_span_overlap()
    {
        // Step 2 "12-3=" is malformed and there is no answer: step 2 (7-12) and the span after step 1 (7-13) overlap.
        RewardSample s = Sample("7+5=12\n12-3=\n");
        var credit = TokenCredit.Compute(s, Problem("+-", 7, 5, 3), [2], Default);
        Assert.Equal(Enumerable.Range(7, 7), Penalised(credit));
        Assert.All(Penalised(credit), t => Assert.Equal(-1.0, credit.PerToken[t]));
    }

    [Fact]
    public void Wrong_steps_the_sample_does_not_have_are_rejected()
    {
        RewardSample s = Sample("7+5=12\nA:12");
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => TokenCredit.Compute(s, Problem("+-", 7, 5, 3), [2], Default));
        Assert.Contains("Step 2", e.Message);
    }

    [Fact]
    public void Credit_options_reject_non_finite_values_and_a_negative_penalty()
    {
        Assert.Throws<ArgumentException>(() => new CapoCreditOptions { Penalty = -1 }.Validate());
        Assert.Throws<ArgumentException>(() => new CapoCreditOptions { CorrectReward = double.NaN }.Validate());
        Assert.Throws<ArgumentException>(() => new CapoOptions { Critiques = 0 }.Validate());
        Assert.Throws<ArgumentException>(() => new CapoOptions { Tau = 0 }.Validate());
        new CapoOptions().Validate();
    }
}
