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
/// <param name="Problem">The arithmetic problem the prompt poses, or null for a data-set task (read <see cref="Row"/>).</param>
/// <param name="Prompt">The prompt text the policy was given.</param>
/// <param name="Samples">The completions, in group order; <see cref="RewardSample.Index"/> equals the position.</param>
/// <param name="PolicyVersion">The version of the policy weights that generated the completions.</param>
public sealed record RewardGroup(
    string GroupId,
    ArithmeticProblem? Problem,
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
        get => row ??= ArithmeticTaskSource.RowOf(Problem ?? throw new InvalidOperationException("a reward group needs a problem or a row"));
        init => row = value;
    }

    /// <summary>The task's answer verifier for a data-set task (null for the arithmetic task, whose <see cref="Problem"/> is checked).</summary>
    public IAnswerVerifier? Verifier { get; init; }

    /// <summary>Whether sample <paramref name="index"/> answers correctly: by <see cref="ArithmeticVerifier"/> for the arithmetic
    /// task, else by <see cref="Verifier"/> on the row's answer (false when the row has no answer or there is no verifier).</summary>
    public bool IsCorrect(int index) => Problem is { } p
        ? ArithmeticVerifier.IsCorrect(p, Samples[index].Parsed)
        : Verifier is { } v && Row.Answer is { } a && v.IsCorrect(Samples[index].Completion, a);

    /// <summary>The arithmetic problem, for rewards that need one (steps, CAPO); a data-set task gets an error naming <paramref name="reward"/>.</summary>
    public ArithmeticProblem RequireProblem(string reward) => Problem
        ?? throw new InvalidOperationException($"reward '{reward}' needs the arithmetic task; this group's task is a data set ({Row.Prompt.Length}-character prompt)");

    /// <summary>
    /// Builds a group of a data-set task from generated ids: the prompt is the row's, there is no arithmetic problem, and
    /// <paramref name="verifier"/> judges answers. Completions are decoded with <paramref name="tokenizer"/>.
    /// </summary>
    /// <exception cref="ArgumentException">There are no completions, or they differ in length.</exception>
    public static RewardGroup FromRow(string groupId, TaskRow row, IReadOnlyList<IReadOnlyList<int>> completions, long policyVersion,
        Environments.Tokenizers.ITokenizer tokenizer, IAnswerVerifier? verifier) =>
        new(groupId, null, row.Prompt, DecodeAll(completions, tokenizer), policyVersion) { Row = row, Verifier = verifier };

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
        Environments.Tokenizers.ITokenizer? tokenizer = null)
    {
        ArgumentNullException.ThrowIfNull(groupId);
        ArgumentNullException.ThrowIfNull(problem);
        return new RewardGroup(groupId, problem, problem.Prompt, DecodeAll(completions, tokenizer ?? CharTokenizer.Default), policyVersion);
    }

    private static IReadOnlyList<RewardSample> DecodeAll(IReadOnlyList<IReadOnlyList<int>> completions, Environments.Tokenizers.ITokenizer tok)
    {
        ArgumentNullException.ThrowIfNull(completions);
        if (completions.Count == 0)
            throw new ArgumentException("A reward group needs at least one completion.", nameof(completions));
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
        return Array.AsReadOnly(samples);
    }
}
