using static TorchSharp.torch;

namespace RlActors.Policies.Flow;

/// <summary>How a per-sample Gaussian log-density (and the KL) is reduced over the D dimensions.</summary>
public enum LogProbReduction
{
    /// <summary>Sum over dimensions: the true log-density of the D-dimensional Gaussian (the default; right for 2-D).</summary>
    Sum,
    /// <summary>Mean over dimensions, as flow_grpo does for image latents: keeps ratios of high-dimensional samples near 1.</summary>
    Mean,
}

/// <summary>One SDE (or recomputed) transition x_t → x_{t+Δt}: all tensors [B, D] except <see cref="LogProb"/> [B].</summary>
/// <param name="XNext">The sample x_{t+Δt} (drawn, or the one given).</param>
/// <param name="Mean">μ, the mean of the transition.</param>
/// <param name="Std">σ_t·√|Δt|, the standard deviation of every coordinate (broadcast to [B, 1] or [B, D]).</param>
/// <param name="LogProb">log N(x_{t+Δt}; μ, std²·I), reduced over dimensions.</param>
public sealed record SdeStepResult(Tensor XNext, Tensor Mean, Tensor Std, Tensor LogProb);

/// <summary>
/// The maths of Flow-GRPO and TempFlow-GRPO, free of models and data.
/// <para>Convention (rectified flow): x_t = (1 − t)·x_0 + t·ε, data at t = 0, noise at t = 1, v = ε − x_0. Sampling
/// runs T uniform steps from t = 1 down to t = 0: step i goes from t_i = 1 − i/T to t_{i+1} with Δt = −1/T &lt; 0.</para>
/// <para>The Flow-GRPO SDE step (same marginals as the ODE dx = v·dt):
/// μ = x_t·(1 + σ_t²·Δt/(2t)) + v_θ(x_t, t, c)·(1 + σ_t²·(1 − t)/(2t))·Δt, x_{t+Δt} = μ + σ_t·√(−Δt)·ε,
/// σ_t = a·√(t / max(1 − t, 1/T)) with noise level a. The clamp keeps σ finite at t = 1, where it would diverge
/// (flow_grpo uses the same 1/T). t = 0 never starts a step, so 1/(2t) stays finite. With a = 0 the SDE step is the Euler
/// ODE step x + v·Δt.</para>
/// </summary>
public static class FlowMath
{
    private static readonly double HalfLog2Pi = 0.5 * Math.Log(2 * Math.PI);

