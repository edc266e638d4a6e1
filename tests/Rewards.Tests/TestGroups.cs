using RlActors.Environments.Arithmetic;

namespace RlActors.Rewards.Tests;

/// <summary>Builds reward groups from completion texts, as a sampler would produce them.</summary>
internal static class TestGroups
{
    public static CharTokenizer Tok => CharTokenizer.Default;

    /// <summary>A problem written by hand, e.g. Problem("+-", 7, 5, 3) for 7+5-3.</summary>
    public static ArithmeticProblem Problem(string operators, params long[] operands) =>
        new(0, operands, operators.ToCharArray());

    /// <summary>
    /// A group for <paramref name="problem"/>: each text is encoded, followed by EOS unless it ends in "…"
    /// (truncated; the "…" itself is dropped), then padded to <paramref name="budget"/> ids.
    /// </summary>
    public static RewardGroup Group(ArithmeticProblem problem, int budget, params string[] completions)
    {
        var ids = new List<IReadOnlyList<int>>();
        foreach (string text in completions)
        {
            bool truncated = text.EndsWith('…');
            int[] body = truncated ? Tok.Encode(text[..^1]) : Tok.EncodeWithEos(text);
            if (body.Length > budget)
                throw new ArgumentException($"'{text}' needs {body.Length} ids, more than the budget {budget}");
            var padded = new int[budget]; // zero is the padding id
            body.CopyTo(padded, 0);
            ids.Add(padded);
        }
        return RewardGroup.FromCompletions("test-group", problem, ids, policyVersion: 3, Tok);
    }

    /// <summary>A small group of two samples for 7+5-3.</summary>
    public static RewardGroup Small() => Group(Problem("+-", 7, 5, 3), 24, "7+5=12\n12-3=9\nA:9", "7+5=12\nA:12");
}
