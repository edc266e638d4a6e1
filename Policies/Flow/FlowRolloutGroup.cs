namespace RlActors.Policies.Flow;

/// <summary>
/// The work of one explorer call: sample <see cref="Members"/> trajectories of class <see cref="Class"/> from the seed
/// <see cref="Seed"/>, either with the SDE at every step (<see cref="BranchStep"/> = <see cref="FullSde"/>, Flow-GRPO) or
/// with the ODE up to step k, K = Members SDE branches at step k, and the ODE again to the end (TempFlow-GRPO).
/// </summary>
/// <param name="Class">The prompt (class id).</param>
/// <param name="BranchStep">Step k ∈ [0, T) at which the siblings branch, or <see cref="FullSde"/>.</param>
/// <param name="Members">Trajectories in the group (G rollouts, or K siblings).</param>
/// <param name="Seed">Seed of the group's private generator: the initial noise, then every SDE draw.</param>
/// <param name="GroupId">Caller's id of the group (slot), carried into the result.</param>
public sealed record FlowGroupSpec(int Class, int BranchStep, int Members, ulong Seed, long GroupId = 0)
{
    /// <summary>Marks a group sampled with the SDE at every step.</summary>
    public const int FullSde = -1;
}

/// <summary>
/// A scored group of flow trajectories of one prompt, as an explorer returns it and the learner consumes it: plain
/// arrays, no tensors, so it crosses actor and node boundaries as data. It holds exactly the transitions that carry
/// loss and what is needed to recompute their log-probabilities under another model: for each member i and trained
/// step j, the state x_t before the step, the sample x_{t+Δt} after it, t, Δt, and the old log-probability. A
/// Flow-GRPO group trains all T transitions of every member; a TempFlow-GRPO sibling group trains only the one SDE
/// transition at the branch step (the members share x_t there exactly, and differ from the branch on).
/// Arrays are row-major: member-major, then trained step, then dimension.
/// </summary>
/// <param name="Class">The prompt (class id).</param>
/// <param name="BranchStep">The branch step k, or <see cref="FlowGroupSpec.FullSde"/>.</param>
/// <param name="Steps">T, the number of sampling steps of the grid.</param>
/// <param name="NoiseLevel">a, the SDE noise level the transitions were drawn with.</param>
/// <param name="Dim">D, the dimension of a sample.</param>
/// <param name="Members">Trajectories in the group.</param>
/// <param name="TrainedSteps">[S] step indices that carry loss (all of 0 … T−1, or just k).</param>
/// <param name="Times">[S] t at the start of each trained step.</param>
/// <param name="Dts">[S] Δt of each trained step (negative).</param>
/// <param name="NoiseWeights">[S] σ_t·√|Δt| of each trained step (used as loss weights by the weighted objectives).</param>
/// <param name="States">[Members·S·D] x_t before each trained step.</param>
/// <param name="Next">[Members·S·D] x_{t+Δt} after each trained step.</param>
/// <param name="OldLogProbs">[Members·S] log-probability of each trained transition under the sampling policy.</param>
/// <param name="Finals">[Members·D] the final samples x_0 (what the reward scores).</param>
/// <param name="Rewards">[Members] terminal rewards, empty until scored.</param>
/// <param name="Seed">Seed the group was drawn from.</param>
/// <param name="GroupId">Caller's id of the group.</param>
/// <param name="PolicyVersion">Version of the policy that sampled it.</param>
/// <param name="Nfe">Model evaluations (one per sample row per step) that sampling the group cost.</param>
public sealed record FlowRolloutGroup(
    int Class, int BranchStep, int Steps, double NoiseLevel, int Dim, int Members,
    int[] TrainedSteps, float[] Times, float[] Dts, float[] NoiseWeights,
    float[] States, float[] Next, float[] OldLogProbs, float[] Finals, float[] Rewards,
    ulong Seed, long GroupId, long PolicyVersion, long Nfe)
{
    /// <summary>Trained transitions per member (S).</summary>
    public int StepsPerMember => TrainedSteps.Length;

    /// <summary>All trained transitions of the group (Members · S).</summary>
    public int Transitions => Members * TrainedSteps.Length;

    /// <summary>True when <see cref="Rewards"/> holds one reward per member.</summary>
    public bool IsScored => Rewards.Length == Members;

    /// <summary>The member's final sample (D values).</summary>
    public ReadOnlySpan<float> Final(int member) => Finals.AsSpan(member * Dim, Dim);

    /// <summary>This group with its rewards set.</summary>
    public FlowRolloutGroup WithRewards(float[] rewards)
    {
        if (rewards.Length != Members) throw new ArgumentException($"{rewards.Length} rewards for a group of {Members}");
        return this with { Rewards = rewards };
    }

    /// <summary>Throws <see cref="ArgumentException"/> when the arrays do not fit the declared shape (a corrupt or foreign message).</summary>
    public void Validate(bool requireRewards = true)
    {
        int s = TrainedSteps.Length;
        if (Members < 1 || Dim < 1 || Steps < 1 || s < 1) throw new ArgumentException($"flow group {GroupId}: empty shape (members {Members}, dim {Dim}, steps {Steps}, trained {s})");
        if (Times.Length != s || Dts.Length != s || NoiseWeights.Length != s) throw new ArgumentException($"flow group {GroupId}: per-step arrays must have {s} entries");
        if (States.Length != Members * s * Dim || Next.Length != Members * s * Dim) throw new ArgumentException($"flow group {GroupId}: states/next must have {Members}×{s}×{Dim} entries");
        if (OldLogProbs.Length != Members * s) throw new ArgumentException($"flow group {GroupId}: old log-probs must have {Members}×{s} entries");
        if (Finals.Length != Members * Dim) throw new ArgumentException($"flow group {GroupId}: finals must have {Members}×{Dim} entries");
        foreach (var k in TrainedSteps)
            if (k < 0 || k >= Steps) throw new ArgumentException($"flow group {GroupId}: trained step {k} is outside [0, {Steps})");
        if (requireRewards && !IsScored) throw new ArgumentException($"flow group {GroupId}: {Rewards.Length} rewards for {Members} members");
    }
}
