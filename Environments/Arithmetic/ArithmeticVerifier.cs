using System.Diagnostics;

namespace RlActors.Environments.Arithmetic;

/// <summary>The judgement of one parsed step by <see cref="ArithmeticVerifier.CheckSteps"/>.</summary>
public enum StepVerdict
{
    /// <summary>The step applies the problem's operation to the previous written result and computes it correctly.</summary>
    Correct,

    /// <summary>The operands are right but the written result is not <c>left op right</c>.</summary>
    ArithmeticError,

    /// <summary>The left operand is not the previous written result, or the operator or right operand is not the problem's.</summary>
    WrongOperand,

    /// <summary>The line is not a well-formed step.</summary>
    Malformed,

    /// <summary>A well-formed step beyond the problem's number of operations.</summary>
    Extra,
}

/// <summary>Counts of step verdicts for one response.</summary>
/// <param name="ExpectedSteps">The number of operations in the problem.</param>
/// <param name="TotalSteps">The number of parsed steps.</param>
/// <param name="Correct">Steps judged <see cref="StepVerdict.Correct"/>.</param>
/// <param name="ArithmeticErrors">Steps judged <see cref="StepVerdict.ArithmeticError"/>.</param>
/// <param name="WrongOperands">Steps judged <see cref="StepVerdict.WrongOperand"/>.</param>
/// <param name="Malformed">Steps judged <see cref="StepVerdict.Malformed"/>.</param>
/// <param name="Extra">Steps judged <see cref="StepVerdict.Extra"/>.</param>
/// <param name="FirstErrorStep">The 1-based number of the first step not judged correct, or null when all are.</param>
public sealed record StepCheckSummary(
    int ExpectedSteps,
    int TotalSteps,
    int Correct,
    int ArithmeticErrors,
    int WrongOperands,
    int Malformed,
    int Extra,
    int? FirstErrorStep)
{
    /// <summary>Operations with no step written for them: ExpectedSteps minus the steps within range.</summary>
    public int MissingSteps => Math.Max(0, ExpectedSteps - TotalSteps);

    /// <summary>Whether exactly the expected steps were written and all are correct.</summary>
    public bool AllCorrect => TotalSteps == ExpectedSteps && Correct == ExpectedSteps;
}

/// <summary>
/// Checks parsed responses against their problems: the outcome (final answer) and each step on its own.
/// </summary>
/// <remarks>
/// Each step is judged locally: does it follow from the previous <em>written</em> result and the problem's next
/// operation, and is its arithmetic right? So an error carried forward is flagged once, at the step that made it.
/// When the previous step is malformed and has no written result, the true running value is expected instead.
/// </remarks>
public static class ArithmeticVerifier
{
    /// <summary>Whether the response is complete and its answer equals the problem's.</summary>
    public static bool IsCorrect(ArithmeticProblem p, ParsedResponse r)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(r);
        return r.Status == ResponseStatus.Complete && r.Answer == p.Answer;
    }

    /// <summary>The outcome reward: 1.0 when <see cref="IsCorrect"/>, else 0.0.</summary>
    public static double OutcomeReward(ArithmeticProblem p, ParsedResponse r) => IsCorrect(p, r) ? 1.0 : 0.0;

    /// <summary>Judges every parsed step; the verdicts line up with <see cref="ParsedResponse.Steps"/>.</summary>
    public static IReadOnlyList<StepVerdict> CheckSteps(ArithmeticProblem p, ParsedResponse r)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(r);
        var verdicts = new StepVerdict[r.Steps.Count];
        for (int i = 0; i < verdicts.Length; i++)
            verdicts[i] = Judge(p, r.Steps[i], i, ExpectedLeft(p, r, i));
        return verdicts;
    }

    /// <summary>Whether there is exactly one well-formed step per operation of the problem.</summary>
    public static bool HasAllSteps(ArithmeticProblem p, ParsedResponse r)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(r);
        return r.Steps.Count == p.OperationCount && r.Steps.All(s => s.WellFormed);
    }

    /// <summary>Counts the verdicts of <see cref="CheckSteps"/>.</summary>
    public static StepCheckSummary Summarize(ArithmeticProblem p, ParsedResponse r)
    {
        IReadOnlyList<StepVerdict> verdicts = CheckSteps(p, r);
        int? firstError = null;
        for (int i = 0; i < verdicts.Count && firstError is null; i++)
            if (verdicts[i] != StepVerdict.Correct)
                firstError = i + 1;
        return new StepCheckSummary(
            ExpectedSteps: p.OperationCount,
            TotalSteps: verdicts.Count,
            Correct: verdicts.Count(v => v == StepVerdict.Correct),
            ArithmeticErrors: verdicts.Count(v => v == StepVerdict.ArithmeticError),
            WrongOperands: verdicts.Count(v => v == StepVerdict.WrongOperand),
            Malformed: verdicts.Count(v => v == StepVerdict.Malformed),
            Extra: verdicts.Count(v => v == StepVerdict.Extra),
            FirstErrorStep: firstError);
    }

    /// <summary>The left operand step <paramref name="i"/> (0-based) should use.</summary>
    private static long ExpectedLeft(ArithmeticProblem p, ParsedResponse r, int i)
    {
        if (i == 0)
            return p.Operands[0];
        if (r.Steps[i - 1].Result is long written)
            return written;
        // The previous step is malformed: expect the true running value (steps beyond the problem are Extra anyway).
        return p.IntermediateResults[Math.Min(i, p.OperationCount) - 1];
    }

    private static StepVerdict Judge(ArithmeticProblem p, ParsedStep step, int zeroBasedIndex, long expectedLeft)
    {
        if (!step.WellFormed || step.Left is not long left || step.Operator is not char op
            || step.Right is not long right || step.Result is not long result)
            return StepVerdict.Malformed;
        if (zeroBasedIndex >= p.OperationCount)
            return StepVerdict.Extra;
        if (left != expectedLeft || op != p.Operators[zeroBasedIndex] || right != p.Operands[zeroBasedIndex + 1])
            return StepVerdict.WrongOperand;
        // Exact arithmetic (operands have at most 12 digits, so Int128 cannot overflow): a true value beyond the
        // range of long, i.e. a checked-long overflow, can never equal the written result and counts as an error.
        Int128 exact = op switch
        {
            '+' => (Int128)left + right,
            '-' => (Int128)left - right,
            '*' => (Int128)left * right,
            _ => throw new UnreachableException(), // op equals one of the problem's operators
        };
        return exact == result ? StepVerdict.Correct : StepVerdict.ArithmeticError;
    }
}
