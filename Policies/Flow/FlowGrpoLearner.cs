using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RlActors.Policies.Flow;

/// <summary>Advantages of one group.</summary>
/// <param name="Advantages">One per member, in member order.</param>
/// <param name="Std">The group's reward standard deviation (population) before flooring.</param>
public sealed record FlowGroupAdvantages(float[] Advantages, double Std);

/// <summary>What one update measured, and what it cost.</summary>
/// <param name="Metrics">Under <see cref="FlowMetrics"/> names (no step, reward or nfe: the trainer adds those).</param>
/// <param name="Nfe">Model evaluations the update cost (policy forwards, and the reference's when β &gt; 0).</param>
public sealed record FlowUpdateResult(Dictionary<string, double> Metrics, long Nfe);

/// <summary>
/// The Flow-GRPO / TempFlow-GRPO learner: a velocity-field policy, an optional frozen reference, and Adam.
/// <see cref="Update"/> trains on scored groups, top to bottom:
/// <list type="number">
/// <item>per group, A_i = clip((r_i − mean)/(max(std, StdFloor) + StdEpsilon), ±AdvantageClip) with the population std of
/// the group's rewards; every trained transition of member i gets A_i (all T steps of a Flow-GRPO rollout; the one branch
/// transition of a TempFlow sibling, whose A_i is then that transition's process reward);</item>
/// <item>each transition's weight w is 1, or σ_t·√|Δt| for the noise-weighted objectives (divided by its mean over
/// the T steps when <see cref="FlowGrpoOptions.NormalizeNoiseWeights"/>);</item>
/// <item>for each epoch and minibatch: recompute μ_θ(x_t) and log p_θ(x_{t+Δt} | x_t) of the stored transitions,
/// ρ = exp(log p_θ − log p_old), per-transition loss w·max(−A·ρ, −A·clip(ρ, 1 − ε, 1 + ε)) + β·‖μ_θ − μ_ref‖²/(2σ_t²|Δt|),
/// mean over transitions, one Adam step after clipping the gradient norm.</item>
/// </list>
/// The weight multiplies the policy term only, not the KL. Weights, the reference and <see cref="SaveOptimizer"/> are all
/// the state a resume needs.
/// </summary>
public sealed class FlowGrpoLearner : IDisposable
{
    private readonly Adam optimizer;

    /// <summary>The trained policy.</summary>
    public FlowVelocityModel Policy { get; }
    /// <summary>The frozen reference (a copy of the policy as it was when the learner was built), when β &gt; 0.</summary>
    public FlowVelocityModel? Reference { get; }
    /// <summary>Hyperparameters.</summary>
    public FlowGrpoOptions Options { get; }

    /// <summary>Wraps <paramref name="policy"/> (not owned: the caller disposes it); the reference is a frozen copy of it as it is now.</summary>
    public FlowGrpoLearner(FlowVelocityModel policy, FlowGrpoOptions options)
    {
        options.Validate();
        Policy = policy;
        Options = options;
        optimizer = optim.Adam(policy.parameters(), options.LearningRate, options.AdamBeta1, options.AdamBeta2, options.AdamEps);
        if (options.KlCoef > 0) Reference = policy.FrozenCopy();
    }

    /// <summary>Group advantages: clip((r − mean)/(max(std, floor) + eps), ±clip), std the population standard deviation.</summary>
    public static FlowGroupAdvantages Advantages(ReadOnlySpan<float> rewards, double stdFloor, double stdEpsilon, double clip)
    {
        if (rewards.Length == 0) throw new ArgumentException("a group needs at least one reward");
        double mean = 0;
        foreach (var r in rewards) mean += r;
        mean /= rewards.Length;
        double ss = 0;
        foreach (var r in rewards) ss += (r - mean) * (r - mean);
        double std = Math.Sqrt(ss / rewards.Length);
        double scale = Math.Max(std, stdFloor) + stdEpsilon;
        var adv = new float[rewards.Length];
        for (int i = 0; i < adv.Length; i++) adv[i] = (float)Math.Clamp((rewards[i] - mean) / scale, -clip, clip);
        return new FlowGroupAdvantages(adv, std);
    }

    /// <summary>The loss weight of a transition at <paramref name="step"/> of the group's grid under this learner's objective.</summary>
    public double Weight(FlowRolloutGroup group, int trainedIndex)
    {
        if (!Options.Objective.WeightsByNoise()) return 1.0;
        double w = group.NoiseWeights[trainedIndex];
        return Options.NormalizeNoiseWeights ? w / FlowMath.MeanNoiseWeight(group.Steps, group.NoiseLevel) : w;
    }

