using RlActors.Environments.Arithmetic;
using static RlActors.Environments.Tests.TestText;

namespace RlActors.Environments.Tests;

public class StepParserTests
{
    [Fact]
    public void Reference_completion_with_eos_parses_as_complete_with_spans_that_exactly_cover_it()
    {
        var generator = new ArithmeticGenerator(new ArithmeticOptions { MaxOps = 5, OperandDigits = 2, Operators = "+-*" }, 5);
        for (int i = 0; i < 500; i++)
        {
            ArithmeticProblem p = generator.Get(i);
            int[] ids = WithEos(p.ReferenceCompletion);
            ParsedResponse r = StepParser.Parse(ids, Tok);

            Assert.Equal(ResponseStatus.Complete, r.Status);
            Assert.Equal(p.Answer, r.Answer);
            Assert.Equal(p.OperationCount, r.Steps.Count);
            Assert.Equal(ids.Length - 1, r.TerminalIndex);
            Assert.Equal(ids.Length, r.Length);

            int expectedStart = 0;
            for (int k = 0; k < r.Steps.Count; k++)
            {
                ParsedStep step = r.Steps[k];
                Assert.Equal(k + 1, step.Number);
                Assert.Equal(expectedStart, step.TokenStart);
                Assert.Equal(step.Text + "\n", Tok.Decode(ids.AsSpan(step.TokenStart, step.TokenEnd - step.TokenStart)));
                Assert.True(step.WellFormed);
                Assert.Equal(k == 0 ? p.Operands[0] : p.IntermediateResults[k - 1], step.Left);
                Assert.Equal(p.Operators[k], step.Operator);
                Assert.Equal(p.Operands[k + 1], step.Right);
                Assert.Equal(p.IntermediateResults[k], step.Result);
                expectedStart = step.TokenEnd;
            }
            Assert.Equal(expectedStart, r.AnswerTokenStart);
            Assert.Equal(r.TerminalIndex + 1, r.AnswerTokenEnd);
        }
    }

    [Fact]
    public void Empty_input_is_truncated_and_a_lone_eos_has_no_answer()
    {
        ParsedResponse empty = StepParser.Parse([], Tok);
        Assert.Equal(ResponseStatus.Truncated, empty.Status);
        Assert.Empty(empty.Steps);
        Assert.Equal((-1, 0, -1, -1), (empty.TerminalIndex, empty.Length, empty.AnswerTokenStart, empty.AnswerTokenEnd));

        ParsedResponse eos = StepParser.Parse([CharTokenizer.Eos], Tok);
        Assert.Equal(ResponseStatus.NoAnswer, eos.Status);
        Assert.Equal((0, 1), (eos.TerminalIndex, eos.Length));
    }

    [Fact]
    public void Garbage_text_is_malformed()
    {
        ParsedResponse r = ParseWithEos("QQ((::  )=\n7+\n");
        Assert.Equal(ResponseStatus.Malformed, r.Status);
        Assert.Equal(2, r.Steps.Count);
        Assert.All(r.Steps, s => Assert.False(s.WellFormed));
        Assert.Null(r.Answer);
    }

    [Fact]
    public void Response_without_eos_is_truncated_and_its_unfinished_line_is_not_reported()
    {
        int[] ids = Tok.Encode("7+5=12\n12-3=");
        ParsedResponse r = StepParser.Parse(ids, Tok);
        Assert.Equal(ResponseStatus.Truncated, r.Status);
        Assert.Equal(ids.Length, r.Length);
        Assert.Equal(-1, r.TerminalIndex);
        Assert.Equal("7+5=12", Assert.Single(r.Steps).Text);

        ParsedResponse cutAnswer = StepParser.Parse(Tok.Encode("7+5=12\nA:1"), Tok);
        Assert.Equal(ResponseStatus.Truncated, cutAnswer.Status);
        Assert.Null(cutAnswer.Answer);
    }

    [Fact]
    public void Steps_followed_by_eos_without_an_answer_line_have_no_answer()
    {
        ParsedResponse r = ParseWithEos("7+5=12\n12-3=9\n");
        Assert.Equal(ResponseStatus.NoAnswer, r.Status);
        Assert.Equal(2, r.Steps.Count);
        Assert.Equal(-1, r.AnswerTokenStart);
    }

    [Theory]
    [InlineData("7+5=12\nA:12\n")]
    [InlineData("7+5=12\nA:12\n7+5=12")]
    [InlineData("7+5=12\nA:12 ")]
    [InlineData("7+5=12\nA:12A:12")]
    public void Text_after_the_answer_is_malformed(string text)
    {
        ParsedResponse r = ParseWithEos(text);
        Assert.Equal(ResponseStatus.Malformed, r.Status);
        Assert.Single(r.Steps);
    }

    [Fact]
    public void Answer_line_that_is_not_an_integer_is_malformed_but_keeps_its_text()
    {
        ParsedResponse r = ParseWithEos("7+5=12\nA:9+1");
        Assert.Equal(ResponseStatus.Malformed, r.Status);
        Assert.Null(r.Answer);
        Assert.Equal("9+1", r.AnswerText);
        Assert.Equal(7, r.AnswerTokenStart);
        Assert.Equal("Step 1: 7+5=12\nAnswer: 9+1", r.FormatNumbered());
    }

    [Fact]
    public void Padding_after_eos_is_ignored()
    {
        int[] ids = [.. WithEos("7+5=12\nA:12"), CharTokenizer.Pad, CharTokenizer.Pad, 7, 99];
        ParsedResponse r = StepParser.Parse(ids, Tok);
        Assert.Equal(ResponseStatus.Complete, r.Status);
        Assert.Equal(12, r.Answer);
        Assert.Equal(11, r.TerminalIndex);
        Assert.Equal(12, r.Length);
        Assert.Equal(12, r.AnswerTokenEnd);
    }

