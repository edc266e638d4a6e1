using TorchSharp;
using RlActors.Policies.Grpo;
using RlActors.Policies.Lm;
using RlActors.Policies.Runtime;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RlActors.Policies.Algorithms;

/// <summary>
/// Every hyperparameter of PPO with a learned value function, with its default. Config keys are the kebab-case names
/// under <c>ppo.</c>. How completions are sampled (prompts per step, completions per prompt, temperature, length)
/// is the sampler's business and stays under <c>grpo.</c>, so GRPO, PPO and CAPO run on the same rollouts.
/// </summary>
public sealed record PpoOptions
{
    /// <summary>Adam learning rate of the policy (the same default as GRPO's, so the two compare at one step size).</summary>
    public double LearningRate { get; init; } = 3e-4;
    /// <summary>Adam learning rate of the critic (trunk and value head). A critic must track returns faster than the policy moves.</summary>
    public double CriticLearningRate { get; init; } = 1e-3;
    /// <summary>Adam β1 (policy and critic).</summary>
    public double AdamBeta1 { get; init; } = 0.9;
    /// <summary>Adam β2 (policy and critic).</summary>
    public double AdamBeta2 { get; init; } = 0.999;
    /// <summary>Adam ε (policy and critic).</summary>
    public double AdamEps { get; init; } = 1e-8;
    /// <summary>PPO clip range ε: the ratio is clipped to [1 − ε, 1 + ε] in the policy objective.</summary>
    public double ClipRange { get; init; } = 0.2;
    /// <summary>Value clip: a new value may move at most this far from the rollout's value before the clipped error takes over; 0 disables value clipping.</summary>
    public double ValueClip { get; init; } = 0.2;
    /// <summary>Weight of the value loss in the total loss (CleanRL's vf_coef).</summary>
    public double ValueCoef { get; init; } = 0.5;
    /// <summary>Discount γ per token. 1: a completion is one episode whose only outcome comes at its end, as in TRL and OpenRLHF.</summary>
    public double Gamma { get; init; } = 1.0;
    /// <summary>GAE λ: 1 gives Monte-Carlo advantages (return − value), 0 one-step TD errors.</summary>
    public double GaeLambda { get; init; } = 0.95;
    /// <summary>Passes over each batch of rollouts. On the tiny arithmetic LM 2 epochs × 2 minibatches at 3e-4 jumped to
    /// approx_kl 1.4 on a first update and lost 2.8 points in 40 steps where 1 × 2 gained 3.8 (seed 2, λ = 1).</summary>
    public int UpdateEpochs { get; init; } = 1;
    /// <summary>Minibatches per epoch; the batch of completions is split in this many contiguous parts (whole groups when it
    /// divides the prompt count). With 2, the second minibatch's ratios differ from 1, so the clip is live.</summary>
    public int MiniBatches { get; init; } = 2;
    /// <summary>Clip the policy's and the critic's global gradient norms (each on its own) to this value; 0 or less disables clipping.</summary>
    public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>Weight β of a per-token KL penalty to a frozen copy of the starting policy, subtracted from the rewards (β·(log π_old − log π_ref), as in TRL's PPO); 0 disables the reference model.</summary>
    public double KlCoef { get; init; } = 0.0;
    /// <summary>Normalise advantages to mean 0, standard deviation 1 over the batch's unmasked tokens.</summary>
    public bool WhitenAdvantages { get; init; } = true;

    /// <summary>The experiment-file keys (<c>ppo.*</c>) of this record.</summary>
    public static IReadOnlyList<AlgorithmKey> Keys { get; } =
    [
        AlgorithmKey.Number<PpoOptions>("learning-rate", "PPO: Adam learning rate of the policy", (o, v) => o with { LearningRate = v }),
        AlgorithmKey.Number<PpoOptions>("critic-learning-rate", "PPO: Adam learning rate of the critic (its own transformer copied from the policy at the start, and a value head)", (o, v) => o with { CriticLearningRate = v }),
        AlgorithmKey.Number<PpoOptions>("adam-beta1", "PPO: Adam beta1 (policy and critic)", (o, v) => o with { AdamBeta1 = v }),
        AlgorithmKey.Number<PpoOptions>("adam-beta2", "PPO: Adam beta2 (policy and critic)", (o, v) => o with { AdamBeta2 = v }),
        AlgorithmKey.Number<PpoOptions>("adam-eps", "PPO: Adam epsilon (policy and critic)", (o, v) => o with { AdamEps = v }),
        AlgorithmKey.Number<PpoOptions>("clip-range", "PPO: ratio clip range epsilon", (o, v) => o with { ClipRange = v }),
        AlgorithmKey.Number<PpoOptions>("value-clip", "PPO: value clip (0 disables the clipped value objective)", (o, v) => o with { ValueClip = v }),
        AlgorithmKey.Number<PpoOptions>("value-coef", "PPO: weight of the value loss", (o, v) => o with { ValueCoef = v }),
        AlgorithmKey.Number<PpoOptions>("gamma", "PPO: discount per token (1: the completion is one episode)", (o, v) => o with { Gamma = v }),
        AlgorithmKey.Number<PpoOptions>("gae-lambda", "PPO: GAE lambda (1: Monte-Carlo return minus value; 0: one-step TD)", (o, v) => o with { GaeLambda = v }),
        AlgorithmKey.Count<PpoOptions>("update-epochs", "PPO: passes over each batch", (o, v) => o with { UpdateEpochs = v }),
        AlgorithmKey.Count<PpoOptions>("mini-batches", "PPO: minibatches per pass", (o, v) => o with { MiniBatches = v }),
        AlgorithmKey.Number<PpoOptions>("max-grad-norm", "PPO: gradient clipping of the policy and of the critic, each (0 disables)", (o, v) => o with { MaxGradNorm = v }),
        AlgorithmKey.Number<PpoOptions>("kl-coef", "PPO: per-token KL penalty to a frozen copy of the starting policy, subtracted from the rewards (0 disables)", (o, v) => o with { KlCoef = v }),
        AlgorithmKey.Flag<PpoOptions>("whiten-advantages", "PPO: normalise advantages over the batch's tokens", (o, v) => o with { WhitenAdvantages = v }),
    ];

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid key.</summary>
    public void Validate()
    {
        if (!(LearningRate > 0)) throw new ArgumentException($"ppo.learning-rate must be > 0 (got {LearningRate})");
        if (!(CriticLearningRate > 0)) throw new ArgumentException($"ppo.critic-learning-rate must be > 0 (got {CriticLearningRate})");
        if (!(ClipRange is >= 0 and < 1)) throw new ArgumentException($"ppo.clip-range must be in [0, 1) (got {ClipRange})");
        if (!(ValueClip >= 0)) throw new ArgumentException($"ppo.value-clip must be >= 0 (got {ValueClip})");
        if (!(ValueCoef >= 0)) throw new ArgumentException($"ppo.value-coef must be >= 0 (got {ValueCoef})");
        if (!(Gamma is >= 0 and <= 1)) throw new ArgumentException($"ppo.gamma must be in [0, 1] (got {Gamma})");
        if (!(GaeLambda is >= 0 and <= 1)) throw new ArgumentException($"ppo.gae-lambda must be in [0, 1] (got {GaeLambda})");
        if (UpdateEpochs < 1) throw new ArgumentException($"ppo.update-epochs must be >= 1 (got {UpdateEpochs})");
        if (MiniBatches < 1) throw new ArgumentException($"ppo.mini-batches must be >= 1 (got {MiniBatches})");
        if (!(KlCoef >= 0)) throw new ArgumentException($"ppo.kl-coef must be >= 0 (got {KlCoef})");
    }
}

/// <summary>Metric names PPO reports besides the <see cref="GrpoMetrics"/> ones (loss, clip_frac, approx_kl, entropy, grad_norm, completion_len, kl_ref).</summary>
public static class PpoMetrics
{
    /// <summary>Clipped value loss, ½·max((V − R)², (V_clipped − R)²) over unmasked tokens (mean over the last epoch's minibatches).</summary>
    public const string ValueLoss = "value_loss";
    /// <summary>Mean value the critic gave the rollout's tokens before the update.</summary>
    public const string ValueMean = "value_mean";
    /// <summary>1 − Var(R − V) / Var(R) over unmasked tokens, before the update: 1 is a perfect critic, 0 no better than a constant, below 0 worse.</summary>
    public const string ExplainedVariance = "explained_variance";
    /// <summary>Mean GAE return (the value target) over unmasked tokens.</summary>
    public const string ReturnMean = "return_mean";
    /// <summary>Fraction of unmasked tokens where the clipped value error was the larger one.</summary>
    public const string ValueClipFrac = "value_clip_frac";
    /// <summary>The critic's global gradient norm before clipping (last minibatch).</summary>
    public const string ValueGradNorm = "value_grad_norm";
}

/// <summary>
/// PPO with a learned value function (GAE, clipped policy and value objectives), the value-based credit assignment
/// that CAPO's paper argues against, on the same rollouts as GRPO.
/// <para>
/// The critic is a separate network: a copy of the policy's transformer, taken when PPO starts (after SFT), with a
/// linear value head (d_model → 1, zero-initialised so the first values are 0) on its final hidden states, as in
/// OpenRLHF and TRL. A head on the policy's own (detached) trunk would be cheaper, but then the critic could only
/// read features shaped for next-token prediction and would chase them as the policy moves; a baseline meant to
/// show what value-based credit can do should get a critic that learns its own features. Cost: one more forward
/// and backward per minibatch.
/// </para>
/// <para>
/// Per completion token t (the masked tokens up to and including the end token): reward r_t = the completion's
/// sequence reward at its last token + its per-token extra (CAPO's token credit) at t − KL penalty; GAE
/// A_t = Σ_k (γλ)^k δ_{t+k}, δ_t = r_t + γ·V_{t+1} − V_t (V after the end is 0); returns R_t = A_t + V_t.
/// State: <c>optimizer</c>, <c>critic</c>, <c>critic.optimizer</c> and, with a KL penalty, <c>reference</c>.
/// </para>
/// </summary>
public sealed class PpoAlgorithm : ILmAlgorithm
{
    /// <summary>State entry: the policy's Adam moments.</summary>
    public const string OptimizerEntry = "optimizer";
    /// <summary>State entry: the critic's weights (trunk and value head).</summary>
    public const string CriticEntry = "critic";
    /// <summary>State entry: the critic's Adam moments.</summary>
    public const string CriticOptimizerEntry = "critic.optimizer";
    /// <summary>State entry: the frozen reference weights (only when <see cref="PpoOptions.KlCoef"/> &gt; 0).</summary>
    public const string ReferenceEntry = "reference";