    /// <summary>Trains on scored groups (see the class summary). Returns the update's metrics and its model evaluations.</summary>
    public FlowUpdateResult Update(IReadOnlyList<FlowRolloutGroup> groups)
    {
        if (groups.Count == 0) throw new ArgumentException("no groups to train on");
        int d = Policy.Dim;
        foreach (var g in groups)
        {
            g.Validate();
            if (g.Dim != d) throw new ArgumentException($"flow group {g.GroupId} has dimension {g.Dim}, the policy {d}");
            if ((uint)g.Class >= (uint)Policy.Classes) throw new ArgumentException($"flow group {g.GroupId} has class {g.Class}, the policy knows {Policy.Classes}");
        }

        // 1-2. Flatten every trained transition with its advantage and weight.
        using var outer = NewDisposeScope();
        var batch = FlowTransitions.Build(groups, Policy.Device);
        int n = batch.Count, row = 0, lowStd = 0;
        var adv = new float[n];
        var weights = new float[n];
        foreach (var g in groups)
        {
            var a = Advantages(g.Rewards, Options.StdFloor, Options.StdEpsilon, Options.AdvantageClip);
            if (a.Std < Options.StdFloor) lowStd++;
            for (int m = 0; m < g.Members; m++)
                for (int j = 0; j < g.StepsPerMember; j++, row++)
                {
                    adv[row] = a.Advantages[m];
                    weights[row] = (float)Weight(g, j);
                }
        }

        var device = Policy.Device;
        Policy.train();
        var (x, xNext, t, dt, sigma, c, oldLp) = (batch.X, batch.XNext, batch.T, batch.Dt, batch.Sigma, batch.Classes, batch.OldLogProbs);
        var advT = tensor(adv).to(device);
        var w = tensor(weights).to(device);
        long nfe = 0;

        Tensor? refMean = null;
        if (Reference is not null)
        {
            using var _ = no_grad();
            refMean = FlowMath.SdeMean(x, Reference.call(x, t, c), t, dt, sigma);
            nfe += n;
        }

        // 3. PPO-clip epochs over contiguous minibatches.
        int parts = Math.Min(Options.MiniBatches, n);
        double eps = Options.ClipRange, lossSum = 0, clipSum = 0, approxKlSum = 0, klSum = 0, gradNorm = 0;
        for (int epoch = 0; epoch < Options.UpdateEpochs; epoch++)
        {
            lossSum = clipSum = approxKlSum = klSum = 0;
            for (int p = 0; p < parts; p++)
            {
                using var scope = NewDisposeScope();
                long start = (long)n * p / parts, end = (long)n * (p + 1) / parts, len = end - start;
                var mx = x.narrow(0, start, len);
                var mt = t.narrow(0, start, len);
                var step = FlowMath.SdeStep(mx, Policy.call(mx, mt, c.narrow(0, start, len)), mt, dt.narrow(0, start, len), sigma.narrow(0, start, len),
                    null, xNext.narrow(0, start, len), Options.Sampling.LogProb);
                nfe += end - start;
                var logRatio = step.LogProb - oldLp.narrow(0, start, len);
                var ratio = logRatio.exp();
                var a = advT.narrow(0, start, len);
                var policyLoss = maximum(-a * ratio, -a * ratio.clamp(1 - eps, 1 + eps)) * w.narrow(0, start, len);
                var perTransition = policyLoss;
                Tensor? kl = null;
                if (refMean is not null)
                {
                    kl = FlowMath.KlToReference(step.Mean, refMean.narrow(0, start, len), step.Std, Options.Sampling.LogProb);
                    perTransition = perTransition + Options.KlCoef * kl;
                }
                var loss = perTransition.mean();
                optimizer.zero_grad();
                loss.backward();
                gradNorm = Options.MaxGradNorm > 0
                    ? nn.utils.clip_grad_norm_(Policy.parameters(), Options.MaxGradNorm)
                    : TotalGradNorm();
                optimizer.step();
                using (no_grad())
                {
                    lossSum += loss.item<float>();
                    clipSum += ratio.lt(1 - eps).logical_or(ratio.gt(1 + eps)).to_type(ScalarType.Float32).mean().item<float>();
                    approxKlSum += ((-logRatio).exp() + logRatio - 1).mean().item<float>();
                    if (kl is not null) klSum += kl.mean().item<float>();
                }
            }
        }
        Policy.eval();

        var metrics = new Dictionary<string, double>
        {
            [FlowMetrics.Loss] = lossSum / parts,
            [FlowMetrics.ClipFrac] = clipSum / parts,
            [FlowMetrics.ApproxKl] = approxKlSum / parts,
            [FlowMetrics.Kl] = klSum / parts,
            [FlowMetrics.GradNorm] = gradNorm,
            [FlowMetrics.LowStdGroups] = (double)lowStd / groups.Count,
            [FlowMetrics.BranchStepMean] = groups.Average(g => (double)g.BranchStep),
            [FlowMetrics.Transitions] = n,
        };
        return new FlowUpdateResult(metrics, nfe);
    }

