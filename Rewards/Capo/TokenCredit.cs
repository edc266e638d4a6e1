using RlActors.Environments.Arithmetic;

namespace RlActors.Rewards.Capo;

/// <summary>The reward values of CAPO's token-level credit assignment.</summary>
public sealed record CapoCreditOptions
{
    /// <summary>The outcome credit C of a correct response (complete, right final answer). Default 1.</summary>
    public double CorrectReward { get; init; } = 1.0;

    /// <summary>The outcome credit C of any other response. Default 0.</summary>
    public double IncorrectReward { get; init; } = 0.0;

    /// <summary>The penalty P subtracted on the tokens of each voted-wrong step (and of a cut-off or missing answer). Default 1.</summary>
    public double Penalty { get; init; } = 1.0;

    /// <summary>
    /// Whether responses with a correct final answer are penalised for wrong steps too (errors that cancel out,
    /// e.g. 3+4=8 then 8-1=6 for 3+4-1). Default true: the calibration found 217 of 667 correct SFT answers
    /// with such a step, and they teach the wrong arithmetic unless penalised. False keeps every correct answer at C.
    /// </summary>
    public bool PenalizeCorrectAnswers { get; init; } = true;

    /// <summary>
    /// Whether a response with fewer steps than its problem has operations gets its answer span penalised (the tokens
    /// after its last well-formed step through the terminal token), like a cut-off answer. Default true. Without it,
    /// skipping the working is a reward hack: an answer line alone has no step a critique can flag, so in a group of
    /// wrong answers it scores better than an attempt with one wrong step. Measured here: with P = 1 the completion
    /// length fell from 26 to 7 tokens within 250 steps and accuracy with it (docs/capo.md).
    /// </summary>
    public bool PenalizeMissingSteps { get; init; } = true;

    /// <summary>Checks the values.</summary>
    /// <exception cref="ArgumentException">A reward is not finite or the penalty is negative; the message names the key.</exception>
    public void Validate()
    {
        if (!double.IsFinite(CorrectReward))
            throw new ArgumentException($"CorrectReward must be finite, not {CorrectReward}.", nameof(CorrectReward));
        if (!double.IsFinite(IncorrectReward))
            throw new ArgumentException($"IncorrectReward must be finite, not {IncorrectReward}.", nameof(IncorrectReward));
        if (!double.IsFinite(Penalty) || Penalty < 0)
            throw new ArgumentException($"Penalty must be finite and non-negative, not {Penalty}.", nameof(Penalty));
    }
}

/// <summary>
/// CAPO's token-level credit: every token gets the outcome credit C, tokens of wrong steps get C − P.
/// </summary>
/// <remarks>
/// <para>How it becomes an advantage (in the learner, Policies/Grpo/GroupBatch): the sequence score C is normalised
/// per group, (C − mean) / (std + ε), and put on every token up to and including the first EOS or padding token;
/// the difference PerToken − Sequence (0 or −P) is added to it <em>raw</em>, not normalised. So a group whose
/// outcomes are all equal (zero outcome advantage) still teaches which steps were wrong: the calibration
/// traced about 40% of CAPO's gain to such groups.</para>
/// <para>A response whose answer is cut off (truncated), missing, malformed, or followed by extra text gets one more
/// penalised span: the tokens after its last well-formed step up to and including the terminal token (EOS or the
/// first padding token), or to the end when it was truncated. This closes a reward hack seen in calibration: with
/// only step penalties, emitting padding first (an empty answer with no steps to penalise) scores better than
/// trying. The span is found by the rule verifier, so it does not depend on the judge. With
/// <see cref="CapoCreditOptions.PenalizeMissingSteps"/> (default) the same span is penalised when the response wrote
/// fewer steps than the problem has operations: skipping the working leaves nothing for a critique to flag.</para>
/// <para>A token is penalised at most once (at most −P), even where a wrong step and the answer span overlap.</para>
/// </remarks>
public static class TokenCredit
{
    /// <summary>Computes the credit of one sample.</summary>
    /// <param name="sample">The sample.</param>
    /// <param name="problem">Its problem.</param>
    /// <param name="wrongSteps">The voted wrong steps, 1-based; each in 1..Parsed.Steps.Count.</param>
    /// <param name="o">The reward values.</param>
    /// <returns>
    /// Sequence = C (<see cref="CapoCreditOptions.CorrectReward"/> when <see cref="ArithmeticVerifier.IsCorrect"/>, else
    /// <see cref="CapoCreditOptions.IncorrectReward"/>); PerToken has one entry per completion token (padding included):
    /// C, minus P on the penalised tokens.
    /// </returns>
    /// <exception cref="ArgumentOutOfRangeException">A wrong step is not a step of the sample.</exception>
    public static (double Sequence, double[] PerToken) Compute(RewardSample sample, ArithmeticProblem problem, int[] wrongSteps, CapoCreditOptions o)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(wrongSteps);
        ArgumentNullException.ThrowIfNull(o);

