using RlActors.Policies.Flow;
using static TorchSharp.torch;

namespace RlActors.Policies.Tests.Flow;

/// <summary>The SDE step, its log-probability, the KL and the noise weights, against the formulas computed by hand.</summary>
public class FlowMathTests
{
    private const int T = 10;
    private const double A = 0.7;

    /// <summary>μ of the Flow-GRPO SDE step, in double, straight from the formula.</summary>
    private static double Mu(double x, double v, double t, double dt, double sigma) =>
        x * (1 + sigma * sigma * dt / (2 * t)) + v * (1 + sigma * sigma * (1 - t) / (2 * t)) * dt;

    [Fact]
    public void Sde_step_mean_and_variance_match_the_formula_on_fixed_inputs()
    {
        const int n = 40_000;
        double[] x0 = [0.5, -1.0], v0 = [2.0, 0.3];
        double t = FlowMath.Time(4, T), dt = FlowMath.Dt(T), sigma = A * Math.Sqrt(t / (1 - t));
        double std = sigma * Math.Sqrt(-dt);

        using var scope = NewDisposeScope();
        using var gen = new Generator(11);
        var x = tensor(x0.Select(v => (float)v).ToArray()).reshape(1, 2).expand(n, 2);
        var v = tensor(v0.Select(v => (float)v).ToArray()).reshape(1, 2).expand(n, 2);
        var step = FlowMath.SdeStep(x, v, t, T, A, gen);

        var mean = step.Mean.data<float>().ToArray();
        var stds = step.Std.data<float>().ToArray();
        var samples = step.XNext.data<float>().ToArray();
        for (int d = 0; d < 2; d++)
        {
            double expected = Mu(x0[d], v0[d], t, dt, sigma);
            Assert.Equal(expected, mean[d], 5);
            double m = 0, ss = 0;
            for (int i = 0; i < n; i++) m += samples[2 * i + d];
            m /= n;
            for (int i = 0; i < n; i++) ss += (samples[2 * i + d] - m) * (samples[2 * i + d] - m);
            double var = ss / (n - 1);
            Assert.InRange(m, expected - 5 * std / Math.Sqrt(n), expected + 5 * std / Math.Sqrt(n));
            // The sample variance of n normals has relative std √(2/n) ≈ 0.7%: 4% is > 5 of those.
            Assert.InRange(var, std * std * 0.96, std * std * 1.04);
        }
        Assert.Equal(std, stds[0], 6);
    }

    [Fact]
    public void Sigma_is_clamped_at_t_1_so_the_first_step_has_finite_noise()
    {
        Assert.Equal(A * Math.Sqrt(T), FlowMath.Sigma(1.0, A, T), 12); // denominator max(1 − t, 1/T) = 1/T
        Assert.Equal(A * Math.Sqrt(0.5 / 0.5), FlowMath.Sigma(0.5, A, T), 12);

        using var scope = NewDisposeScope();
        using var gen = new Generator(3);
        var x = randn([4, 2], generator: gen);
        var step = FlowMath.SdeStep(x, randn([4, 2], generator: gen), 1.0, T, A, gen);
        Assert.All(step.XNext.data<float>().ToArray(), v => Assert.True(float.IsFinite(v)));
        Assert.All(step.LogProb.data<float>().ToArray(), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void Log_prob_matches_a_direct_gaussian_density()
    {
        using var scope = NewDisposeScope();
        float[] xNext = [0.3f, -0.2f, 1.5f, 0.9f], mu = [0.1f, 0.0f, 1.0f, 1.0f];
        double t = 0.3, sigma = FlowMath.Sigma(t, A, T), std = sigma * Math.Sqrt(1.0 / T);
        var x = tensor(xNext).reshape(2, 2);
        var m = tensor(mu).reshape(2, 2);
        var s = full(2, 1, std, dtype: ScalarType.Float32);

        var sum = FlowMath.GaussianLogProb(x, m, s).data<float>().ToArray();
        var mean = FlowMath.GaussianLogProb(x, m, s, LogProbReduction.Mean).data<float>().ToArray();
        for (int row = 0; row < 2; row++)
        {
            double density = 1;
            for (int d = 0; d < 2; d++)
            {
                double z = (xNext[2 * row + d] - mu[2 * row + d]) / std;
                density *= Math.Exp(-0.5 * z * z) / (std * Math.Sqrt(2 * Math.PI));
            }
            Assert.Equal(Math.Log(density), sum[row], 3);
            Assert.Equal(Math.Log(density) / 2, mean[row], 3);
        }
    }

    [Fact]
    public void The_sde_step_scores_a_given_sample_with_the_density_of_its_own_mean_and_std()
    {
        using var scope = NewDisposeScope();
        using var gen = new Generator(5);
        var x = randn([3, 2], generator: gen);
        var v = randn([3, 2], generator: gen);
        var given = randn([3, 2], generator: gen);
        var step = FlowMath.SdeStep(x, v, 0.7, T, A, null, given);

        Assert.Same(given, step.XNext);
        var direct = FlowMath.GaussianLogProb(given, step.Mean, step.Std).data<float>().ToArray();
        Assert.Equal(direct, step.LogProb.data<float>().ToArray());
    }

    [Fact]
    public void With_vanishing_noise_the_sde_step_is_the_euler_ode_step()
    {
        using var scope = NewDisposeScope();
        using var gen = new Generator(9);
        var x = randn([16, 2], generator: gen);
        var v = randn([16, 2], generator: gen);
        foreach (double t in new[] { 1.0, 0.6, 0.1 })
        {
            var sde = FlowMath.SdeStep(x, v, t, T, 1e-7, gen).XNext.data<float>().ToArray();
            var ode = FlowMath.OdeStep(x, v, FlowMath.Dt(T)).data<float>().ToArray();
            for (int i = 0; i < ode.Length; i++) Assert.Equal(ode[i], sde[i], 5);
        }
    }

    [Fact]
    public void Noise_weights_decrease_toward_the_end_of_sampling()
    {
        var w = Enumerable.Range(0, T).Select(i => FlowMath.NoiseWeight(i, T, A)).ToArray();
        for (int i = 1; i < T; i++) Assert.True(w[i] < w[i - 1], $"weight {i} ({w[i]}) is not below weight {i - 1} ({w[i - 1]})");
        Assert.Equal(A, w[0], 9);                  // a·√T·√(1/T)
        Assert.Equal(0.0738, w[^1], 4);            // the last-step noise std 0.074
        Assert.Equal(w.Average(), FlowMath.MeanNoiseWeight(T, A), 12);
    }

    [Fact]
    public void Kl_to_the_reference_is_the_kl_of_two_gaussians_with_the_same_variance()
    {
        using var scope = NewDisposeScope();
        var mu = tensor(new float[] { 0.2f, -0.1f, 0f, 0f }).reshape(2, 2);
        var muRef = tensor(new float[] { 0.0f, 0.1f, 0f, 0f }).reshape(2, 2);
        double std = FlowMath.NoiseWeight(3, T, A);
        var kl = FlowMath.KlToReference(mu, muRef, full(2, 1, std, dtype: ScalarType.Float32)).data<float>().ToArray();
        Assert.Equal((0.04 + 0.04) / (2 * std * std), kl[0], 4);
        Assert.Equal(0, kl[1]);
    }
}