    /// <summary>
    /// log p_model(x_{t+Δt} | x_t) of every trained transition of <paramref name="group"/> ([Members·S], member-major), without
    /// gradient: the same computation the learner uses for its ratios, so under the sampling model it reproduces
    /// <see cref="FlowRolloutGroup.OldLogProbs"/> (up to float rounding).
    /// </summary>
    public static float[] LogProbs(FlowVelocityModel model, FlowRolloutGroup group, LogProbReduction reduction = LogProbReduction.Sum)
    {
        group.Validate(requireRewards: false);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var b = FlowTransitions.Build([group], model.Device);
        var step = FlowMath.SdeStep(b.X, model.call(b.X, b.T, b.Classes), b.T, b.Dt, b.Sigma, null, b.XNext, reduction);
        return step.LogProb.cpu().data<float>().ToArray();
    }

    private double TotalGradNorm()
    {
        double ss = 0;
        foreach (var p in Policy.parameters())
            if (p.grad is not null) ss += p.grad.pow(2).sum().item<float>();
        return Math.Sqrt(ss);
    }

    private int savedOptimizerSize; // size of the last SaveOptimizer: the next one writes into a buffer of that size

    /// <summary>Adam's state (moments and step counts) as bytes.</summary>
    public byte[] SaveOptimizer() => Runtime.TorchBytes.SaveOptimizer(optimizer, ref savedOptimizerSize);

    /// <summary>Restores Adam's state saved by <see cref="SaveOptimizer"/>.</summary>
    public void LoadOptimizer(byte[] bytes) => Runtime.TorchBytes.LoadOptimizer(optimizer, bytes);

    /// <summary>Restores the frozen reference (saved with the checkpoint: it is the policy as it was when training began).</summary>
    public void LoadReference(byte[] weights)
    {
        if (Reference is null) throw new InvalidOperationException("this learner has no reference model (flow.kl-coef = 0)");
        Reference.LoadWeights(weights);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        optimizer.Dispose();
        Reference?.Dispose();
    }
}

/// <summary>Every trained transition of some groups as tensors (rows group after group, member-major, then trained step).</summary>
internal sealed record FlowTransitions(int Count, Tensor X, Tensor XNext, Tensor T, Tensor Dt, Tensor Sigma, Tensor Classes, Tensor OldLogProbs)
{
    /// <summary>Builds the tensors in the current dispose scope; σ_t is recomputed from t with the group's own a and T.</summary>
    public static FlowTransitions Build(IReadOnlyList<FlowRolloutGroup> groups, Device device)
    {
        int d = groups[0].Dim, n = groups.Sum(g => g.Transitions), row = 0;
        var xs = new float[n * d];
        var nexts = new float[n * d];
        var ts = new float[n];
        var dts = new float[n];
        var sigmas = new float[n];
        var classes = new long[n];
        var oldLogp = new float[n];
        foreach (var g in groups)
        {
            if (g.Dim != d) throw new ArgumentException($"flow group {g.GroupId} has dimension {g.Dim}, the first group {d}");
            int s = g.StepsPerMember;
            for (int m = 0; m < g.Members; m++)
                for (int j = 0; j < s; j++, row++)
                {
                    int src = m * s + j;
                    Array.Copy(g.States, src * d, xs, row * d, d);
                    Array.Copy(g.Next, src * d, nexts, row * d, d);
                    ts[row] = g.Times[j];
                    dts[row] = g.Dts[j];
                    sigmas[row] = (float)FlowMath.Sigma(g.Times[j], g.NoiseLevel, g.Steps);
                    classes[row] = g.Class;
                    oldLogp[row] = g.OldLogProbs[src];
                }
        }
        return new FlowTransitions(n, tensor(xs, [n, d]).to(device), tensor(nexts, [n, d]).to(device), tensor(ts, [n, 1]).to(device),
            tensor(dts, [n, 1]).to(device), tensor(sigmas, [n, 1]).to(device), tensor(classes).to(device), tensor(oldLogp).to(device));
    }
}