    private readonly LmAlgorithmContext context;
    private readonly Critic critic;
    private readonly Adam optimizer;
    private readonly Adam criticOptimizer;
    private readonly ICausalLm? reference;

    /// <summary>Hyperparameters.</summary>
    public PpoOptions Options { get; }

    /// <summary>PPO on <paramref name="context"/>'s policy; the critic (and the reference, if any) start as copies of the policy as it is now.</summary>
    public PpoAlgorithm(LmAlgorithmContext context, PpoOptions options)
    {
        options.Validate();
        this.context = context;
        Options = options;
        var policy = context.Policy;
        critic = new Critic(policy);
        optimizer = optim.Adam(policy.parameters(), options.LearningRate, options.AdamBeta1, options.AdamBeta2, options.AdamEps);
        criticOptimizer = optim.Adam(critic.TrainedParameters(), options.CriticLearningRate, options.AdamBeta1, options.AdamBeta2, options.AdamEps);
        if (options.KlCoef > 0)
        {
            reference = policy.Clone();
            reference.eval();
            foreach (var p in reference.parameters()) p.requires_grad = false;
        }
    }

    /// <inheritdoc />
    public string Name => "ppo";
    /// <inheritdoc />
    public ICausalLm Policy => context.Policy;

    /// <inheritdoc />
    public Dictionary<string, double> Train(IReadOnlyList<ScoredGroup> groups)
    {
        var o = Options;
        var device = Policy.Device;
        Policy.train();
        critic.train();
        using var outer = NewDisposeScope();

        // 1. Flatten the groups (slot order) into rows, right-pad completions, and place the rewards on tokens.
        var (prompts, completions, tokenRewards) = Flatten(groups);
        int b = completions.Count, lc = completions[0].Length;
        var maskArray = LmScoring.CompletionMask(completions, lc, context.EosId, context.PadId);
        for (int r = 0; r < b; r++)
            for (int t = 0; t < lc; t++) tokenRewards[r * lc + t] *= maskArray[r * lc + t];
        using var seqs = SequenceBatch.Build(prompts, completions, context.PadId, device);
        var mask = tensor(maskArray, new long[] { b, lc }, device: device);
        double tokens = Math.Max(1, maskArray.Sum());

        // 2. The rollout's log-probabilities, entropies and values under the current networks.
        Tensor oldLogp, entropy, oldValues;
        Tensor? refLogp = null;
        using (no_grad())
        {
            var (lp, ent) = LmScoring.CompletionLogProbs(Policy, seqs, withEntropy: true);
            oldLogp = lp; entropy = ent!;
            oldValues = critic.Values(seqs) * mask;
            if (reference is not null) refLogp = LmScoring.CompletionLogProbs(reference, seqs).LogProbs;
        }
        if (refLogp is not null)
        {
            var penalty = (o.KlCoef * (oldLogp - refLogp) * mask).cpu().data<float>().ToArray();
            for (int i = 0; i < tokenRewards.Length; i++) tokenRewards[i] -= penalty[i];
        }

        // 3. GAE advantages and returns over each completion's tokens; optionally whitened over the batch.
        var valuesArray = oldValues.cpu().data<float>().ToArray();
        var (advArray, retArray) = Gae(tokenRewards, valuesArray, maskArray, lc, o.Gamma, o.GaeLambda);
        if (o.WhitenAdvantages) Whiten(advArray, maskArray);
        var advantages = tensor(advArray, new long[] { b, lc }, device: device);
        var returns = tensor(retArray, new long[] { b, lc }, device: device);

        // 4. Epochs of minibatch updates: PPO-clip policy loss + clipped value loss, one optimizer per network.
        double lossSum = 0, valueLossSum = 0, clipSum = 0, klSum = 0, valueClipSum = 0, gradNorm = 0, valueGradNorm = 0;
        int parts = Math.Min(o.MiniBatches, b);
        for (int epoch = 0; epoch < o.UpdateEpochs; epoch++)
        {
            lossSum = valueLossSum = clipSum = klSum = valueClipSum = 0;
            for (int m = 0; m < parts; m++)
            {
                using var scope = NewDisposeScope();
                long start = (long)b * m / parts, end = (long)b * (m + 1) / parts;
                var rows = arange(start, end, dtype: int64, device: device);
                using var mb = SequenceBatch.FromTensors(seqs.Tokens.index_select(0, rows), seqs.Positions.index_select(0, rows),
                    seqs.KeyValid.index_select(0, rows), seqs.PromptLength, seqs.CompletionLength);
                var mbMask = mask.index_select(0, rows);
                var mbAdv = advantages.index_select(0, rows);
                var mbRet = returns.index_select(0, rows);
                var mbOldValues = oldValues.index_select(0, rows);

                var (logp, _) = LmScoring.CompletionLogProbs(Policy, mb);
                var logRatio = logp - oldLogp.index_select(0, rows);
                var ratio = logRatio.exp();
                var policyLoss = Mean(maximum(-mbAdv * ratio, -mbAdv * ratio.clamp(1 - o.ClipRange, 1 + o.ClipRange)), mbMask);

                var values = critic.Values(mb);
                var unclippedError = (values - mbRet).pow(2);
                Tensor valueError = unclippedError;
                Tensor? clippedError = null;
                if (o.ValueClip > 0)
                {
                    var clippedValues = mbOldValues + (values - mbOldValues).clamp(-o.ValueClip, o.ValueClip);
                    clippedError = (clippedValues - mbRet).pow(2);
                    valueError = maximum(unclippedError, clippedError);
                }
                var valueLoss = 0.5 * Mean(valueError, mbMask);
                var loss = policyLoss + o.ValueCoef * valueLoss;

                optimizer.zero_grad();
                criticOptimizer.zero_grad();
                loss.backward();
                gradNorm = ClipGradients(Policy.parameters(), o.MaxGradNorm);
                valueGradNorm = ClipGradients(critic.TrainedParameters(), o.MaxGradNorm);
                optimizer.step();
                criticOptimizer.step();

                using (no_grad())
                {
                    lossSum += loss.item<float>();
                    valueLossSum += valueLoss.item<float>();
                    var outside = ratio.lt(1 - o.ClipRange).logical_or(ratio.gt(1 + o.ClipRange)).to_type(ScalarType.Float32);
                    clipSum += Mean(outside, mbMask).item<float>();
                    klSum += Mean((-logRatio).exp() + logRatio - 1, mbMask).item<float>(); // k3 of KL(old || new)
                    if (clippedError is not null) valueClipSum += Mean(clippedError.gt(unclippedError).to_type(ScalarType.Float32), mbMask).item<float>();
                }
            }
        }

        var metrics = new Dictionary<string, double>
        {
            [GrpoMetrics.Loss] = lossSum / parts,
            [GrpoMetrics.ClipFrac] = clipSum / parts,
            [GrpoMetrics.ApproxKl] = klSum / parts,
            [GrpoMetrics.Entropy] = (entropy * mask).sum().item<float>() / tokens,
            [GrpoMetrics.GradNorm] = gradNorm,
            [GrpoMetrics.CompletionLength] = tokens / b,
            [PpoMetrics.ValueLoss] = valueLossSum / parts,
            [PpoMetrics.ValueMean] = Masked(valuesArray, maskArray).Average(),
            [PpoMetrics.ReturnMean] = Masked(retArray, maskArray).Average(),
            [PpoMetrics.ExplainedVariance] = ExplainedVariance(valuesArray, retArray, maskArray),
            [PpoMetrics.ValueClipFrac] = valueClipSum / parts,
            [PpoMetrics.ValueGradNorm] = valueGradNorm,
        };
        if (refLogp is not null)
        {
            var d = refLogp - oldLogp;
            metrics[GrpoMetrics.KlRef] = Mean(d.exp() - d - 1, mask).item<float>();
        }
        return metrics;
    }

