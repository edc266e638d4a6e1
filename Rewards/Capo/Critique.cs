using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace RlActors.Rewards.Capo;

/// <summary>What became of one requested critique.</summary>
public enum CritiqueStatus
{
    /// <summary>The judge answered and its conclusion parsed to a list of wrong steps (possibly empty). It votes.</summary>
    Valid,

    /// <summary>The judge answered but its text had no recognisable conclusion, or named a step that does not exist. It abstains.</summary>
    Unparseable,

    /// <summary>No answer before the deadline or the per-request timeout. It abstains.</summary>
    TimedOut,

    /// <summary>The judge could not answer (HTTP error, malformed reply, missing API key, crashed voter). It abstains.</summary>
    Failed,
}

/// <summary>One critique of one response by a GenPRM judge.</summary>
/// <param name="Status">Whether the critique is usable.</param>
/// <param name="WrongSteps">
/// The 1-based numbers of the steps the critique calls wrong, sorted ascending and distinct; empty when it calls no
/// step wrong and always empty unless <paramref name="Status"/> is <see cref="CritiqueStatus.Valid"/>.
/// </param>
/// <param name="Detail">Why the critique is not valid (for logs and counters), or null. Never contains secrets.</param>
public sealed record Critique(CritiqueStatus Status, int[] WrongSteps, string? Detail = null)
{
    /// <summary>A valid critique flagging <paramref name="wrongSteps"/> (sorted and de-duplicated here).</summary>
    public static Critique Valid(params int[] wrongSteps)
    {
        ArgumentNullException.ThrowIfNull(wrongSteps);
        return new Critique(CritiqueStatus.Valid, [.. wrongSteps.Distinct().Order()]);
    }

    /// <summary>A critique that abstains with <paramref name="status"/> (anything but Valid) and a reason.</summary>
    public static Critique Abstain(CritiqueStatus status, string detail)
    {
        if (status == CritiqueStatus.Valid)
            throw new ArgumentException("An abstaining critique cannot be Valid.", nameof(status));
        return new Critique(status, [], detail);
    }

    /// <summary>Whether the critique votes (<see cref="CritiqueStatus.Valid"/>).</summary>
    public bool IsValid => Status == CritiqueStatus.Valid;

    /// <summary>A critique that abstains, its Detail starting with the reason kind (<c>"timeout: no reply within 60 s"</c>, see <see cref="CritiqueFailure"/>).</summary>
    public static Critique Abstain(CritiqueStatus status, string kind, string detail) => Abstain(status, $"{kind}: {detail}");

    /// <summary>Why the critique does not vote, as one of the kinds of <see cref="CritiqueFailure"/>; null when it is valid.</summary>
    public string? ReasonKind => IsValid ? null : CritiqueFailure.KindOf(Status, Detail);
}

/// <summary>
/// The kinds of reasons a critique does not vote. A judge writes the kind at the start of the Detail ("kind: text"),
/// so it travels with the critique wherever the Detail goes (voter replies across nodes); the step log counts them.
/// </summary>
public static class CritiqueFailure
{
    /// <summary>An HTTP request got no reply within capo.judge.timeout.</summary>
    public const string Timeout = "timeout";
    /// <summary>The critique was not back when the vote's deadline (capo.deadline) came.</summary>
    public const string Deadline = "deadline";
    /// <summary>The server could not be reached (refused, reset, DNS, connect timeout), after the retries.</summary>
    public const string Connect = "connect";
    /// <summary>The server answered with an error status (after the retries for 429 and 5xx).</summary>
    public const string HttpStatus = "http-status";
    /// <summary>The server's reply was not a chat completion.</summary>
    public const string BadReply = "bad-reply";
    /// <summary>The API key's environment variable is not set where the judge runs.</summary>
    public const string ApiKey = "api-key";
    /// <summary>The judge's text had no readable verdict (or named a step that does not exist).</summary>
    public const string Unparseable = "unparseable";
    /// <summary>The critique was cut off at capo.judge.max-tokens before its verdict.</summary>
    public const string CutOff = "cut-off";
    /// <summary>The judge threw or broke its contract (a bug).</summary>
    public const string JudgeError = "judge-error";
    /// <summary>The voter could not rebuild the response from the request.</summary>
    public const string InvalidRequest = "invalid-request";
    /// <summary>The critique was cancelled (its voter stopped).</summary>
    public const string Cancelled = "cancelled";

