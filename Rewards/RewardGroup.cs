using RlActors.Environments.Arithmetic;
using RlActors.Environments.Tasks;

namespace RlActors.Rewards;

/// <summary>One sampled completion of a <see cref="RewardGroup"/>, as a reward function sees it.</summary>
/// <param name="Index">The position of the sample within its group (0-based); scores are given in this order.</param>
/// <param name="Completion">The decoded completion text, up to (not including) the first EOS or padding id.</param>
/// <param name="CompletionTokens">
/// The raw generated ids, without the prompt. Every sample of a group has the same count (the generation budget):
/// ids after EOS are padding. Per-token scores have exactly this many entries.
/// </param>
/// <param name="Parsed">The completion split into steps and an answer by <see cref="StepParser"/>.</param>
public sealed record RewardSample(int Index, string Completion, IReadOnlyList<int> CompletionTokens, ParsedResponse Parsed);

/// <summary>
/// The unit a reward function scores: every sampled completion for one prompt (a GRPO group), with the problem
/// it answers and the policy version that generated it.
/// </summary>
/// <param name="GroupId">An id unique within the experiment (e.g. "step-12/slot-3"), for logs and de-duplication.</param>
/// <param name="Problem">The problem the prompt poses.</param>
/// <param name="Prompt">The prompt text the policy was given.</param>
/// <param name="Samples">The completions, in group order; <see cref="RewardSample.Index"/> equals the position.</param>
/// <param name="PolicyVersion">The version of the policy weights that generated the completions.</param>
public sealed record RewardGroup(
    string GroupId,
    ArithmeticProblem Problem,
    string Prompt,
    IReadOnlyList<RewardSample> Samples,
    long PolicyVersion)
{
    private TaskRow? row;

    /// <summary>
    /// The task row the prompt came from: the prompt text, the ground-truth answer and every column by name. A reward that
    /// reads only this (and the samples) works for any task; <see cref="Problem"/> is the arithmetic task's own view.
    /// For the arithmetic task the row has the columns <c>prompt</c>, <c>answer</c>, <c>expression</c> and <c>solution</c>.
    /// </summary>
    public TaskRow Row
    {
        get => row ??= ArithmeticTaskSource.RowOf(Problem);
        init => row = value;
    }

    /// <summary>
    /// Builds a group from generated ids: decodes and parses each completion with <paramref name="tokenizer"/>;
    /// the prompt is <see cref="ArithmeticProblem.Prompt"/>.
    /// </summary>
    /// <param name="groupId">The group id.</param>
    /// <param name="problem">The problem.</param>
    /// <param name="completions">The generated ids of each sample, without the prompt, all of the same length.</param>
    /// <param name="policyVersion">The policy version that generated them.</param>
    /// <param name="tokenizer">The tokenizer; <see cref="CharTokenizer.Default"/> when null.</param>
    /// <exception cref="ArgumentException">There are no completions, or they differ in length.</exception>
    public static RewardGroup FromCompletions(
        string groupId,
        ArithmeticProblem problem,
        IReadOnlyList<IReadOnlyList<int>> completions,
        long policyVersion,
        CharTokenizer? tokenizer = null)
    {
        ArgumentNullException.ThrowIfNull(groupId);
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(completions);
        if (completions.Count == 0)
            throw new ArgumentException("A reward group needs at least one completion.", nameof(completions));
        CharTokenizer tok = tokenizer ?? CharTokenizer.Default;
        int length = completions[0].Count;
        var samples = new RewardSample[completions.Count];
        for (int i = 0; i < samples.Length; i++)
        {
            int[] ids = [.. completions[i]];
            if (ids.Length != length)
                throw new ArgumentException(
                    $"Completion {i} has {ids.Length} ids but completion 0 has {length}; pad every completion of a group to the same length.",
                    nameof(completions));
            samples[i] = new RewardSample(i, tok.Decode(ids), Array.AsReadOnly(ids), StepParser.Parse(ids, tok));
        }
        return new RewardGroup(groupId, problem, problem.Prompt, Array.AsReadOnly(samples), policyVersion);
    }
}