        ParsedResponse parsed = sample.Parsed;
        foreach (int step in wrongSteps)
            if (step < 1 || step > parsed.Steps.Count)
                throw new ArgumentOutOfRangeException(nameof(wrongSteps), step,
                    $"Step {step} is not a step of sample {sample.Index}, which has {parsed.Steps.Count}.");

        bool correct = ArithmeticVerifier.IsCorrect(problem, parsed);
        double c = correct ? o.CorrectReward : o.IncorrectReward;
        int tokens = sample.CompletionTokens.Count;
        var perToken = new double[tokens];
        Array.Fill(perToken, c);
        if (correct && !o.PenalizeCorrectAnswers)
            return (c, perToken);

        var penalised = new bool[tokens];
        foreach (int step in wrongSteps)
        {
            ParsedStep s = parsed.Steps[step - 1];
            Mark(penalised, s.TokenStart, s.TokenEnd);
        }
        if (AnswerSpan(parsed, tokens) is var (start, end))
            Mark(penalised, start, end);
        else if (o.PenalizeMissingSteps && ArithmeticVerifier.Summarize(problem, parsed).MissingSteps > 0)
            Mark(penalised, LastWellFormedStepEnd(parsed), Math.Min(parsed.TerminalIndex + 1, tokens));
        for (int t = 0; t < tokens; t++)
            if (penalised[t])
                perToken[t] = c - o.Penalty;
        return (c, perToken);
    }

    /// <summary>
    /// The tokens [Start, End) penalised for a defective answer, or null when the answer line is well-formed and
    /// directly followed by EOS. Defective: truncated, no answer line, an answer that is not an integer, or text
    /// after the answer line. The span runs from the end of the last well-formed step (0 when there is none) to the
    /// terminal token inclusive, or to <paramref name="tokenCount"/> when truncated.
    /// </summary>
    public static (int Start, int End)? AnswerSpan(ParsedResponse parsed, int tokenCount)
    {
        ArgumentNullException.ThrowIfNull(parsed);
        bool truncated = parsed.TerminalIndex < 0;
        bool answerOk = !truncated && parsed.Answer is not null && parsed.AnswerTokenEnd == parsed.TerminalIndex + 1;
        if (answerOk)
            return null;
        int start = LastWellFormedStepEnd(parsed);
        int end = truncated ? tokenCount : Math.Min(parsed.TerminalIndex + 1, tokenCount);
        return start < end ? (start, end) : null;
    }

    /// <summary>The token after the last well-formed step, or 0 when there is none.</summary>
    private static int LastWellFormedStepEnd(ParsedResponse parsed)
    {
        for (int i = parsed.Steps.Count - 1; i >= 0; i--)
            if (parsed.Steps[i].WellFormed)
                return parsed.Steps[i].TokenEnd;
        return 0;
    }

    private static void Mark(bool[] penalised, int start, int end)
    {
        for (int t = Math.Max(0, start); t < Math.Min(end, penalised.Length); t++)
            penalised[t] = true;
    }
}