    /// <summary>
    /// Generalised advantage estimation over rows of <paramref name="length"/> tokens (all arrays [rows·length]):
    /// δ_t = r_t + γ·m_{t+1}·V_{t+1} − V_t and A_t = δ_t + γλ·m_{t+1}·A_{t+1}, where m is the mask (a row's masked
    /// tokens come first; everything after its last one counts as the end of the episode). Returns A and R = A + V,
    /// both 0 where the mask is 0.
    /// </summary>
    public static (float[] Advantages, float[] Returns) Gae(float[] rewards, float[] values, float[] mask, int length, double gamma, double lambda)
    {
        if (length < 1 || rewards.Length % length != 0 || values.Length != rewards.Length || mask.Length != rewards.Length)
            throw new ArgumentException($"rewards, values and mask must all be [rows × {length}] (got {rewards.Length}, {values.Length}, {mask.Length})");
        var advantages = new float[rewards.Length];
        var returns = new float[rewards.Length];
        for (int row = 0; row < rewards.Length / length; row++)
        {
            double nextValue = 0, nextAdvantage = 0;
            for (int t = length - 1; t >= 0; t--)
            {
                int i = row * length + t;
                if (mask[i] == 0) { nextValue = 0; nextAdvantage = 0; continue; }
                double delta = rewards[i] + gamma * nextValue - values[i];
                double a = delta + gamma * lambda * nextAdvantage;
                advantages[i] = (float)a;
                returns[i] = (float)(a + values[i]);
                nextValue = values[i];
                nextAdvantage = a;
            }
        }
        return (advantages, returns);
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, byte[]> SaveState()
    {
        var state = new Dictionary<string, byte[]>
        {
            [OptimizerEntry] = TorchBytes.SaveOptimizer(optimizer, ref optimizerSize),
            [CriticEntry] = TorchBytes.SaveWeights(critic, ref criticSize),
            [CriticOptimizerEntry] = TorchBytes.SaveOptimizer(criticOptimizer, ref criticOptimizerSize),
        };
        if (reference is not null) state[ReferenceEntry] = reference.SaveWeights();
        return state;
    }

    private int optimizerSize, criticSize, criticOptimizerSize; // sizes of the last save: the next one needs no copy

    /// <inheritdoc />
    public void LoadState(IReadOnlyDictionary<string, byte[]> state)
    {
        LmAlgorithms.RequireEntries(Name, state, reference is null
            ? [OptimizerEntry, CriticEntry, CriticOptimizerEntry]
            : [OptimizerEntry, CriticEntry, CriticOptimizerEntry, ReferenceEntry]);
        TorchBytes.LoadOptimizer(optimizer, state[OptimizerEntry]);
        TorchBytes.LoadWeights(critic, state[CriticEntry], "critic weights", Policy.Shape);
        TorchBytes.LoadOptimizer(criticOptimizer, state[CriticOptimizerEntry]);
        reference?.LoadWeights(state[ReferenceEntry]);
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Tensor> ExportTensors() => critic.Export();

    /// <inheritdoc />
    public void Dispose()
    {
        optimizer.Dispose();
        criticOptimizer.Dispose();
        critic.Dispose();
        reference?.Dispose();
    }

    /// <summary>Rows in slot order: prompt, right-padded completion, and its rewards on tokens (sequence reward at its last token, plus extras).</summary>
    private (List<int[]> Prompts, List<int[]> Completions, float[] TokenRewards) Flatten(IReadOnlyList<ScoredGroup> groups)
    {
        if (groups.Count == 0) throw new ArgumentException("no groups");
        if (groups.Any(x => x.Completions.Length == 0 || x.Completions.Length != x.Rewards.Length))
            throw new ArgumentException("every group needs one reward per completion");
        int length = groups.Max(x => x.Completions.Max(c => c.Length));
        var prompts = new List<int[]>();
        var completions = new List<int[]>();
        var rewards = new List<float>();
        foreach (var group in groups)
            for (int j = 0; j < group.Completions.Length; j++)
            {
                var c = group.Completions[j];
                var padded = Enumerable.Repeat(context.PadId, length).ToArray();
                Array.Copy(c, padded, c.Length);
                var row = new float[length];
                if (group.TokenRewards?[j] is { } extras)
                    for (int t = 0; t < extras.Length && t < length; t++) row[t] = extras[t];
                // The sequence reward sits on the last token that carries loss: the end token, or the last one of a cut-off completion.
                int last = LastMasked(padded);
                row[last] += group.Rewards[j];
                prompts.Add(group.Prompt);
                completions.Add(padded);
                rewards.AddRange(row);
            }
        return (prompts, completions, rewards.ToArray());
    }

    private int LastMasked(int[] completion)
    {
        for (int t = 0; t < completion.Length; t++)
            if (completion[t] == context.EosId || completion[t] == context.PadId) return t;
        return completion.Length - 1;
    }

    private static Tensor Mean(Tensor perToken, Tensor mask) => (perToken * mask).sum() / mask.sum().clamp_min(1);

    private static IEnumerable<double> Masked(float[] values, float[] mask) =>
        values.Where((_, i) => mask[i] != 0).Select(v => (double)v).DefaultIfEmpty(0);

    /// <summary>Shifts and scales the unmasked entries to mean 0 and (sample) standard deviation 1; masked entries stay 0.</summary>
    private static void Whiten(float[] values, float[] mask)
    {
        var kept = Masked(values, mask).ToArray();
        if (kept.Length < 2) return;
        double mean = kept.Average();
        double variance = kept.Sum(v => (v - mean) * (v - mean)) / (kept.Length - 1);
        double scale = 1 / Math.Sqrt(variance + 1e-8);
        for (int i = 0; i < values.Length; i++) values[i] = mask[i] != 0 ? (float)((values[i] - mean) * scale) : 0f;
    }

    private static double ExplainedVariance(float[] values, float[] returns, float[] mask)
    {
        var r = Masked(returns, mask).ToArray();
        var residual = values.Zip(returns, (v, ret) => (double)ret - v).Where((_, i) => mask[i] != 0).ToArray();
        double Var(double[] x) { double m = x.Average(); return x.Sum(v => (v - m) * (v - m)) / x.Length; }
        if (r.Length == 0) return 0;
        double varReturns = Var(r);
        return varReturns == 0 ? 0 : 1 - Var(residual) / varReturns;
    }

    private static double ClipGradients(IEnumerable<Parameter> parameters, double maxNorm)
    {
        var list = parameters.Where(p => p.grad is not null).ToList();
        if (maxNorm > 0) return nn.utils.clip_grad_norm_(list, maxNorm);
        double ss = 0;
        foreach (var p in list) ss += p.grad!.pow(2).sum().item<float>();
        return Math.Sqrt(ss);
    }

    /// <summary>The value network: its own copy of the policy (<see cref="ICausalLm.Clone"/>) and a linear head on the final
    /// hidden states. Registration order (<c>trunk</c>, then <c>valueHead</c>) is part of the state format.</summary>
    private sealed class Critic : nn.Module
    {
        private readonly ICausalLm trunk;
        private readonly Linear valueHead;

        public Critic(ICausalLm policy) : base(nameof(Critic))
        {
            trunk = policy.Clone();
            valueHead = nn.Linear(policy.HiddenSize, 1);
            register_module("trunk", trunk.Module);
            register_module("valueHead", valueHead);
            using (no_grad()) { valueHead.weight!.zero_(); valueHead.bias!.zero_(); }
            if (policy.Device.type != DeviceType.CPU) this.to(policy.Device);
            // The copied output head (logits) is never used by the critic: keep it out of training.
            foreach (var (name, p) in trunk.Module.named_parameters()) if (trunk.HeadOnlyParameters.Contains(name)) p.requires_grad = false;
        }

        /// <summary>Values [B, Lc] of the states before each completion token.</summary>
        public Tensor Values(SequenceBatch batch)
        {
            using var scope = NewDisposeScope();
            return valueHead.call(LmScoring.CompletionHiddenStates(trunk, batch)).squeeze(-1).MoveToOuterDisposeScope();
        }

        public IEnumerable<Parameter> TrainedParameters() => parameters().Where(p => p.requires_grad);

        /// <summary>The critic's trained tensors: the trunk under <c>critic.</c>, the head as <c>value_head.weight</c> / <c>value_head.bias</c>.</summary>
        public IReadOnlyDictionary<string, Tensor> Export()
        {
            var result = new Dictionary<string, Tensor>();
            foreach (var (name, p) in trunk.Module.named_parameters()) if (!trunk.HeadOnlyParameters.Contains(name)) result["critic." + name] = p;
            result["value_head.weight"] = valueHead.weight!;
            result["value_head.bias"] = valueHead.bias!;
            return result;
        }
    }
}
