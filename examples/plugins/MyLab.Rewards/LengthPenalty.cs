using RlActors.Rewards;

namespace MyLab.Rewards;

/// <summary>
/// Penalises long completions: the sequence reward of a sample is −(tokens before its EOS) / (the generation
/// budget), where the budget is the number of generated ids of the group (every sample has the same count,
/// padding included). So the reward lies in [−1, 0]: 0 for an immediate EOS, −1 for a completion that used the
/// whole budget without ending (truncated). Name "length-penalty".
/// </summary>
/// <remarks>
/// Give it a small weight next to the outcome reward (e.g. 0.1) so that, among correct answers, shorter ones are
/// preferred without making an empty answer attractive. It is pure and cheap, so it implements the synchronous
/// <see cref="IRewardFunction"/>; the runtime still runs it under a timeout.
/// </remarks>
public sealed class LengthPenalty : IRewardFunction
{
    /// <inheritdoc />
    public string Name => "length-penalty";

    /// <inheritdoc />
    public GroupScores Score(RewardGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        var sequence = new double[group.Samples.Count];
        for (int i = 0; i < sequence.Length; i++)
        {
            RewardSample sample = group.Samples[i];
            int budget = sample.CompletionTokens.Count;
            // TerminalIndex is the position of the first EOS (or padding) id, -1 when the completion never ended.
            int used = sample.Parsed.TerminalIndex >= 0 ? sample.Parsed.TerminalIndex : budget;
            sequence[i] = budget == 0 ? 0.0 : -(double)used / budget;
        }
        return new GroupScores(sequence);
    }
}