    [Fact]
    public void Padding_without_eos_ends_the_response_and_drops_its_unfinished_line()
    {
        int[] ids = [.. Tok.Encode("7+5=12\nA:12"), CharTokenizer.Pad, CharTokenizer.Pad];
        ParsedResponse r = StepParser.Parse(ids, Tok);
        Assert.Equal(ResponseStatus.NoAnswer, r.Status);
        Assert.Null(r.Answer);
        Assert.Single(r.Steps);
        Assert.Equal((11, 12), (r.TerminalIndex, r.Length));
    }

    [Theory]
    [InlineData("3--4=7", 3L, '-', -4L, 7L)]
    [InlineData("-4*2=-8", -4L, '*', 2L, -8L)]
    [InlineData("-4*-2=8", -4L, '*', -2L, 8L)]
    [InlineData("999999999999+0=999999999999", 999999999999L, '+', 0L, 999999999999L)]
    [InlineData("007+1=8", 7L, '+', 1L, 8L)]
    public void Well_formed_steps_are_read_with_signed_operands(string line, long left, char op, long right, long result)
    {
        ParsedStep step = ParseWithEos(line + "\nA:0").Steps[0];
        Assert.True(step.WellFormed);
        Assert.Equal((left, op, right, result), (step.Left!.Value, step.Operator!.Value, step.Right!.Value, step.Result!.Value));
    }

    [Theory]
    [InlineData("")]
    [InlineData("7+5")]
    [InlineData("7+5=")]
    [InlineData("7+5=12=12")]
    [InlineData("+5=5")]
    [InlineData("7 + 5=12")]
    [InlineData("7+5=12 ")]
    [InlineData("(7+5)=12")]
    [InlineData("7+5+1=13")]
    [InlineData("--7+5=-2")]
    [InlineData("7=5+2")]
    [InlineData("1234567890123+0=1")]
    [InlineData("1+0=1234567890123")]
    public void Lines_that_are_not_single_steps_are_malformed(string line)
    {
        ParsedResponse r = ParseWithEos(line + "\nA:0");
        ParsedStep step = Assert.Single(r.Steps);
        Assert.False(step.WellFormed);
        Assert.Null(step.Left);
        Assert.Null(step.Result);
        Assert.Equal(line, step.Text);
        Assert.Equal(ResponseStatus.Malformed, r.Status);
    }

    [Fact]
    public void Unknown_ids_inside_a_line_make_it_malformed_and_show_as_question_marks()
    {
        int[] ids = [.. Tok.Encode("7+5=1"), 500, .. Tok.Encode("\nA:12"), CharTokenizer.Eos];
        ParsedResponse r = StepParser.Parse(ids, Tok);
        Assert.Equal(ResponseStatus.Malformed, r.Status);
        Assert.Equal("7+5=1?", r.Steps[0].Text);
        Assert.Equal(12, r.Answer);
    }

    [Fact]
    public void Parsed_responses_render_numbered_steps()
    {
        Assert.Equal("Step 1: 7+5=12\nStep 2: 12-3=8\nAnswer: 8", ParseWithEos("7+5=12\n12-3=8\nA:8").FormatNumbered());
        Assert.Equal("Step 1: 7+5=12\nAnswer: (none)", ParseWithEos("7+5=12").FormatNumbered());
    }

    [Fact]
    public void Random_id_sequences_never_throw_and_keep_the_invariants()
    {
        var random = new Random(20240601);
        ArithmeticProblem problem = Problem("+-*", 7, 5, 3, 2);
        int[] oddIds = [int.MinValue, -1, Tok.VocabSize, int.MaxValue];
        for (int n = 0; n < 10_000; n++)
        {
            int length = random.Next(0, 48);
            var ids = new int[length];
            for (int i = 0; i < length; i++)
            {
                int kind = random.Next(100);
                ids[i] = kind switch
                {
                    < 2 => oddIds[random.Next(oddIds.Length)],
                    < 5 => random.Next(0, 2),                                // a terminal now and then
                    < 40 => Tok.IdOf("0123456789"[random.Next(10)]),
                    < 70 => Tok.IdOf("+-*=\nA:"[random.Next(7)]),
                    _ => random.Next(2, Tok.VocabSize),
                };
            }

            ParsedResponse r = StepParser.Parse(ids, Tok);
            IReadOnlyList<StepVerdict> verdicts = ArithmeticVerifier.CheckSteps(problem, r);
            ArithmeticVerifier.Summarize(problem, r);
            _ = r.FormatNumbered();

            Assert.Equal(r.Steps.Count, verdicts.Count);
            Assert.InRange(r.Length, 0, length);
            Assert.Equal(r.TerminalIndex < 0 ? length : r.TerminalIndex + 1, r.Length);
            Assert.Equal(r.TerminalIndex < 0, r.Status == ResponseStatus.Truncated);
            int previousEnd = 0;
            foreach (ParsedStep step in r.Steps)
            {
                Assert.Equal(previousEnd, step.TokenStart);
                Assert.InRange(step.TokenEnd, step.TokenStart, r.Length);
                previousEnd = step.TokenEnd;
            }
            if (r.Status == ResponseStatus.Complete)
            {
                Assert.NotNull(r.Answer);
                Assert.Equal(previousEnd, r.AnswerTokenStart);
                Assert.Equal(r.Length, r.AnswerTokenEnd);
                Assert.Equal(CharTokenizer.Eos, ids[r.TerminalIndex]);
            }
        }
    }
}
