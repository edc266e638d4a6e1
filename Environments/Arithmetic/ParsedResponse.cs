using System.Text;

namespace RlActors.Environments.Arithmetic;

/// <summary>How a generated completion ended, as far as the answer format is concerned.</summary>
public enum ResponseStatus
{
    /// <summary>Well-formed steps, then an answer line "A:&lt;integer&gt;" followed directly by EOS.</summary>
    Complete,

    /// <summary>No EOS or padding anywhere: generation hit the length limit.</summary>
    Truncated,

    /// <summary>Terminated, every line a well-formed step, but no answer line.</summary>
    NoAnswer,

    /// <summary>
    /// Terminated, but some line is not a well-formed step, text follows the answer line, or the answer line is not
    /// "A:&lt;integer&gt;". Takes precedence over <see cref="NoAnswer"/>.
    /// </summary>
    Malformed,
}

/// <summary>One line of a completion before its answer line: ideally "&lt;int&gt;&lt;op&gt;&lt;int&gt;=&lt;int&gt;".</summary>
/// <param name="Number">The 1-based step number (line number).</param>
/// <param name="TokenStart">Index of the line's first token in the completion ids.</param>
/// <param name="TokenEnd">Exclusive end of the line's tokens, including its trailing '\n' when it has one.</param>
/// <param name="Text">The line's text without the '\n'; ids outside the vocabulary show as '?'.</param>
/// <param name="WellFormed">Whether the line is a syntactically valid step; when false the numbers below are null.</param>
/// <param name="Left">The left operand.</param>
/// <param name="Operator">The operator, one of '+', '-', '*'.</param>
/// <param name="Right">The right operand.</param>
/// <param name="Result">The written result.</param>
public sealed record ParsedStep(
    int Number,
    int TokenStart,
    int TokenEnd,
    string Text,
    bool WellFormed,
    long? Left,
    char? Operator,
    long? Right,
    long? Result);

/// <summary>
/// A completion split into steps and an answer by <see cref="StepParser"/>, with token spans so rewards can be
/// assigned to the tokens of each step.
/// </summary>
public sealed record ParsedResponse
{
    /// <summary>How the completion ended.</summary>
    public required ResponseStatus Status { get; init; }

    /// <summary>One entry per line before the answer line (all lines when there is none), malformed lines included.</summary>
    public required IReadOnlyList<ParsedStep> Steps { get; init; }

    /// <summary>The integer on the answer line, or null when there is no answer line or it is not "A:&lt;integer&gt;".</summary>
    public long? Answer { get; init; }

    /// <summary>The raw text after "A:" on the answer line, or null when there is no answer line.</summary>
    public string? AnswerText { get; init; }

    /// <summary>Index of the answer line's first token ('A'), or -1 when there is no answer line.</summary>
    public int AnswerTokenStart { get; init; } = -1;

    /// <summary>
    /// Exclusive end of the answer line's tokens, including the EOS token when it directly follows (otherwise the
    /// line's '\n'); -1 when there is no answer line.
    /// </summary>
    public int AnswerTokenEnd { get; init; } = -1;

    /// <summary>Index of the first EOS or padding id, or -1 when there is none.</summary>
    public int TerminalIndex { get; init; } = -1;

    /// <summary>The number of tokens up to and including the first terminal id; all ids when truncated.</summary>
    public int Length { get; init; }

    /// <summary>Whether the completion is <see cref="ResponseStatus.Complete"/>.</summary>
    public bool IsComplete => Status == ResponseStatus.Complete;

    /// <summary>
    /// Renders the response with numbered steps, for critique prompts: <c>Step 1: 7+5=12</c> … <c>Answer: 9</c>.
    /// A missing answer line shows as "Answer: (none)"; a malformed one shows its raw text.
    /// </summary>
    public string FormatNumbered()
    {
        var text = new StringBuilder();
        foreach (ParsedStep step in Steps)
            text.Append("Step ").Append(step.Number).Append(": ").Append(step.Text).Append('\n');
        text.Append("Answer: ");
        if (Answer is long answer)
            text.Append(ArithmeticProblem.Format(answer));
        else
            text.Append(AnswerText ?? "(none)");
        return text.ToString();
    }
}
