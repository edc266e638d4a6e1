using RlActors.Environments.Arithmetic;

namespace RlActors.Environments.Tests;

/// <summary>The longest prompt and reference solution a task can produce, against every problem of small tasks.</summary>
public sealed class ArithmeticLengthsTests
{
    [Theory]
    [InlineData(1, 3, 1, "+-")]
    [InlineData(1, 3, 1, "+-*")]
    [InlineData(2, 4, 1, "*")]
    [InlineData(1, 1, 2, "+-*")]
    public void The_bounds_hold_for_every_problem_and_the_prompt_bound_is_reached(int minOps, int maxOps, int digits, string operators)
    {
        var options = new ArithmeticOptions { MinOps = minOps, MaxOps = maxOps, OperandDigits = digits, Operators = operators };
        int prompt = ArithmeticLengths.LongestPrompt(options), reference = ArithmeticLengths.LongestReference(options);
        int longestPrompt = 0, longestReference = 0;
        foreach (var p in Every(options))
        {
            longestPrompt = Math.Max(longestPrompt, CharTokenizer.Default.Encode(p.Prompt).Length);
            longestReference = Math.Max(longestReference, CharTokenizer.Default.EncodeWithEos(p.ReferenceCompletion).Length);
        }
        Assert.Equal(longestPrompt, prompt);
        Assert.True(reference >= longestReference, $"bound {reference} < longest reference {longestReference}");
        if (operators == "+-" && digits == 1) Assert.Equal(longestReference, reference);
    }

    [Fact]
    public void The_default_task_has_a_10_token_prompt_and_a_32_token_solution()
    {
        var options = new ArithmeticOptions();
        Assert.Equal(10, ArithmeticLengths.LongestPrompt(options));   // Q:9-9-9-9\n
        Assert.Equal(32, ArithmeticLengths.LongestReference(options)); // 0-9=-9\n-9-9=-18\n-18-9=-27\nA:-27 and the end token
    }

    /// <summary>Every problem of the task: every operation count, operator sequence and operand choice.</summary>
    private static IEnumerable<ArithmeticProblem> Every(ArithmeticOptions o)
    {
        for (int n = o.MinOps; n <= o.MaxOps; n++)
        {
            int opChoices = (int)Math.Pow(o.Operators.Length, n);
            long operandChoices = (long)Math.Pow(o.MaxOperand + 1, n + 1);
            for (int ops = 0; ops < opChoices; ops++)
                for (long values = 0; values < operandChoices; values++)
                {
                    var operators = new char[n];
                    for (int k = 0, r = ops; k < n; k++, r /= o.Operators.Length) operators[k] = o.Operators[r % o.Operators.Length];
                    var operands = new long[n + 1];
                    for (int k = 0; k <= n; k++) operands[k] = values / (long)Math.Pow(o.MaxOperand + 1, k) % (o.MaxOperand + 1);
                    yield return new ArithmeticProblem(0, operands, operators);
                }
        }
    }
}
