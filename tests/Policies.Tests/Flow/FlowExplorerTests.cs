using RlActors.Policies.Flow;
using static TorchSharp.torch;

namespace RlActors.Policies.Tests.Flow;

/// <summary>What an explorer returns: sibling groups that share their ODE prefix and differ after the branch, full-SDE chains, costs.</summary>
public class FlowExplorerTests(TinyFlow flow) : IClassFixture<TinyFlow>
{
    private static readonly FlowSamplingOptions Sampling = new();

    /// <summary>The deterministic Euler path of <paramref name="model"/> from <paramref name="x"/> over steps [from, to).</summary>
    private static float[] OdeFrom(VelocityField model, float[] x, int cls, int from, int to)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        int rows = x.Length / 2;
        var xt = tensor(x, [rows, 2]);
        var c = full(rows, (long)cls, dtype: int64);
        for (int i = from; i < to; i++)
            xt = FlowMath.OdeStep(xt, model.call(xt, full(rows, FlowMath.Time(i, Sampling.Steps), dtype: ScalarType.Float32), c), FlowMath.Dt(Sampling.Steps));
        return xt.data<float>().ToArray();
    }

    [Fact]
    public void Siblings_share_their_ode_prefix_exactly_and_differ_after_the_branch_step()
    {
        using var model = flow.Model();
        const int k = 4, siblings = 6;
        var group = FlowSampler.Explore(model, new FlowGroupSpec(2, k, siblings, 77), Sampling);

        Assert.Equal([k], group.TrainedSteps);
        // The prefix: every sibling's x_t at the branch point is the same, and it is the ODE path from the group's x_1.
        float[] x1;
        using (var gen = new Generator(77)) using (var r = randn([1, 2], generator: gen)) x1 = r.data<float>().ToArray();
        var prefix = OdeFrom(model, x1, 2, 0, k);
        for (int m = 0; m < siblings; m++) Assert.Equal(prefix, group.States.AsSpan(m * 2, 2).ToArray());

        // After the branch: every sibling has its own x_{t+Δt} and final sample.
        var nexts = Enumerable.Range(0, siblings).Select(m => (group.Next[2 * m], group.Next[2 * m + 1])).ToArray();
        var finals = Enumerable.Range(0, siblings).Select(m => (group.Finals[2 * m], group.Finals[2 * m + 1])).ToArray();
        Assert.Equal(siblings, nexts.Distinct().Count());
        Assert.Equal(siblings, finals.Distinct().Count());

        // And each branch is finished by the ODE.
        for (int m = 0; m < siblings; m++)
        {
            var finished = OdeFrom(model, group.Next.AsSpan(2 * m, 2).ToArray(), 2, k + 1, Sampling.Steps);
            Assert.Equal(finished[0], group.Finals[2 * m], 5);
            Assert.Equal(finished[1], group.Finals[2 * m + 1], 5);
        }
        Assert.Equal(k + 1 + siblings * (Sampling.Steps - k - 1), group.Nfe);
        Assert.Equal((float)FlowMath.NoiseWeight(k, Sampling.Steps, Sampling.NoiseLevel), group.NoiseWeights[0]);
    }

    [Fact]
    public void A_full_sde_group_records_every_step_of_each_rollout_as_one_chain()
    {
        using var model = flow.Model();
        var group = FlowSampler.Explore(model, new FlowGroupSpec(1, FlowGroupSpec.FullSde, 3, 5), Sampling);
        int steps = Sampling.Steps;

        Assert.Equal(Enumerable.Range(0, steps), group.TrainedSteps);
        for (int m = 0; m < 3; m++)
        {
            for (int j = 0; j + 1 < steps; j++)
                Assert.Equal(group.Next.AsSpan((m * steps + j) * 2, 2).ToArray(), group.States.AsSpan((m * steps + j + 1) * 2, 2).ToArray());
            Assert.Equal(group.Next.AsSpan((m * steps + steps - 1) * 2, 2).ToArray(), group.Final(m).ToArray());
        }
        Assert.Equal(3 * steps, group.Nfe);
        for (int j = 1; j < steps; j++) Assert.True(group.NoiseWeights[j] < group.NoiseWeights[j - 1]);
    }

    [Fact]
    public void An_explorer_is_a_function_of_its_spec()
    {
        using var model = flow.Model();
        var a = FlowSampler.Explore(model, new FlowGroupSpec(0, 2, 4, 123), Sampling);
        var b = FlowSampler.Explore(model, new FlowGroupSpec(0, 2, 4, 123), Sampling);
        var c = FlowSampler.Explore(model, new FlowGroupSpec(0, 2, 4, 124), Sampling);

        Assert.Equal(a.Finals, b.Finals);
        Assert.Equal(a.OldLogProbs, b.OldLogProbs);
        Assert.NotEqual(a.Finals, c.Finals);
    }

    [Fact]
    public void Log_probs_recomputed_under_the_sampling_model_equal_the_recorded_ones()
    {
        using var model = flow.Model();
        foreach (var spec in new[] { new FlowGroupSpec(3, FlowGroupSpec.FullSde, 4, 8), new FlowGroupSpec(3, 0, 4, 9), new FlowGroupSpec(3, 9, 4, 10) })
        {
            var group = FlowSampler.Explore(model, spec, Sampling);
            var recomputed = FlowGrpoLearner.LogProbs(model, group);
            Assert.Equal(group.OldLogProbs.Length, recomputed.Length);
            for (int i = 0; i < recomputed.Length; i++) Assert.Equal(group.OldLogProbs[i], recomputed[i], 3);
        }
    }

    [Fact]
    public void A_group_with_arrays_of_the_wrong_size_is_refused_with_its_id()
    {
        using var model = flow.Model();
        var group = FlowSampler.Explore(model, new FlowGroupSpec(0, 1, 3, 1, GroupId: 42), Sampling).WithRewards([0f, 1f, 0f]);
        var broken = group with { OldLogProbs = [0f] };
        var e = Assert.Throws<ArgumentException>(() => broken.Validate());
        Assert.Contains("42", e.Message);
        Assert.Throws<ArgumentException>(() => group.WithRewards([1f]));
        Assert.Throws<ArgumentOutOfRangeException>(() => FlowSampler.Explore(model, new FlowGroupSpec(0, Sampling.Steps, 3, 1), Sampling));
    }
}