    /// <summary>Every kind.</summary>
    public static readonly IReadOnlyList<string> Kinds =
        [Timeout, Deadline, Connect, HttpStatus, BadReply, ApiKey, Unparseable, CutOff, JudgeError, InvalidRequest, Cancelled];

    /// <summary>The kind written at the start of <paramref name="detail"/>, or one following from the status.</summary>
    public static string KindOf(CritiqueStatus status, string? detail)
    {
        if (detail is not null)
        {
            int colon = detail.IndexOf(':');
            if (colon > 0 && Kinds.Contains(detail[..colon]))
                return detail[..colon];
        }
        return status switch
        {
            CritiqueStatus.Unparseable => Unparseable,
            CritiqueStatus.TimedOut => Timeout,
            _ => JudgeError,
        };
    }
}

/// <summary>
/// Reads the conclusion of a critique: the list of wrong steps an LLM wrote at the end of its analysis.
/// </summary>
/// <remarks>
/// <para>Accepted forms (case, markdown emphasis, backticks and headings ignored):</para>
/// <list type="bullet">
/// <item>a keyed list: <c>Wrong steps: [1, 3]</c>, <c>wrong steps: 1,3</c>, <c>**Wrong steps:** Step 2 and Step 3</c>,
/// <c>The incorrect steps are 2 and 3.</c>, <c>Wrong steps: Step 2 (12-3=8) and Step 3</c> (remarks in parentheses
/// are skipped), <c>Wrong steps: 2-4</c> (a range), <c>Wrong steps: none</c>,
/// <c>Wrong steps: []</c>, and JSON such as <c>{"wrong_steps": [1, 3]}</c> or <c>{"wrongSteps": []}</c>;
/// prose after the list is ignored (<c>Wrong steps: [2] because 12-3 is 9</c>);</item>
/// <item>a bare list as the last non-empty line: <c>[1, 3]</c>, <c>[]</c>, <c>none</c>, <c>Step 2 and Step 3</c>,
/// <c>Steps 2, 3</c>, <c>Step 2 is wrong.</c>, <c>Final answer: [2]</c>;</item>
/// <item>a statement that nothing is wrong: <c>There are no wrong steps.</c>, <c>All steps are correct.</c></item>
/// </list>
/// <para>The analysis before the conclusion often mentions steps too, so the <em>last</em> conclusion wins: the
/// last keyed list (key followed by ':', '=', "are" or "is"), or the bare list of the last line when it comes after
/// it. Weaker hints (<c>wrong step 2</c> without a colon, <c>no wrong steps</c> in prose) count only when there is
/// no keyed list or bare last line at all.</para>
/// <para>A step number outside 1..stepCount (e.g. 0, or 5 for a 3-step response) makes the critique
/// <see cref="CritiqueStatus.Unparseable"/> with a Detail saying so: the judge misread the response, so its list
/// cannot be trusted. Text with no recognisable conclusion is Unparseable too. Never throws.</para>
/// </remarks>
public static class CritiqueParser
{
    /// <summary>Only the last this-many characters are read: the conclusion is at the end.</summary>
    public const int MaxChars = 64 * 1024;

    private const string Key = @"(?:wrong|incorrect|erroneous|flawed|faulty|mistaken|invalid|bad)[ \t]*steps?(?:\(s\))?(?:[ \t]*(?:list|numbers?|indices|indexes|ids?))?";
    private const string BadWord = @"(?:wrong|incorrect|erroneous|flawed|faulty|mistaken|invalid|not[ \t]+correct)";
    private const string Bracket = @"\[[^\[\]\n]{0,400}\]";
    private const string NoneWord = @"[""']?(?:none|nothing|null|n/a|empty|no steps?|no wrong steps?|no errors?|no mistakes?)\b[""']?";
    private const string Number = @"-?\d+";
    private const string Sep = @"(?:[ \t]*(?:,|;|&|/|\+|and|or|to|-|–|—)[ \t]*|[ \t]*,[ \t]*and[ \t]+)";
    private const string StepWord = @"(?:steps?[ \t]*)?";
    private const string Aside = @"(?:[ \t]*\([^()\n]{0,80}\))?";
    private const string Unbracketed = StepWord + Number + Aside + "(?:" + Sep + StepWord + Number + Aside + ")*";
    private const string ListBody = "(?:" + Bracket + "|" + NoneWord + "|" + Unbracketed + ")";

