using System.Globalization;

namespace RlActors.Environments.Arithmetic;

/// <summary>
/// The longest texts a task can produce, in tokens of <see cref="CharTokenizer"/> (one token per character), so that a
/// model's context can be checked against them before anything runs.
/// </summary>
public static class ArithmeticLengths
{
    /// <summary>
    /// Tokens of the longest prompt (exact): a problem of <see cref="ArithmeticOptions.MaxOps"/> operations on the widest
    /// operands, with as many parenthesised left parts as the operators allow (a '*' after '+' or '-').
    /// </summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public static int LongestPrompt(ArithmeticOptions options)
    {
        options.Validate();
        int n = options.MaxOps;
        char low = options.Operators.Contains('-') ? '-' : options.Operators.Contains('+') ? '+' : '*';
        bool mixed = low != '*' && options.Operators.Contains('*');
        var operators = Enumerable.Range(0, n).Select(k => mixed ? (k % 2 == 0 ? low : '*') : options.Operators[0]).ToArray();
        var problem = new ArithmeticProblem(0, Enumerable.Repeat(options.MaxOperand, n + 1).ToArray(), operators);
        return CharTokenizer.Default.Encode(problem.Prompt).Length;
    }

    /// <summary>
    /// An upper bound on the tokens of a reference completion with its end token: every step line as wide as the widest
    /// values the chain can reach by then (an interval of the running value over all operator and operand choices).
    /// Exact for chains of '+' and '-' on one-digit operands.
    /// </summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public static int LongestReference(ArithmeticOptions options)
    {
        options.Validate();
        long max = options.MaxOperand;
        long lo = 0, hi = max;
        int total = 0;
        for (int k = 0; k < options.MaxOps; k++)
        {
            long nlo = long.MaxValue, nhi = long.MinValue;
            foreach (char op in options.Operators)
            {
                // validated options keep |value| <= 10^12 and operands < 10^4: the products cannot overflow
                var (a, b) = op switch
                {
                    '+' => (lo, hi + max),
                    '-' => (lo - max, hi),
                    _ => (Math.Min(Math.Min(lo * max, hi * max), 0), Math.Max(Math.Max(lo * max, hi * max), 0)),
                };
                nlo = Math.Min(nlo, a);
                nhi = Math.Max(nhi, b);
            }
            total += Width(lo, hi) + 1 + Width(max, max) + 1 + Width(nlo, nhi) + 1; // "l op r=v\n"
            (lo, hi) = (nlo, nhi);
        }
        return total + 2 + Width(lo, hi) + 1; // "A:v" and the end token
    }

    /// <summary>Characters of the widest number in [lo, hi] as the task writes numbers.</summary>
    private static int Width(long lo, long hi) =>
        Math.Max(lo.ToString(CultureInfo.InvariantCulture).Length, hi.ToString(CultureInfo.InvariantCulture).Length);
}
