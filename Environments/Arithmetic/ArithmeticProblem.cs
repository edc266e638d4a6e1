using System.Globalization;
using System.Text;

namespace RlActors.Environments.Arithmetic;

/// <summary>
/// One left-to-right chain of operations, e.g. operands [7, 5, 3] and operators ['+', '-'] meaning ((7 + 5) - 3),
/// with its prompt and reference solution in the compact text format of the task:
/// <code>
/// Q:7+5-3\n          (prompt; parentheses only where precedence would change the left-to-right value, e.g. Q:(7+5)*3)
/// 7+5=12\n12-3=9\nA:9  (reference completion, followed by EOS when tokenised)
/// </code>
/// Equality compares the index, operands and operators (everything else follows from them).
/// </summary>
public sealed record ArithmeticProblem
{
    /// <summary>The most decimal digits a number may have in the step format.</summary>
    public const int MaxDigits = 12;

    /// <summary>The largest magnitude a number may have in the step format (10^12 - 1).</summary>
    public const long MaxValue = 999_999_999_999L;

    /// <summary>
    /// Builds a problem and derives its texts and results.
    /// </summary>
    /// <param name="index">The position of the problem in its stream (informational).</param>
    /// <param name="operands">The operands, non-negative and at most <see cref="MaxValue"/>; one more than <paramref name="operators"/>.</param>
    /// <param name="operators">The operators, each one of '+', '-', '*'; at least one.</param>
    /// <exception cref="ArgumentException">The shapes disagree, an operator or operand is out of range, or an intermediate value exceeds 12 digits.</exception>
    public ArithmeticProblem(long index, IReadOnlyList<long> operands, IReadOnlyList<char> operators)
    {
        ArgumentNullException.ThrowIfNull(operands);
        ArgumentNullException.ThrowIfNull(operators);
        if (operators.Count < 1)
            throw new ArgumentException("A problem needs at least one operator.", nameof(operators));
        if (operands.Count != operators.Count + 1)
            throw new ArgumentException(
                $"A problem with {operators.Count} operators needs {operators.Count + 1} operands, not {operands.Count}.", nameof(operands));
        foreach (long operand in operands)
            if (operand < 0 || operand > MaxValue)
                throw new ArgumentException($"Operand {operand} is outside [0, {MaxValue}].", nameof(operands));
        foreach (char op in operators)
            if (!ArithmeticOptions.SupportedOperators.Contains(op))
                throw new ArgumentException($"Operator '{op}' is not one of \"{ArithmeticOptions.SupportedOperators}\".", nameof(operators));

        Index = index;
        Operands = Array.AsReadOnly(operands.ToArray());
        Operators = Array.AsReadOnly(operators.ToArray());

        var results = new long[operators.Count];
        var completion = new StringBuilder();
        long value = operands[0];
        for (int k = 0; k < operators.Count; k++)
        {
            long next = Apply(value, operators[k], operands[k + 1]);
            if (Math.Abs(next) > MaxValue)
                throw new ArgumentException(
                    $"Step {k + 1} produces {next}, which exceeds the {MaxDigits}-digit limit of the step format.", nameof(operands));
            completion.Append(FormatStep(value, operators[k], operands[k + 1], next)).Append('\n');
            results[k] = value = next;
        }
        completion.Append("A:").Append(Format(value));

        IntermediateResults = Array.AsReadOnly(results);
        Answer = value;
        Expression = RenderExpression(Operands, Operators);
        Prompt = "Q:" + Expression + "\n";
        ReferenceCompletion = completion.ToString();
    }

    /// <summary>The position of the problem in its stream.</summary>
    public long Index { get; }

    /// <summary>The operands, left to right.</summary>
    public IReadOnlyList<long> Operands { get; }

    /// <summary>The operators, left to right; operator k combines the running value with operand k + 1.</summary>
    public IReadOnlyList<char> Operators { get; }

    /// <summary>The number of operations (steps) in the problem.</summary>
    public int OperationCount => Operators.Count;

    /// <summary>The expression text without "Q:", e.g. "(7+5)*3".</summary>
    public string Expression { get; }

    /// <summary>The prompt text, "Q:" + <see cref="Expression"/> + "\n".</summary>
    public string Prompt { get; }

    /// <summary>The value of the chain.</summary>
    public long Answer { get; }

    /// <summary>The running value after each operation; the last equals <see cref="Answer"/>.</summary>
    public IReadOnlyList<long> IntermediateResults { get; }

    /// <summary>The reference solution, one "l op r = result" line per step then "A:answer", without the EOS token.</summary>
    public string ReferenceCompletion { get; }

    /// <summary>
    /// Renders the reference solution with numbered steps, for critique prompts:
    /// <c>Step 1: 7+5=12</c> … <c>Answer: 9</c>, one per line, no trailing newline.
    /// </summary>
    public string FormatNumbered()
    {
        var text = new StringBuilder();
        long value = Operands[0];
        for (int k = 0; k < Operators.Count; k++)
        {
            text.Append("Step ").Append(k + 1).Append(": ")
                .Append(FormatStep(value, Operators[k], Operands[k + 1], IntermediateResults[k])).Append('\n');
            value = IntermediateResults[k];
        }
        return text.Append("Answer: ").Append(Format(Answer)).ToString();
    }

    /// <inheritdoc />
    public bool Equals(ArithmeticProblem? other) =>
        other is not null
        && Index == other.Index
        && Operands.SequenceEqual(other.Operands)
        && Operators.SequenceEqual(other.Operators);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Index);
        foreach (long operand in Operands)
            hash.Add(operand);
        foreach (char op in Operators)
            hash.Add(op);
        return hash.ToHashCode();
    }

    /// <inheritdoc />
    public override string ToString() => $"#{Index.ToString(CultureInfo.InvariantCulture)} {Expression} = {Format(Answer)}";

    /// <summary>Formats a number as the task writes it: invariant culture, ASCII minus.</summary>
    internal static string Format(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Formats one step line without its newline, e.g. "12-3=9".</summary>
    internal static string FormatStep(long left, char op, long right, long result) =>
        Format(left) + op + Format(right) + "=" + Format(result);

    private static long Apply(long left, char op, long right) => op switch
    {
        '+' => checked(left + right),
        '-' => checked(left - right),
        '*' => checked(left * right),
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "Unknown operator."),
    };

    private static int Precedence(char op) => op == '*' ? 2 : 1;

    /// <summary>
    /// Writes the chain in standard notation. The right operands are plain numbers, so the only place precedence
    /// can disagree with left-to-right order is when an operator binds tighter than the one at the top of the
    /// expression so far; only then is the left part wrapped in parentheses.
    /// </summary>
    private static string RenderExpression(IReadOnlyList<long> operands, IReadOnlyList<char> operators)
    {
        string expression = Format(operands[0]);
        int topPrecedence = int.MaxValue; // a bare number binds tightest
        for (int k = 0; k < operators.Count; k++)
        {
            int precedence = Precedence(operators[k]);
            if (precedence > topPrecedence)
                expression = "(" + expression + ")";
            expression += operators[k] + Format(operands[k + 1]);
            topPrecedence = precedence;
        }
        return expression;
    }
}
