using RlActors.Environments.Arithmetic;

namespace RlActors.Rewards;

/// <summary>
/// The verifiable outcome reward: 1.0 when the response is complete and its final answer equals the problem's
/// (<see cref="ArithmeticVerifier.IsCorrect"/>), or for a data-set task when the task's answer verifier accepts it
/// (<see cref="RewardGroup.IsCorrect"/>), else 0.0. Name "outcome".
/// </summary>
public sealed class OutcomeReward : IRewardFunction
{
    /// <summary>The name used in specs and metrics.</summary>
    public const string RewardName = "outcome";

    /// <inheritdoc />
    public string Name => RewardName;

    /// <inheritdoc />
    public GroupScores Score(RewardGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        var sequence = new double[group.Samples.Count];
        for (int i = 0; i < sequence.Length; i++)
            sequence[i] = group.IsCorrect(i) ? 1.0 : 0.0;
        return new GroupScores(sequence);
    }
}

/// <summary>
/// The format reward: 1.0 when the response is well-formed steps, then "A:&lt;integer&gt;", then EOS
/// (<see cref="ResponseStatus.Complete"/>), else 0.0, whether or not the answer is right. Name "format".
/// </summary>
public sealed class FormatReward : IRewardFunction
{
    /// <summary>The name used in specs and metrics.</summary>
    public const string RewardName = "format";

    /// <inheritdoc />
    public string Name => RewardName;

    /// <inheritdoc />
    public GroupScores Score(RewardGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        var sequence = new double[group.Samples.Count];
        for (int i = 0; i < sequence.Length; i++)
            sequence[i] = group.Samples[i].Parsed.Status == ResponseStatus.Complete ? 1.0 : 0.0;
        return new GroupScores(sequence);
    }
}

/// <summary>
/// A verifiable process reward from <see cref="ArithmeticVerifier.CheckSteps"/>. Name "step-correctness".
/// <list type="bullet">
/// <item><c>PerStep</c>: 1.0 for each parsed step judged <see cref="StepVerdict.Correct"/>, 0.0 otherwise.</item>
/// <item><c>Sequence</c>: the correct steps divided by max(parsed steps, problem operations), so a step that was
/// never written counts as not correct (stopping early is not rewarded) and so does every extra step.</item>
/// </list>
/// The answer line is not judged here; combine with <see cref="OutcomeReward"/> for that.
/// </summary>
public sealed class StepCorrectnessReward : IRewardFunction
{
    /// <summary>The name used in specs and metrics.</summary>
    public const string RewardName = "step-correctness";

    /// <inheritdoc />
    public string Name => RewardName;

    /// <inheritdoc />
    public GroupScores Score(RewardGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        var problem = group.RequireProblem(RewardName);
        int n = group.Samples.Count;
        var sequence = new double[n];
        var perStep = new double[n][];
        for (int i = 0; i < n; i++)
        {
            IReadOnlyList<StepVerdict> verdicts = ArithmeticVerifier.CheckSteps(problem, group.Samples[i].Parsed);
            var steps = new double[verdicts.Count];
            int correct = 0;
            for (int k = 0; k < steps.Length; k++)
            {
                if (verdicts[k] == StepVerdict.Correct)
                {
                    steps[k] = 1.0;
                    correct++;
                }
            }
            int denominator = Math.Max(verdicts.Count, problem.OperationCount);
            sequence[i] = denominator == 0 ? 0.0 : (double)correct / denominator;
            perStep[i] = steps;
        }
        return new GroupScores(sequence, PerStep: perStep);
    }
}
