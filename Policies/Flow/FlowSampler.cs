using static TorchSharp.torch;

namespace RlActors.Policies.Flow;

/// <summary>How trajectories are sampled for training. Config keys: <c>flow.sampling-steps</c>, <c>flow.noise-level</c>, <c>flow.log-prob</c>.</summary>
public sealed record FlowSamplingOptions
{
    /// <summary>T, sampling steps during training (Flow-GRPO trains with 10 and evaluates with 40).</summary>
    public int Steps { get; init; } = 10;
    /// <summary>a, the SDE noise level (Flow-GRPO: 0.7).</summary>
    public double NoiseLevel { get; init; } = 0.7;
    /// <summary>How log-probabilities are reduced over dimensions.</summary>
    public LogProbReduction LogProb { get; init; } = LogProbReduction.Sum;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid key.</summary>
    public void Validate()
    {
        if (Steps < 2) throw new ArgumentException($"flow.sampling-steps must be >= 2 (got {Steps})");
        if (!(NoiseLevel > 0)) throw new ArgumentException($"flow.noise-level must be > 0 (got {NoiseLevel})");
    }
}

/// <summary>
/// Samplers of a <see cref="FlowVelocityModel"/>: the deterministic Euler ODE (evaluation, and the main path of
/// TempFlow-GRPO) and the explorer that produces a <see cref="FlowRolloutGroup"/>. Everything runs without gradient and
/// draws only from generators seeded by the caller, so an explorer given (class, branch step, seed) returns the same
/// group wherever it runs (same thread count, same build).
/// </summary>
public static class FlowSampler
{
    /// <summary>Integrates the ODE from <paramref name="x1"/> ([B, D], t = 1) to t = 0 in <paramref name="steps"/> Euler steps.
    /// Returns x_0 [B, D]; costs B·steps model evaluations.</summary>
    public static Tensor Ode(FlowVelocityModel model, Tensor x1, Tensor classes, int steps)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "steps must be >= 1");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var x = x1;
        double dt = FlowMath.Dt(steps);
        for (int i = 0; i < steps; i++)
        {
            var t = full(x.shape[0], FlowMath.Time(i, steps), dtype: x.dtype, device: x.device);
            x = FlowMath.OdeStep(x, model.call(x, t, classes), dt);
        }
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>ODE samples as (x0, y0, …) for the given classes, from initial noise drawn with a generator seeded by <paramref name="seed"/>.</summary>
    public static float[] OdeSamples(FlowVelocityModel model, ReadOnlySpan<int> classes, ulong seed, int steps)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        using var gen = new Generator(seed);
        var device = model.Device;
        var x1 = randn([classes.Length, model.Dim], generator: gen).to(device);
        var c = tensor(classes.ToArray().Select(v => (long)v).ToArray(), dtype: int64).to(device);
        return Ode(model, x1, c, steps).cpu().data<float>().ToArray();
    }

    /// <summary>
    /// Samples one group (the explorer's work). The group's generator, seeded by <see cref="FlowGroupSpec.Seed"/>, draws
    /// the initial noise x_1 (one row for a branch group, one per member for a full-SDE group) and then every SDE noise.
    /// <list type="bullet">
    /// <item>Full SDE (Flow-GRPO): every member takes T SDE steps; every transition is recorded. Costs Members·T evaluations.</item>
    /// <item>Branch at k (TempFlow-GRPO): one ODE path to step k; at k one evaluation gives μ, and the K = Members
    /// siblings draw their own noise from it (their x_t is the same tensor row, so their prefix is exactly shared);
    /// each sibling finishes with ODE steps. Only the branch transition is recorded. Costs k + 1 + K·(T − k − 1).</item>
    /// </list>
    /// The result has no rewards yet (<see cref="FlowRolloutGroup.WithRewards"/>).
    /// </summary>
    public static FlowRolloutGroup Explore(FlowVelocityModel model, FlowGroupSpec spec, FlowSamplingOptions options, long policyVersion = 0)
    {
        options.Validate();
        int steps = options.Steps, d = model.Dim, k = spec.BranchStep, members = spec.Members;
        if ((uint)spec.Class >= (uint)model.Classes) throw new ArgumentOutOfRangeException(nameof(spec), spec.Class, $"class must be in [0, {model.Classes})");
        if (members < 1) throw new ArgumentOutOfRangeException(nameof(spec), members, "a group needs at least 1 member");
        if (k != FlowGroupSpec.FullSde && (k < 0 || k >= steps)) throw new ArgumentOutOfRangeException(nameof(spec), k, $"branch step must be in [0, {steps}) or {FlowGroupSpec.FullSde}");

        using var _ = no_grad();
        using var scope = NewDisposeScope();
        using var gen = new Generator(spec.Seed);
        var device = model.Device;
        double dt = FlowMath.Dt(steps), a = options.NoiseLevel;
        bool fullSde = k == FlowGroupSpec.FullSde;
        int trained = fullSde ? steps : 1;
        var trainedSteps = fullSde ? Enumerable.Range(0, steps).ToArray() : [k];
        var states = new float[members * trained * d];
        var next = new float[members * trained * d];
        var logps = new float[members * trained];
        long nfe = 0;

        var x = randn([fullSde ? members : 1, d], generator: gen).to(device);
        Tensor Classes(long rows) => full(rows, (long)spec.Class, dtype: int64, device: device);
        var classesPrefix = Classes(x.shape[0]);
        var classesAll = Classes(members);

        for (int i = 0; i < steps; i++)
        {
            double ti = FlowMath.Time(i, steps);
            bool branched = !fullSde && i > k;
            var c = fullSde || branched ? classesAll : classesPrefix;
            var v = model.call(x, full(x.shape[0], ti, dtype: x.dtype, device: device), c);
            nfe += x.shape[0];
            if (fullSde || i == k)
            {
                var xs = fullSde ? x : x.expand(members, d);
                var vs = fullSde ? v : v.expand(members, d);
                var step = FlowMath.SdeStep(xs, vs, ti, steps, a, gen, reduction: options.LogProb);
                int j = fullSde ? i : 0;
                var xsCpu = xs.cpu().data<float>().ToArray();
                var nextCpu = step.XNext.cpu().data<float>().ToArray();
                var lpCpu = step.LogProb.cpu().data<float>().ToArray();
                for (int m = 0; m < members; m++)
                {
                    Array.Copy(xsCpu, m * d, states, (m * trained + j) * d, d);
                    Array.Copy(nextCpu, m * d, next, (m * trained + j) * d, d);
                    logps[m * trained + j] = lpCpu[m];
                }
                x = step.XNext;
            }
            else x = FlowMath.OdeStep(x, v, dt);
        }

        var times = trainedSteps.Select(i => (float)FlowMath.Time(i, steps)).ToArray();
        var dts = trainedSteps.Select(_ => (float)dt).ToArray();
        var weights = trainedSteps.Select(i => (float)FlowMath.NoiseWeight(i, steps, a)).ToArray();
        var finals = x.cpu().data<float>().ToArray();
        return new FlowRolloutGroup(spec.Class, k, steps, a, d, members, trainedSteps, times, dts, weights,
            states, next, logps, finals, [], spec.Seed, spec.GroupId, policyVersion, nfe);
    }
}
