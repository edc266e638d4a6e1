namespace RlActors.Environments.Arithmetic;

/// <summary>The knobs of the arithmetic task: how long the chains are, how big the operands are, which operators occur.</summary>
public sealed record ArithmeticOptions
{
    /// <summary>The largest operand width supported, in decimal digits.</summary>
    public const int MaxOperandDigits = 4;

    /// <summary>The longest chain supported, in operations.</summary>
    public const int MaxSupportedOps = 32;

    /// <summary>The operators the task knows about.</summary>
    public const string SupportedOperators = "+-*";

    /// <summary>The fewest operations in a problem (at least 1). Default 1.</summary>
    public int MinOps { get; init; } = 1;

    /// <summary>The most operations in a problem; the count is drawn uniformly from [<see cref="MinOps"/>, <see cref="MaxOps"/>]. Default 3.</summary>
    public int MaxOps { get; init; } = 3;

    /// <summary>Operand width in decimal digits, 1 to 4: operands are drawn uniformly from 0 to 10^d - 1. Default 1.</summary>
    public int OperandDigits { get; init; } = 1;

    /// <summary>The operators to draw from uniformly, a non-empty subset of "+-*" without repeats. Default "+-".</summary>
    public string Operators { get; init; } = "+-";

    /// <summary>The largest operand value, 10^<see cref="OperandDigits"/> - 1.</summary>
    public long MaxOperand
    {
        get
        {
            long max = 1;
            for (int i = 0; i < OperandDigits; i++)
                max *= 10;
            return max - 1;
        }
    }

    /// <summary>
    /// Checks the options. Besides the per-property ranges, the worst-case magnitude of every intermediate
    /// value must fit the 12-digit numbers of the step format (this limits <see cref="MaxOps"/> when '*' is allowed).
    /// </summary>
    /// <exception cref="ArgumentException">A property is out of range; <see cref="ArgumentException.ParamName"/> names it.</exception>
    public void Validate()
    {
        if (MinOps < 1)
            throw new ArgumentException($"MinOps must be at least 1, but is {MinOps}.", nameof(MinOps));
        if (MaxOps < MinOps)
            throw new ArgumentException($"MaxOps ({MaxOps}) must not be smaller than MinOps ({MinOps}).", nameof(MaxOps));
        if (MaxOps > MaxSupportedOps)
            throw new ArgumentException($"MaxOps must be at most {MaxSupportedOps}, but is {MaxOps}.", nameof(MaxOps));
        if (OperandDigits < 1 || OperandDigits > MaxOperandDigits)
            throw new ArgumentException(
                $"OperandDigits must be between 1 and {MaxOperandDigits}, but is {OperandDigits}.", nameof(OperandDigits));
        if (string.IsNullOrEmpty(Operators))
            throw new ArgumentException("Operators must name at least one of \"+-*\".", nameof(Operators));
        for (int i = 0; i < Operators.Length; i++)
        {
            char op = Operators[i];
            if (!SupportedOperators.Contains(op))
                throw new ArgumentException(
                    $"Operators contains '{op}' at position {i}; only \"{SupportedOperators}\" are supported.", nameof(Operators));
            if (Operators.IndexOf(op) != i)
                throw new ArgumentException($"Operators contains '{op}' more than once.", nameof(Operators));
        }

        long bound = WorstCaseMagnitude();
        if (bound > ArithmeticProblem.MaxValue)
            throw new ArgumentException(
                $"With OperandDigits = {OperandDigits} and '*' allowed, MaxOps = {MaxOps} can produce values beyond " +
                $"the {ArithmeticProblem.MaxDigits}-digit limit of the step format; lower MaxOps.", nameof(MaxOps));
    }

    /// <summary>An upper bound on |value| after any number of operations up to MaxOps, saturating just above the limit.</summary>
    private long WorstCaseMagnitude()
    {
        long operand = MaxOperand;
        long magnitude = operand;
        for (int i = 0; i < MaxOps && magnitude <= ArithmeticProblem.MaxValue; i++)
        {
            long next = magnitude + operand;
            if (Operators.Contains('*'))
                next = Math.Max(next, magnitude * operand); // magnitude <= 10^12 and operand < 10^4: no overflow
            magnitude = next;
        }
        return magnitude;
    }
}