    private static readonly RegexOptions Options =
        RegexOptions.CultureInvariant | RegexOptions.Multiline | RegexOptions.NonBacktracking;

    /// <summary>A key followed by ':', '=', "are", "is", "were" or "was" and a list: a strong conclusion.</summary>
    private static readonly Regex Keyed = new(
        Key + @"[ \t]*[""']?[ \t]*(?:[:=][ \t]*\n?[ \t]*|(?:are|is|were|was)\b[ \t]*:?[ \t]*)(?<list>" + ListBody + ")",
        Options);

    /// <summary>A key directly followed by a number list ("wrong step 2"): a weak hint.</summary>
    private static readonly Regex BareKeyed = new(Key + @"[ \t]+(?<list>" + Unbracketed + ")", Options);

    /// <summary>"step 2 is wrong", "steps 2 and 3 are incorrect", "the error is in step 2", "step 3 contains a mistake": weak hints.</summary>
    private static readonly Regex StepIsWrong = new(
        @"(?:\b(?<list>steps?[ \t]*" + Number + "(?:" + Sep + StepWord + Number + @")*)[ \t]+(?:(?:is|are|was|were)[ \t]+(?:also[ \t]+)?" + BadWord
        + @"\b|(?:contains?|has|have|makes?|made)[ \t]+(?:an?|the)[ \t]+(?:\w+[ \t]+)?(?:error|mistake)s?\b)"
        + @"|\b(?:error|mistake)s?[ \t]+(?:is[ \t]+|are[ \t]+|occurs?[ \t]+|appears?[ \t]+|was[ \t]+|lies[ \t]+)?(?:made[ \t]+)?in[ \t]+(?<list>steps?[ \t]*" + Number + "(?:" + Sep + StepWord + Number + @")*))",
        Options);

