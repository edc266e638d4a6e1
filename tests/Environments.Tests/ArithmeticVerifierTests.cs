using RlActors.Environments.Arithmetic;
using static RlActors.Environments.Tests.TestText;

namespace RlActors.Environments.Tests;

public class ArithmeticVerifierTests
{
    // 7+5=12, 12-3=9, 9*2=18
    private static readonly ArithmeticProblem Chain = Problem("+-*", 7, 5, 3, 2);

    private static StepVerdict[] Verdicts(string completion) =>
        ArithmeticVerifier.CheckSteps(Chain, ParseWithEos(completion)).ToArray();

    [Fact]
    public void Reference_completion_is_correct_with_every_step_correct()
    {
        var generator = new ArithmeticGenerator(new ArithmeticOptions { MaxOps = 5, Operators = "+-*" }, 8);
        for (int i = 0; i < 300; i++)
        {
            ArithmeticProblem p = generator.Get(i);
            ParsedResponse r = ParseWithEos(p.ReferenceCompletion);
            Assert.True(ArithmeticVerifier.IsCorrect(p, r));
            Assert.Equal(1.0, ArithmeticVerifier.OutcomeReward(p, r));
            Assert.True(ArithmeticVerifier.HasAllSteps(p, r));
            Assert.All(ArithmeticVerifier.CheckSteps(p, r), v => Assert.Equal(StepVerdict.Correct, v));
            Assert.True(ArithmeticVerifier.Summarize(p, r).AllCorrect);
            Assert.Equal(p.FormatNumbered(), r.FormatNumbered());
        }
    }

    [Fact]
    public void A_wrong_final_answer_earns_no_outcome_reward()
    {
        ParsedResponse r = ParseWithEos("7+5=12\n12-3=9\n9*2=18\nA:19");
        Assert.Equal(ResponseStatus.Complete, r.Status);
        Assert.False(ArithmeticVerifier.IsCorrect(Chain, r));
        Assert.Equal(0.0, ArithmeticVerifier.OutcomeReward(Chain, r));
        Assert.All(ArithmeticVerifier.CheckSteps(Chain, r), v => Assert.Equal(StepVerdict.Correct, v));
    }

    [Fact]
    public void An_arithmetic_slip_in_step_two_is_flagged_only_at_step_two()
    {
        ParsedResponse r = ParseWithEos("7+5=12\n12-3=8\n8*2=16\nA:16");
        Assert.Equal([StepVerdict.Correct, StepVerdict.ArithmeticError, StepVerdict.Correct],
            ArithmeticVerifier.CheckSteps(Chain, r));
        Assert.False(ArithmeticVerifier.IsCorrect(Chain, r));
        StepCheckSummary summary = ArithmeticVerifier.Summarize(Chain, r);
        Assert.Equal((2, 1, 2), (summary.Correct, summary.ArithmeticErrors, summary.FirstErrorStep!.Value));
        Assert.False(summary.AllCorrect);
    }

    [Theory]
    [InlineData("6+5=11\n11-3=8\n8*2=16\nA:16", 1)] // wrong first operand
    [InlineData("7+5=12\n12-4=8\n8*2=16\nA:16", 2)] // wrong right operand
    [InlineData("7+5=12\n12+3=15\n15*2=30\nA:30", 2)] // wrong operator
    [InlineData("7+5=12\n9-3=6\n6*2=12\nA:12", 2)] // left operand is not the previous written result
    public void A_step_using_the_wrong_operand_is_flagged_once(string completion, int wrongStep)
    {
        StepVerdict[] verdicts = Verdicts(completion);
        for (int k = 0; k < verdicts.Length; k++)
            Assert.Equal(k + 1 == wrongStep ? StepVerdict.WrongOperand : StepVerdict.Correct, verdicts[k]);
    }

    [Fact]
    public void Extra_steps_are_flagged_and_missing_ones_counted()
    {
        ParsedResponse extra = ParseWithEos("7+5=12\n12-3=9\n9*2=18\n18+0=18\nA:18");
        Assert.Equal([StepVerdict.Correct, StepVerdict.Correct, StepVerdict.Correct, StepVerdict.Extra],
            ArithmeticVerifier.CheckSteps(Chain, extra));
        Assert.False(ArithmeticVerifier.HasAllSteps(Chain, extra));
        Assert.True(ArithmeticVerifier.IsCorrect(Chain, extra)); // the outcome reward looks at the answer only
        Assert.Equal(1, ArithmeticVerifier.Summarize(Chain, extra).Extra);

        ParsedResponse missing = ParseWithEos("7+5=12\nA:18");
        Assert.False(ArithmeticVerifier.HasAllSteps(Chain, missing));
        Assert.Equal(2, ArithmeticVerifier.Summarize(Chain, missing).MissingSteps);
    }

    [Fact]
    public void A_malformed_step_is_flagged_and_the_next_step_is_judged_against_the_true_value()
    {
        ParsedResponse r = ParseWithEos("7+5=12\n12-3\n9*2=18\nA:18");
        Assert.Equal(ResponseStatus.Malformed, r.Status);
        Assert.Equal([StepVerdict.Correct, StepVerdict.Malformed, StepVerdict.Correct], ArithmeticVerifier.CheckSteps(Chain, r));
        Assert.False(ArithmeticVerifier.IsCorrect(Chain, r));
        Assert.False(ArithmeticVerifier.HasAllSteps(Chain, r));
    }

    [Fact]
    public void A_truncated_response_is_not_correct_even_when_its_steps_are()
    {
        ParsedResponse r = StepParser.Parse(Tok.Encode(Chain.ReferenceCompletion), Tok);
        Assert.Equal(ResponseStatus.Truncated, r.Status);
        Assert.False(ArithmeticVerifier.IsCorrect(Chain, r));
        Assert.All(ArithmeticVerifier.CheckSteps(Chain, r), v => Assert.Equal(StepVerdict.Correct, v));
    }

    [Fact]
    public void A_step_whose_true_value_overflows_a_long_is_an_arithmetic_error()
    {
        ArithmeticProblem p = Problem("+*", 0, 100_000, 9_300_000);
        ParsedResponse r = ParseWithEos("0+100000=999999999999\n999999999999*9300000=1\nA:1");
        Assert.Equal([StepVerdict.ArithmeticError, StepVerdict.ArithmeticError], ArithmeticVerifier.CheckSteps(p, r));
    }
}
