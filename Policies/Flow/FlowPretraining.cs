using RlActors.Environments;
using static TorchSharp.torch;

namespace RlActors.Policies.Flow;

/// <summary>Draws one data point per entry of <paramref name="classes"/> as a flat [n·D] array, from <paramref name="rng"/> only.</summary>
public delegate float[] FlowDataSampler(int[] classes, SplitMix64 rng);

/// <summary>Hyperparameters of flow-matching pretraining. Config keys are the kebab-case names under <c>flow.pretrain.</c>.</summary>
public sealed record FlowPretrainOptions
{
    /// <summary>Optimizer steps.</summary>
    public int Steps { get; init; } = 3000;
    /// <summary>Data points per step.</summary>
    public int BatchSize { get; init; } = 256;
    /// <summary>Peak Adam learning rate (cosine decay to 10% over <see cref="Steps"/>).</summary>
    public double LearningRate { get; init; } = 2e-3;
    /// <summary>Seed of the classes, data, times and noise of every batch.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid key.</summary>
    public void Validate()
    {
        if (Steps < 1) throw new ArgumentException($"flow.pretrain.steps must be >= 1 (got {Steps})");
        if (BatchSize < 1) throw new ArgumentException($"flow.pretrain.batch-size must be >= 1 (got {BatchSize})");
        if (!(LearningRate > 0)) throw new ArgumentException($"flow.pretrain.learning-rate must be > 0 (got {LearningRate})");
    }
}

/// <summary>
/// Conditional flow matching (rectified flow): for data x_0 of class c, t ~ U(0, 1) and ε ~ N(0, I),
/// x_t = (1 − t)·x_0 + t·ε and the loss is ‖v_θ(x_t, t, c) − (ε − x_0)‖² averaged over the batch and dimensions.
/// Classes are drawn uniformly. Batch b's classes and data come from <c>SplitMix64.Derive(Seed, b)</c>, its t and ε from
/// a torch generator seeded by the same stream, so a run is a function of its options.
/// </summary>
public static class FlowPretraining
{
    /// <summary>Trains <paramref name="model"/> in place. Returns the loss of every step.</summary>
    public static double[] Train(FlowVelocityModel model, FlowDataSampler data, FlowPretrainOptions options, Action<int, double>? progress = null)
    {
        options.Validate();
        var device = model.Device;
        int d = model.Dim, b = options.BatchSize;
        var losses = new double[options.Steps];
        using var opt = optim.Adam(model.parameters(), options.LearningRate);
        model.train();
        for (int step = 0; step < options.Steps; step++)
        {
            using var scope = NewDisposeScope();
            var rng = SplitMix64.Derive(options.Seed, step);
            var classes = new int[b];
            for (int i = 0; i < b; i++) classes[i] = rng.NextInt32(model.Classes);
            var x0Data = data(classes, rng);
            if (x0Data.Length != b * d) throw new ArgumentException($"the data sampler returned {x0Data.Length} values for {b} points of dimension {d}");
            using var gen = new Generator(rng.NextUInt64());
            var x0 = tensor(x0Data, [b, d]).to(device);
            var t = rand([b, 1], generator: gen).to(device);
            var eps = randn([b, d], generator: gen).to(device);
            var xt = (1 - t) * x0 + t * eps;
            var c = tensor(classes.Select(v => (long)v).ToArray()).to(device);
            var loss = (model.call(xt, t, c) - (eps - x0)).pow(2).mean();
            double lr = options.LearningRate * (0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * step / options.Steps)));
            foreach (var g in opt.ParamGroups) g.LearningRate = lr;
            opt.zero_grad();
            loss.backward();
            opt.step();
            losses[step] = loss.item<float>();
            progress?.Invoke(step, losses[step]);
        }
        model.eval();
        return losses;
    }
}