    /// <summary>JSON verdicts per step: {"step": 2, "correct": false}, {"step": 2, "verdict": "wrong"}: a strong conclusion.</summary>
    private static readonly Regex JsonStep = new(
        @"""step(?:[ \t]*(?:number|index|id))?""[ \t]*:[ \t]*""?(?<step>\d+)""?[ \t]*,[ \t]*""(?:(?:is[ \t]*)?(?:correct|valid|ok|right)""[ \t]*:[ \t]*(?<bool>true|false)|(?:verdict|label|judgement|judgment|status|result)""[ \t]*:[ \t]*""(?<word>correct|right|valid|ok|incorrect|wrong|invalid|error|erroneous)"")",
        Options);

    /// <summary>"no wrong steps", "all steps are correct": a weak hint that nothing is wrong.</summary>
    private static readonly Regex NothingWrong = new(
        @"\b(?:no[ \t]+(?:wrong|incorrect|erroneous|flawed)[ \t]+steps?\b|(?:no|none[ \t]+of[ \t]+the)[ \t]+steps?[ \t]+(?:is|are|was|were)[ \t]+" + BadWord
        + @"\b|no[ \t]+(?:errors?|mistakes?)[ \t]+(?:were[ \t]+|was[ \t]+)?(?:found|detected|made)\b|(?:all|every)[ \t]+(?:of[ \t]+)?(?:the[ \t]+)?steps?[ \t]+(?:are|is|were|was)[ \t]+(?:correct|right|valid)[ \t]*[.!]?[ \t]*$)",
        Options);

    /// <summary>A whole line that is a bare list, optionally "... is/are wrong".</summary>
    private static readonly Regex BareLine = new(
        @"^[ \t>\-]*(?:(?:final[ \t]+answer|final[ \t]+verdict|conclusion|verdict|answer|result|errors?|mistakes?)[ \t]*[:\-]?[ \t]*)?(?<list>" + ListBody
        + @")[ \t]*(?:(?:are|is|were|was)[ \t]+(?:wrong|incorrect|erroneous|flawed)\b[^\n]*)?[ \t]*[.!]?[ \t]*$",
        Options);

    private static readonly Regex Remark = new(@"\([^()]*\)", Options);

    private static readonly Regex NoneOnly = new(@"^[ \t""']*(?:" + NoneWord + @")?[ \t""']*$", Options);

    /// <summary>
    /// Parses the conclusion of a critique of a response with <paramref name="stepCount"/> numbered steps.
    /// Never throws: any problem gives an <see cref="CritiqueStatus.Unparseable"/> critique with a Detail.
    /// </summary>
    /// <param name="text">The judge's full reply.</param>
    /// <param name="stepCount">The number of steps the judge was shown.</param>
    public static Critique Parse(string text, int stepCount) => Parse(text, stepCount, out _);

    /// <summary>As <see cref="Parse(string, int)"/>; also says whether the conclusion was a keyed list ("Wrong steps: ...").</summary>
    internal static Critique Parse(string? text, int stepCount, out bool keyed)
    {
        keyed = false;
        try
        {
            if (stepCount < 0)
                return Critique.Abstain(CritiqueStatus.Unparseable, $"invalid step count {stepCount}");
            if (string.IsNullOrWhiteSpace(text))
                return Critique.Abstain(CritiqueStatus.Unparseable, "empty critique");
            string normal = Normalise(text.Length > MaxChars ? text[^MaxChars..] : text);

            Conclusion? strong = null, weak = null;
            foreach (Match m in Keyed.Matches(normal))
                if (!IsCounted(normal, m.Index))
                    Later(ref strong, new Conclusion(m.Index, m.Groups["list"].Value, Keyed: true));
            if (LastLine(normal) is var (start, line) && BareLine.Match(line) is { Success: true } bare)
                Later(ref strong, new Conclusion(start, bare.Groups["list"].Value, Keyed: false));
            if (JsonVerdicts(normal) is { } json)
                Later(ref strong, json);
            if (strong is null)
            {
                // Weak hints: every "step k is wrong" statement counts (an analysis names its wrong steps one by one),
                // unless a statement that nothing is wrong comes after the last of them.
                var named = new List<Conclusion>();
                foreach (Match m in BareKeyed.Matches(normal))
                    if (!IsCounted(normal, m.Index))
                        named.Add(new Conclusion(m.Index, m.Groups["list"].Value, Keyed: false));
                foreach (Match m in StepIsWrong.Matches(normal))
                    named.Add(new Conclusion(m.Index, m.Groups["list"].Value, Keyed: false));
                foreach (Match m in NothingWrong.Matches(normal))
                    Later(ref weak, new Conclusion(m.Index, "none", Keyed: false));
                int after = weak?.Index ?? -1;
                var lists = named.Where(c => c.Index > after).OrderBy(c => c.Index).ToList();
                if (lists.Count > 0)
                    weak = new Conclusion(lists[^1].Index, string.Join(", ", lists.Select(c => Remark.Replace(c.List, " "))), Keyed: false);
            }

            Conclusion? chosen = strong ?? weak;
            if (chosen is null)
                return Critique.Abstain(CritiqueStatus.Unparseable, "no conclusion listing the wrong steps");
            keyed = chosen.Keyed;
            return ReadList(chosen.List, stepCount);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return Critique.Abstain(CritiqueStatus.Unparseable, $"parser error: {e.GetType().Name}");
        }
    }

    private sealed record Conclusion(int Index, string List, bool Keyed);

    /// <summary>Per-step JSON verdicts ("step": k with "correct": false or "verdict": "wrong") as a list, or null when there are none.</summary>
    private static Conclusion? JsonVerdicts(string text)
    {
        var wrong = new List<string>();
        int last = -1;
        foreach (Match m in JsonStep.Matches(text))
        {
            last = m.Index;
            bool bad = m.Groups["bool"].Success ? m.Groups["bool"].Value == "false"
                : m.Groups["word"].Value is "incorrect" or "wrong" or "invalid" or "error" or "erroneous";
            if (bad)
                wrong.Add(m.Groups["step"].Value);
        }
        return last < 0 ? null : new Conclusion(last, wrong.Count == 0 ? "none" : string.Join(", ", wrong), Keyed: true);
    }

    private static void Later(ref Conclusion? best, Conclusion candidate)
    {
        if (best is null || candidate.Index >= best.Index)
            best = candidate;
    }

    /// <summary>"the number of wrong steps is 2" is a count, not a list.</summary>
    private static bool IsCounted(string text, int keyIndex)
    {
        ReadOnlySpan<char> before = text.AsSpan(0, keyIndex).TrimEnd();
        return before.EndsWith("number of", StringComparison.Ordinal) || before.EndsWith("count of", StringComparison.Ordinal)
            || before.EndsWith("how many", StringComparison.Ordinal);
    }

    private static (int Start, string Line)? LastLine(string text)
    {
        int end = text.Length;
        while (end > 0)
        {
            int start = text.LastIndexOf('\n', end - 1) + 1;
            string line = text[start..end];
            if (!string.IsNullOrWhiteSpace(line))
                return (start, line);
            end = start - 1;
        }
        return null;
    }

    /// <summary>Lower case; markdown emphasis, backticks, headings and underscores become spaces; '*' between digits stays.</summary>
    private static string Normalise(string text)
    {
        var sb = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            switch (c)
            {
                case '\r':
                    break;
                case '*':
                    sb.Append(IsBetweenDigits(text, i) ? '*' : ' ');
                    break;
                case '_' or '`' or '#' or '$' or '\u00A0' or '\t':
                    sb.Append(' ');
                    break;
                case '\u2013' or '\u2014' or '\u2212':
                    sb.Append('-');
                    break;
                case '\u201C' or '\u201D':
                    sb.Append('"');
                    break;
                default:
                    sb.Append(char.ToLowerInvariant(c));
                    break;
            }
        }
        return sb.ToString();
    }

    private static bool IsBetweenDigits(string text, int i)
    {
        int l = i - 1, r = i + 1;
        while (l >= 0 && text[l] == ' ') l--;
        while (r < text.Length && text[r] == ' ') r++;
        return l >= 0 && r < text.Length && char.IsAsciiDigit(text[l]) && char.IsAsciiDigit(text[r]);
    }

    /// <summary>Reads the numbers of a list ("[1, 3]", "step 2 and step 3", "2-4", "none"), checking their range.</summary>
    private static Critique ReadList(string list, int stepCount)
    {
        string body = list.Trim();
        if (body.StartsWith('[') && body.EndsWith(']'))
            body = body[1..^1];
        body = Remark.Replace(body, " "); // "step 2 (12-3=8) and step 3": the remark's numbers are not steps
        var steps = new SortedSet<int>();
        bool anyNumber = false;
        for (int i = 0; i < body.Length;)
        {
            bool negative = body[i] == '-' && i + 1 < body.Length && char.IsAsciiDigit(body[i + 1]) && !PrecededByNumber(body, i);
            if (!negative && !char.IsAsciiDigit(body[i]))
            {
                i++;
                continue;
            }
            if (negative)
                i++;
            long a = ReadNumber(body, ref i);
            anyNumber = true;
            if (negative)
                return OutOfRange(-a, stepCount);
            long b = a;
            int j = SkipSpaces(body, i);
            if (j < body.Length && (body[j] == '-' || body.AsSpan(j).StartsWith("to", StringComparison.Ordinal)))
            {
                int k = SkipSpaces(body, j + (body[j] == '-' ? 1 : 2));
                if (k < body.Length && char.IsAsciiDigit(body[k]))
                {
                    int afterB = k;
                    long candidate = ReadNumber(body, ref afterB);
                    if (candidate > a)
                    {
                        b = candidate;
                        i = afterB;
                    }
                }
            }
            if (a < 1 || b > stepCount)
                return OutOfRange(a < 1 ? a : b, stepCount);
            for (long s = a; s <= b; s++)
                steps.Add((int)s);
        }
        if (!anyNumber && !NoneOnly.IsMatch(body))
            return Critique.Abstain(CritiqueStatus.Unparseable, $"the list '{Shorten(list)}' names no step numbers");
        return new Critique(CritiqueStatus.Valid, [.. steps]);
    }

    private static bool PrecededByNumber(string s, int i)
    {
        int l = i - 1;
        while (l >= 0 && s[l] == ' ') l--;
        return l >= 0 && char.IsAsciiDigit(s[l]);
    }

    private static int SkipSpaces(string s, int i)
    {
        while (i < s.Length && s[i] is ' ' or '\t')
            i++;
        return i;
    }

    /// <summary>Reads digits at <paramref name="i"/>; saturates at a value no response has as a step number.</summary>
    private static long ReadNumber(string s, ref int i)
    {
        long value = 0;
        while (i < s.Length && char.IsAsciiDigit(s[i]))
        {
            value = Math.Min(value * 10 + (s[i] - '0'), 1_000_000_000L);
            i++;
        }
        return value;
    }

    private static Critique OutOfRange(long step, int stepCount) =>
        Critique.Abstain(CritiqueStatus.Unparseable, stepCount == 0
            ? $"step {step.ToString(CultureInfo.InvariantCulture)} named but the response has no steps"
            : $"step {step.ToString(CultureInfo.InvariantCulture)} is outside 1..{stepCount.ToString(CultureInfo.InvariantCulture)}");

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
