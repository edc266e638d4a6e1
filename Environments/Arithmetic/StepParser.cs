namespace RlActors.Environments.Arithmetic;

/// <summary>
/// Splits a generated completion (token ids, without the prompt) into step lines and an answer line and classifies
/// how it ended. Never throws on malformed input: whatever the ids are, they are classified.
/// </summary>
/// <remarks>
/// <para>The completion ends at its first EOS or padding id; ids after it are ignored. Lines are separated by '\n'.
/// The answer line is the first line that starts with "A:"; lines before it are steps.</para>
/// <para>A line is only reported when it is finished: by '\n', or by EOS for the last line. When there is no EOS
/// (truncation) or the completion ends in padding without EOS, its trailing unfinished line is not reported,
/// since "7+5=1" cut off before "2" would otherwise read as a well-formed step. An empty last line just before
/// EOS (a completion ending in "\n") is ignored.</para>
/// </remarks>
public static class StepParser
{
    /// <summary>The most digits a number may have in a step or the answer (the numbers then always fit a long).</summary>
    public const int MaxDigits = ArithmeticProblem.MaxDigits;

    /// <summary>Parses a completion.</summary>
    /// <param name="completionIds">The generated ids, starting right after the prompt.</param>
    /// <param name="tok">The tokenizer the ids come from.</param>
    public static ParsedResponse Parse(ReadOnlySpan<int> completionIds, CharTokenizer tok) => Parse(completionIds, (Tokenizers.ITokenizer)tok);

    /// <summary>
    /// Parses a completion of any tokenizer. With <see cref="CharTokenizer"/> one id is one character, so the step and
    /// answer positions are token indices; with another tokenizer the text is decoded first and the positions (and
    /// <see cref="ParsedResponse.TerminalIndex"/>) are character indices of that text.
    /// </summary>
    public static ParsedResponse Parse(ReadOnlySpan<int> completionIds, Tokenizers.ITokenizer tok)
    {
        ArgumentNullException.ThrowIfNull(tok);

        int terminal = -1;
        for (int i = 0; i < completionIds.Length; i++)
        {
            if (tok.IsTerminal(completionIds[i]))
            {
                terminal = i;
                break;
            }
        }
        bool endsWithEos = terminal >= 0 && completionIds[terminal] == tok.EosId;
        int contentLength = terminal >= 0 ? terminal : completionIds.Length;

        string text;
        if (tok is CharTokenizer chars)
        {
            // One char per id, so character indices are token indices.
            var buffer = new char[contentLength];
            for (int i = 0; i < contentLength; i++)
                buffer[i] = chars.TryGetChar(completionIds[i], out char c) ? c : CharTokenizer.Unknown;
            text = new string(buffer);
        }
        else
        {
            text = tok.Decode(completionIds[..contentLength]);
            if (terminal >= 0) terminal = text.Length;
        }

        var steps = new List<ParsedStep>();
        bool anyMalformedStep = false;
        bool answerSeen = false;
        bool textAfterAnswer = false;
        long? answer = null;
        string? answerText = null;
        int answerStart = -1, answerEnd = -1;

        for (int lineStart = 0; ;)
        {
            int newline = text.IndexOf('\n', lineStart);
            bool isLast = newline < 0;
            int lineEnd = isLast ? text.Length : newline;
            if (isLast && (!endsWithEos || lineEnd == lineStart))
                break; // unfinished trailing line, or nothing between the last '\n' and EOS

            string line = text[lineStart..lineEnd];
            if (line.StartsWith("A:", StringComparison.Ordinal))
            {
                answerSeen = true;
                answerText = line[2..];
                answer = TryParseWholeInteger(answerText, out long value) ? value : null;
                answerStart = lineStart;
                answerEnd = isLast ? terminal + 1 : lineEnd + 1;
                textAfterAnswer = !isLast; // at least its '\n' follows instead of EOS
                break; // lines after the answer line are not steps
            }

            ParsedStep step = ParseStep(steps.Count + 1, lineStart, isLast ? lineEnd : lineEnd + 1, line);
            anyMalformedStep |= !step.WellFormed;
            steps.Add(step);
            if (isLast)
                break;
            lineStart = newline + 1;
        }

        ResponseStatus status;
        if (terminal < 0)
            status = ResponseStatus.Truncated;
        else if (anyMalformedStep || textAfterAnswer || (answerSeen && answer is null))
            status = ResponseStatus.Malformed;
        else if (!answerSeen)
            status = ResponseStatus.NoAnswer;
        else
            status = ResponseStatus.Complete;

        return new ParsedResponse
        {
            Status = status,
            Steps = steps.AsReadOnly(),
            Answer = answer,
            AnswerText = answerText,
            AnswerTokenStart = answerStart,
            AnswerTokenEnd = answerEnd,
            TerminalIndex = terminal,
            Length = terminal >= 0 ? terminal + 1 : completionIds.Length,
        };
    }

    /// <summary>Parses a completion given as text (no EOS is added: append it to mark the end, or the result is truncated).</summary>
    /// <exception cref="ArgumentException">The text has a character outside the vocabulary.</exception>
    public static ParsedResponse Parse(string completionText, CharTokenizer tok)
    {
        ArgumentNullException.ThrowIfNull(tok);
        return Parse(tok.Encode(completionText), tok);
    }

    private static ParsedStep ParseStep(int number, int tokenStart, int tokenEnd, string line)
    {
        int pos = 0;
        if (TryParseInteger(line, ref pos, out long left)
            && pos < line.Length && line[pos] is '+' or '-' or '*'
            && TryParseAfterOperator(line, ref pos, out char op, out long right, out long result))
        {
            return new ParsedStep(number, tokenStart, tokenEnd, line, true, left, op, right, result);
        }
        return new ParsedStep(number, tokenStart, tokenEnd, line, false, null, null, null, null);
    }

    private static bool TryParseAfterOperator(string line, ref int pos, out char op, out long right, out long result)
    {
        op = line[pos++];
        result = 0;
        return TryParseInteger(line, ref pos, out right)
            && pos < line.Length && line[pos++] == '='
            && TryParseInteger(line, ref pos, out result)
            && pos == line.Length;
    }

    private static bool TryParseWholeInteger(string text, out long value)
    {
        int pos = 0;
        return TryParseInteger(text, ref pos, out value) && pos == text.Length;
    }

    /// <summary>Reads an optional '-' and 1 to <see cref="MaxDigits"/> digits; more digits fail, so no overflow.</summary>
    private static bool TryParseInteger(string text, ref int pos, out long value)
    {
        value = 0;
        int i = pos;
        bool negative = i < text.Length && text[i] == '-';
        if (negative)
            i++;
        int digitsStart = i;
        while (i < text.Length && char.IsAsciiDigit(text[i]))
        {
            if (i - digitsStart == MaxDigits)
                return false;
            value = value * 10 + (text[i] - '0');
            i++;
        }
        if (i == digitsStart)
            return false;
        if (negative)
            value = -value;
        pos = i;
        return true;
    }
}
