namespace RlActors.Environments.Arithmetic;

/// <summary>
/// Draws arithmetic problems deterministically from a seed. Problem <c>i</c> comes from its own random stream,
/// <see cref="SplitMix64.Derive"/>(seed, i), so it is the same in every process and never depends on which other
/// problems were generated. Thread-safe: <see cref="Get"/> keeps no shared state.
/// </summary>
public sealed class ArithmeticGenerator
{
    /// <summary>Creates a generator; the options are validated.</summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public ArithmeticGenerator(ArithmeticOptions options, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        Seed = seed;
    }

    /// <summary>The task options.</summary>
    public ArithmeticOptions Options { get; }

    /// <summary>The seed of the problem stream.</summary>
    public ulong Seed { get; }

    /// <summary>Returns problem number <paramref name="index"/> of the stream.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is negative.</exception>
    public ArithmeticProblem Get(long index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        SplitMix64 random = SplitMix64.Derive(Seed, index);

        int opCount = Options.MinOps + random.NextInt32(Options.MaxOps - Options.MinOps + 1);
        long operandBound = Options.MaxOperand + 1;
        var operands = new long[opCount + 1];
        var operators = new char[opCount];
        operands[0] = random.NextInt64(operandBound);
        for (int k = 0; k < opCount; k++)
        {
            operators[k] = Options.Operators[random.NextInt32(Options.Operators.Length)];
            operands[k + 1] = random.NextInt64(operandBound);
        }
        return new ArithmeticProblem(index, operands, operators);
    }
}
