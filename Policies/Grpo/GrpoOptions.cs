namespace RlActors.Policies.Grpo;

/// <summary>How per-token losses are averaged into one number.</summary>
public enum LossAggregation
{
    /// <summary>Sum over every unmasked token of the batch divided by their count (DAPO / Dr. GRPO style: every token weighs the same).</summary>
    TokenMean,
    /// <summary>Mean over tokens within each sequence, then mean over sequences (the original GRPO: every sequence weighs the same).</summary>
    SequenceMean,
}

/// <summary>Every hyperparameter of a GRPO update, with its default. Config keys are the kebab-case names under <c>grpo.</c>.</summary>
public sealed record GrpoOptions
{
    /// <summary>Completions sampled per prompt (G). Advantages compare completions of the same prompt.</summary>
    public int GroupSize { get; init; } = 8;
    /// <summary>Prompts per RL step; a step trains on PromptsPerStep × GroupSize completions.</summary>
    public int PromptsPerStep { get; init; } = 16;
    /// <summary>Adam learning rate. 1e-3 collapsed the tiny arithmetic LM within 50 steps; 3e-4 learns.</summary>
    public double LearningRate { get; init; } = 3e-4;
    /// <summary>Adam β1.</summary>
    public double AdamBeta1 { get; init; } = 0.9;
    /// <summary>Adam β2.</summary>
    public double AdamBeta2 { get; init; } = 0.999;
    /// <summary>Adam ε.</summary>
    public double AdamEps { get; init; } = 1e-8;
    /// <summary>Lower PPO clip range: ratios below 1 − ClipLow stop giving gradient for negative advantages.</summary>
    public double ClipLow { get; init; } = 0.2;
    /// <summary>Upper PPO clip range: ratios above 1 + ClipHigh stop giving gradient for positive advantages.</summary>
    public double ClipHigh { get; init; } = 0.2;
    /// <summary>Weight β of the KL penalty to the frozen reference policy (k3 estimator). 0 disables the reference model.</summary>
    public double KlCoef { get; init; } = 0.0;
    /// <summary>Divide group-centred rewards by the group's standard deviation (sample std, n − 1).</summary>
    public bool NormalizeStd { get; init; } = true;
    /// <summary>Added to the standard deviation before dividing, so equal-reward groups give zero advantages, not NaN.</summary>
    public double StdEpsilon { get; init; } = 1e-6;
    /// <summary>How token losses are averaged.</summary>
    public LossAggregation Aggregation { get; init; } = LossAggregation.TokenMean;
    /// <summary>Clip the global gradient norm to this value; 0 or less disables clipping.</summary>
    public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>Passes over each batch of rollouts (PPO epochs). With 1 epoch and 1 minibatch the ratio is exactly 1.</summary>
    public int UpdateEpochs { get; init; } = 1;
    /// <summary>Minibatches per epoch; the batch of completions is split in this many contiguous parts.</summary>
    public int MiniBatches { get; init; } = 1;
    /// <summary>Sampling temperature during training.</summary>
    public double Temperature { get; init; } = 1.0;
    /// <summary>Sampling top-k during training; 0 keeps every token.</summary>
    public int TopK { get; init; } = 0;
    /// <summary>Most tokens per completion; a completion cut off here is truncated (and scores 0 on the arithmetic task).</summary>
    public int MaxNewTokens { get; init; } = 48;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid key.</summary>
    public void Validate()
    {
        if (GroupSize < 2) throw new ArgumentException($"grpo.group-size must be >= 2 (got {GroupSize})");
        if (PromptsPerStep < 1) throw new ArgumentException($"grpo.prompts-per-step must be >= 1 (got {PromptsPerStep})");
        if (!(LearningRate > 0)) throw new ArgumentException($"grpo.learning-rate must be > 0 (got {LearningRate})");
        if (ClipLow < 0 || ClipLow >= 1) throw new ArgumentException($"grpo.clip-low must be in [0, 1) (got {ClipLow})");
        if (ClipHigh < 0) throw new ArgumentException($"grpo.clip-high must be >= 0 (got {ClipHigh})");
        if (KlCoef < 0) throw new ArgumentException($"grpo.kl-coef must be >= 0 (got {KlCoef})");
        if (!(StdEpsilon >= 0)) throw new ArgumentException($"grpo.std-epsilon must be >= 0 (got {StdEpsilon})");
        if (UpdateEpochs < 1) throw new ArgumentException($"grpo.update-epochs must be >= 1 (got {UpdateEpochs})");
        if (MiniBatches < 1 || MiniBatches > GroupSize * PromptsPerStep)
            throw new ArgumentException($"grpo.mini-batches must be in [1, {GroupSize * PromptsPerStep}] (got {MiniBatches})");
        if (Temperature < 0) throw new ArgumentException($"grpo.temperature must be >= 0 (got {Temperature})");
        if (TopK < 0) throw new ArgumentException($"grpo.top-k must be >= 0 (got {TopK})");
        if (MaxNewTokens < 1) throw new ArgumentException($"grpo.max-new-tokens must be >= 1 (got {MaxNewTokens})");
    }
}

/// <summary>Fixed metric names, as written to metrics files and progress lines.</summary>
public static class GrpoMetrics
{
    /// <summary>Mean reward of the step's completions.</summary>
    public const string RewardMean = "reward_mean";
    /// <summary>Fraction of the step's completions that are verified correct.</summary>
    public const string Accuracy = "accuracy";
    /// <summary>The optimised loss (last minibatch of the last epoch, averaged over minibatches of that epoch).</summary>
    public const string Loss = "loss";
    /// <summary>Fraction of unmasked tokens whose ratio fell outside the clip range.</summary>
    public const string ClipFrac = "clip_frac";
    /// <summary>k3 estimate of KL(old ‖ new) over unmasked tokens: how far the update moved the policy.</summary>
    public const string ApproxKl = "approx_kl";
    /// <summary>Mean entropy (nats) of the policy's next-token distribution over unmasked tokens.</summary>
    public const string Entropy = "entropy";
    /// <summary>Number of groups whose rewards were all equal (no learning signal from the outcome).</summary>
    public const string ZeroStdGroups = "zero_std_groups";
    /// <summary>k3 estimate of KL(new ‖ reference) when a reference model is used.</summary>
    public const string KlRef = "kl_ref";
    /// <summary>Global gradient norm before clipping (last minibatch).</summary>
    public const string GradNorm = "grad_norm";
    /// <summary>Mean number of completion tokens up to and including the end token.</summary>
    public const string CompletionLength = "completion_len";
}
