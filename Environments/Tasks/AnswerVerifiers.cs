using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace RlActors.Environments.Tasks;

/// <summary>
/// Decides whether a completion answers a task row correctly, by extracting the answer from the completion and comparing it
/// with the row's ground truth. Implementations are pure and thread-safe.
/// </summary>
public interface IAnswerVerifier
{
    /// <summary>The name an experiment file uses, e.g. <c>gsm8k</c>.</summary>
    string Name { get; }

    /// <summary>The answer the completion gives, as this verifier reads it, or null when it gives none.</summary>
    string? Extract(string completion);

    /// <summary>Whether the completion's answer equals <paramref name="groundTruth"/> (read the same way when it is
    /// written in the same format, e.g. a GSM8K solution ending in <c>#### 42</c>).</summary>
    bool IsCorrect(string completion, string groundTruth);
}

/// <summary>
/// The answer verifiers users of TRL, veRL and OpenRLHF know, by name: <c>exact</c> (the whole completion, trimmed),
/// <c>numeric</c> (the last number, equal within a tolerance), <c>last-number</c> (the last number, exactly),
/// <c>gsm8k</c> (the number after <c>####</c>) and <c>boxed</c> (the contents of the last <c>\boxed{...}</c>, as in MATH).
/// </summary>
public static class AnswerVerifiers
{
    /// <summary>The names <see cref="Create"/> accepts.</summary>
    public static readonly IReadOnlyList<string> Names = ["exact", "numeric", "last-number", "gsm8k", "boxed"];

    /// <summary>The verifier named <paramref name="name"/>; <paramref name="tolerance"/> is the absolute tolerance of
    /// <c>numeric</c> (a relative one of the same size applies to large values).</summary>
    /// <exception cref="ArgumentException">An unknown name, or a negative or non-finite tolerance.</exception>
    public static IAnswerVerifier Create(string name, double tolerance = 1e-6)
    {
        if (!double.IsFinite(tolerance) || tolerance < 0)
            throw new ArgumentException($"the tolerance must be a finite number >= 0 (got {tolerance.ToString(CultureInfo.InvariantCulture)})");
        return name switch
        {
            "exact" => new Exact(),
            "numeric" => new NumericMatch(tolerance),
            "last-number" => new LastNumber(),
            "gsm8k" => new Gsm8k(),
            "boxed" => new Boxed(),
            _ => throw new ArgumentException($"unknown answer verifier '{name}' (one of {string.Join(", ", Names)})"),
        };
    }

    // A number as people write it: sign, thousands separators, decimals, a trailing percent or unit left off.
    private static readonly Regex NumberPattern = new(@"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+", RegexOptions.Compiled);

    /// <summary>The last number written in <paramref name="text"/> (thousands separators removed), or null.</summary>
    public static string? LastNumberIn(string text)
    {
        var matches = NumberPattern.Matches(text);
        return matches.Count == 0 ? null : NormaliseNumber(matches[^1].Value);
    }

    /// <summary>The number <paramref name="text"/> holds once trimmed, or null when it is not one number.</summary>
    public static decimal? ParseNumber(string text)
    {
        string t = text.Trim().TrimEnd('.').Replace(",", "").Replace("$", "");
        return decimal.TryParse(t, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var d)
            ? d : null;
    }

    private static string NormaliseNumber(string s) => s.Replace(",", "").TrimStart('+');

    /// <summary>Two answers are the same number (when both are numbers) or the same text once trimmed.</summary>
    private static bool SameAnswer(string? given, string truth)
    {
        if (given is null) return false;
        if (ParseNumber(given) is decimal a && ParseNumber(truth) is decimal b) return a == b;
        return string.Equals(given.Trim(), truth.Trim(), StringComparison.Ordinal);
    }

    private sealed class Exact : IAnswerVerifier
    {
        public string Name => "exact";
        public string? Extract(string completion) => completion.Trim();
        public bool IsCorrect(string completion, string groundTruth) => string.Equals(completion.Trim(), groundTruth.Trim(), StringComparison.Ordinal);
    }

    private sealed class LastNumber : IAnswerVerifier
    {
        public string Name => "last-number";
        public string? Extract(string completion) => LastNumberIn(completion);
        public bool IsCorrect(string completion, string groundTruth) => SameAnswer(Extract(completion), LastNumberIn(groundTruth) ?? groundTruth);
    }

    private sealed class NumericMatch(double tolerance) : IAnswerVerifier
    {
        public string Name => "numeric";
        public string? Extract(string completion) => LastNumberIn(completion);
        public bool IsCorrect(string completion, string groundTruth)
        {
            if (Extract(completion) is not string given || ParseNumber(given) is not decimal a) return false;
            if (ParseNumber(LastNumberIn(groundTruth) ?? groundTruth) is not decimal b) return false;
            double x = (double)a, y = (double)b;
            return Math.Abs(x - y) <= tolerance * Math.Max(1.0, Math.Abs(y));
        }
    }

    private sealed class Gsm8k : IAnswerVerifier
    {
        private static readonly Regex Final = new(@"####\s*([^\n]*)", RegexOptions.Compiled);
        public string Name => "gsm8k";

        public string? Extract(string completion)
        {
            var matches = Final.Matches(completion);
            if (matches.Count == 0) return null;
            string after = matches[^1].Groups[1].Value.Trim();
            var number = NumberPattern.Match(after); // "#### 1,234 apples" answers 1234
            return number.Success ? NormaliseNumber(number.Value) : after.Length > 0 ? after : null;
        }

        // The ground truth may be a whole GSM8K solution ("... #### 72") or the bare answer.
        public bool IsCorrect(string completion, string groundTruth) => SameAnswer(Extract(completion), Extract(groundTruth) ?? groundTruth);
    }

    private sealed class Boxed : IAnswerVerifier
    {
        public string Name => "boxed";
        public string? Extract(string completion) => LastBoxed(completion);
        public bool IsCorrect(string completion, string groundTruth) =>
            Extract(completion) is string given && Normalise(given) == Normalise(LastBoxed(groundTruth) ?? groundTruth);

        // Light MATH-style normalisation: spaces, \left/\right, \! and a trailing period do not count; numbers compare as numbers.
        private static string Normalise(string s)
        {
            string t = s.Replace("\\left", "").Replace("\\right", "").Replace("\\!", "").Replace("$", "");
            t = new string(t.Where(c => !char.IsWhiteSpace(c)).ToArray()).TrimEnd('.');
            if (t.StartsWith("\\text{") && t.EndsWith('}')) t = t[6..^1];
            return ParseNumber(t) is decimal d ? d.ToString("0.############################", CultureInfo.InvariantCulture) : t;
        }
    }

    /// <summary>The contents of the last <c>\boxed{...}</c> (or <c>\fbox{...}</c>) of <paramref name="text"/>, braces
    /// balanced, or null when there is none or it is not closed.</summary>
    public static string? LastBoxed(string text)
    {
        int start = Math.Max(text.LastIndexOf("\\boxed{", StringComparison.Ordinal), text.LastIndexOf("\\fbox{", StringComparison.Ordinal));
        if (start < 0) return null;
        int open = text.IndexOf('{', start);
        int depth = 0;
        var inside = new StringBuilder();
        for (int i = open; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '{' && depth++ == 0) continue;
            if (c == '}' && --depth == 0) return inside.ToString();
            inside.Append(c);
        }
        return null;
    }
}
