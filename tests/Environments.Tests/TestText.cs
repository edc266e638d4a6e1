using RlActors.Environments.Arithmetic;

namespace RlActors.Environments.Tests;

/// <summary>Helpers that turn completion text into ids and parse it.</summary>
internal static class TestText
{
    public static CharTokenizer Tok => CharTokenizer.Default;

    /// <summary>Encodes text and appends EOS.</summary>
    public static int[] WithEos(string text) => Tok.EncodeWithEos(text);

    /// <summary>Parses text followed by EOS.</summary>
    public static ParsedResponse ParseWithEos(string text) => StepParser.Parse(WithEos(text), Tok);

    /// <summary>A problem written by hand, e.g. Problem("+-", 7, 5, 3) for 7+5-3.</summary>
    public static ArithmeticProblem Problem(string operators, params long[] operands) =>
        new(0, operands, operators.ToCharArray());
}
