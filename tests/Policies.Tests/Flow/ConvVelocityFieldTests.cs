using RlActors.Environments;
using RlActors.Policies.Flow;
using static TorchSharp.torch;

namespace RlActors.Policies.Tests.Flow;

/// <summary>The image velocity field plugs into pretraining, the explorer, the learner and the trainer like the MLP.</summary>
public class ConvVelocityFieldTests
{
    private static readonly ConvVelocityFieldConfig Tiny = new() { Side = 6, Channels = 1, Classes = 3, Width = 8, TimeFeatures = 8, ClassEmbedding = 4 };

    /// <summary>Class c is a bright 2×2 square at column 2c of an otherwise dark 6×6 image, plus a little noise.</summary>
    private static float[] Squares(int[] classes, SplitMix64 rng)
    {
        var x = new float[classes.Length * 36];
        for (int i = 0; i < classes.Length; i++)
            for (int p = 0; p < 36; p++)
            {
                int row = p / 6, col = p % 6;
                bool on = row is 2 or 3 && col / 2 == classes[i];
                x[i * 36 + p] = (on ? 1f : -1f) + 0.05f * (float)Environments.Flow2d.Flow2dTask.Gaussian2(rng).Item1;
            }
        return x;
    }

    [Fact]
    public void It_maps_flat_images_to_velocities_of_the_same_shape_and_saves_and_loads()
    {
        using var a = new ConvVelocityField(Tiny, 5);
        using var b = new ConvVelocityField(Tiny, 5);
        using var c = new ConvVelocityField(Tiny, 6);
        using var scope = NewDisposeScope();
        using var gen = new Generator(1);
        var x = randn([4, 36], generator: gen);
        var t = rand([4], generator: gen);
        var cls = tensor(new long[] { 0, 1, 2, 0 });

        var va = a.call(x, t, cls);
        Assert.Equal([4L, 36], va.shape);
        Assert.Equal(va.data<float>().ToArray(), b.call(x, t, cls).data<float>().ToArray());
        Assert.NotEqual(va.data<float>().ToArray(), c.call(x, t, cls).data<float>().ToArray());

        c.LoadWeights(a.SaveWeights());
        Assert.Equal(va.data<float>().ToArray(), c.call(x, t, cls).data<float>().ToArray());
        using var frozen = a.FrozenCopy();
        Assert.All(frozen.parameters(), p => Assert.False(p.requires_grad));
        using var mlp = new VelocityField(new VelocityFieldConfig(), 1);
        Assert.Throws<InvalidDataException>(() => mlp.LoadWeights(a.SaveWeights()));
    }

    [Fact]
    public void Flow_matching_pretraining_lowers_its_loss_and_rl_steps_run_on_it()
    {
        var model = new ConvVelocityField(Tiny, 1);
        var losses = FlowPretraining.Train(model, Squares, new FlowPretrainOptions { Steps = 60, BatchSize = 16, LearningRate = 1e-2, Seed = 2 });
        Assert.True(losses.TakeLast(10).Average() < 0.85 * losses.Take(10).Average(), $"loss {losses.Take(10).Average():F3} -> {losses.TakeLast(10).Average():F3}");

        // Reward: how bright the class's square is (mean of its 4 pixels).
        FlowReward reward = (cls, finals) => Enumerable.Range(0, finals.Length / 36)
            .Select(i => new[] { 12, 13, 18, 19 }.Average(p => finals[i * 36 + p + 2 * cls])).Select(v => (float)v).ToArray();
        var options = new FlowGrpoOptions
        {
            PromptsPerStep = 2, GroupSize = 3,
            Sampling = new FlowSamplingOptions { LogProb = LogProbReduction.Mean },
        };
        using var trainer = new FlowRlTrainer(model, options, reward);
        var group = FlowSampler.Explore(trainer.Policy, new FlowGroupSpec(1, 3, 3, 9), options.Sampling);
        var recomputed = FlowGrpoLearner.LogProbs(trainer.Policy, group, LogProbReduction.Mean);
        for (int i = 0; i < recomputed.Length; i++) Assert.Equal(group.OldLogProbs[i], recomputed[i], 3);

        var m = trainer.Step();
        Assert.Equal(1, m[FlowMetrics.Step]);
        Assert.True(double.IsFinite(m[FlowMetrics.Loss]));
        Assert.True(double.IsFinite(trainer.EvaluateOdeReward(perClass: 4, steps: 5).MeanReward));
    }
}