    /// <summary>t_i = 1 − i/T, the time at which step <paramref name="step"/> of <paramref name="steps"/> starts.</summary>
    public static double Time(int step, int steps)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "steps must be >= 1");
        if (step < 0 || step > steps) throw new ArgumentOutOfRangeException(nameof(step), step, $"step must be in [0, {steps}]");
        return 1.0 - (double)step / steps;
    }

    /// <summary>Δt = −1/T of every step.</summary>
    public static double Dt(int steps) => -1.0 / steps;

    /// <summary>σ_t = a·√(t / max(1 − t, 1/T)).</summary>
    public static double Sigma(double t, double noiseLevel, int steps) => noiseLevel * Math.Sqrt(t / Math.Max(1 - t, 1.0 / steps));

    /// <summary>
    /// σ_t·√|Δt| at step <paramref name="step"/>: the standard deviation of that step's noise and TempFlow-GRPO's
    /// noise-aware weight. It decreases along sampling: a·√T·√(1/T) = a at step 0 to a/√(T − 1) at the last step
    /// (0.7 and 0.074 at a = 0.7, T = 10).
    /// </summary>
    public static double NoiseWeight(int step, int steps, double noiseLevel)
    {
        if (step < 0 || step >= steps) throw new ArgumentOutOfRangeException(nameof(step), step, $"step must be in [0, {steps})");
        return Sigma(Time(step, steps), noiseLevel, steps) * Math.Sqrt(1.0 / steps);
    }

    /// <summary>Mean of <see cref="NoiseWeight"/> over the T steps (weights are divided by it when normalised).</summary>
    public static double MeanNoiseWeight(int steps, double noiseLevel) =>
        Enumerable.Range(0, steps).Average(i => NoiseWeight(i, steps, noiseLevel));

    /// <summary>Euler ODE step x + v·Δt.</summary>
    public static Tensor OdeStep(Tensor x, Tensor v, double dt) => x + v * dt;

    /// <summary>The SDE mean μ with per-row <paramref name="t"/>, <paramref name="dt"/>, <paramref name="sigma"/> ([B, 1] or scalars).</summary>
    public static Tensor SdeMean(Tensor x, Tensor v, Tensor t, Tensor dt, Tensor sigma)
    {
        using var scope = NewDisposeScope();
        var s2 = sigma * sigma;
        var mean = x * (1 + s2 * dt / (2 * t)) + v * (1 + s2 * (1 - t) / (2 * t)) * dt;
        return mean.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One SDE step with per-row times: <paramref name="t"/>, <paramref name="dt"/>, <paramref name="sigma"/> are [B, 1].
    /// When <paramref name="xNext"/> is given it is scored (log-prob recomputation for the PPO ratio); otherwise
    /// x_{t+Δt} = μ + σ_t·√(−Δt)·ε with ε drawn from <paramref name="generator"/>.
    /// </summary>
    public static SdeStepResult SdeStep(Tensor x, Tensor v, Tensor t, Tensor dt, Tensor sigma, Generator? generator,
        Tensor? xNext = null, LogProbReduction reduction = LogProbReduction.Sum)
    {
        using var scope = NewDisposeScope();
        var mean = SdeMean(x, v, t, dt, sigma);
        var std = sigma * (-dt).sqrt();
        var next = xNext ?? (mean + std * randn(mean.shape, dtype: mean.dtype, device: mean.device, generator: generator)).detach();
        var logp = GaussianLogProb(next, mean, std, reduction);
        return new SdeStepResult(
            xNext is null ? next.MoveToOuterDisposeScope() : xNext,
            mean.MoveToOuterDisposeScope(), std.MoveToOuterDisposeScope(), logp.MoveToOuterDisposeScope());
    }

    /// <summary>One SDE step of a whole batch at time <paramref name="t"/> of a T-step grid (σ_t from <see cref="Sigma"/>).</summary>
    public static SdeStepResult SdeStep(Tensor x, Tensor v, double t, int steps, double noiseLevel, Generator? generator,
        Tensor? xNext = null, LogProbReduction reduction = LogProbReduction.Sum)
    {
        using var scope = NewDisposeScope();
        var tt = full(x.shape[0], 1, t, dtype: x.dtype, device: x.device);
        var dt = full(x.shape[0], 1, Dt(steps), dtype: x.dtype, device: x.device);
        var sigma = full(x.shape[0], 1, Sigma(t, noiseLevel, steps), dtype: x.dtype, device: x.device);
        var r = SdeStep(x, v, tt, dt, sigma, generator, xNext, reduction);
        return new SdeStepResult(xNext is null ? r.XNext.MoveToOuterDisposeScope() : xNext,
            r.Mean.MoveToOuterDisposeScope(), r.Std.MoveToOuterDisposeScope(), r.LogProb.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// log N(x; μ, std²·I) per row: Σ_d [−(x_d − μ_d)²/(2·std²) − log std − ½·log 2π] (divided by D for
    /// <see cref="LogProbReduction.Mean"/>). <paramref name="std"/> broadcasts against [B, D]. Returns [B].
    /// </summary>
    public static Tensor GaussianLogProb(Tensor x, Tensor mean, Tensor std, LogProbReduction reduction = LogProbReduction.Sum)
    {
        using var scope = NewDisposeScope();
        var z = (x - mean) / std;
        var perDim = -0.5 * z * z - std.log().expand_as(z) - HalfLog2Pi;
        var r = reduction == LogProbReduction.Sum ? perDim.sum(1) : perDim.mean([1L]);
        return r.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// KL between the policy's and the reference's transitions at one step, N(μ_θ, s²·I) ‖ N(μ_ref, s²·I) with
    /// s = σ_t·√|Δt|: ‖μ_θ − μ_ref‖² / (2·σ_t²·|Δt|) per row (divided by D for <see cref="LogProbReduction.Mean"/>). Returns [B].
    /// </summary>
    public static Tensor KlToReference(Tensor mean, Tensor refMean, Tensor std, LogProbReduction reduction = LogProbReduction.Sum)
    {
        using var scope = NewDisposeScope();
        var d = (mean - refMean) / std;
        var perDim = 0.5 * d * d;
        var r = reduction == LogProbReduction.Sum ? perDim.sum(1) : perDim.mean([1L]);
        return r.MoveToOuterDisposeScope();
    }
}
