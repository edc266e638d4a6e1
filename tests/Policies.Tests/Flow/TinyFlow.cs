using RlActors.Environments.Flow2d;
using RlActors.Policies.Flow;

namespace RlActors.Policies.Tests.Flow;

/// <summary>A tiny velocity field pretrained on the 2-D early-decision task, shared by the tests of a class (built once, read only).</summary>
public sealed class TinyFlow
{
    /// <summary>The model's shape: small enough that pretraining takes about a second.</summary>
    public static readonly VelocityFieldConfig Config = new() { Hidden = 32, Layers = 2, TimeFeatures = 8, ClassEmbedding = 8 };

    /// <summary>The 2-D early-decision task with its defaults.</summary>
    public Flow2dTask Task { get; } = new(new Flow2dOptions());

    /// <summary>The pretrained weights.</summary>
    public byte[] Weights { get; }

    /// <summary>Pretrains the model.</summary>
    public TinyFlow() =>
        Weights = FlowEvidence.Pretrain(Task, Config, new FlowPretrainOptions { Steps = 700, BatchSize = 128, LearningRate = 3e-3, Seed = 3 }, initSeed: 1);

    /// <summary>A fresh model with the pretrained weights.</summary>
    public VelocityField Model()
    {
        var m = new VelocityField(Config, 0);
        m.LoadWeights(Weights);
        m.eval();
        return m;
    }

    /// <summary>The task's reward.</summary>
    public FlowReward Reward => FlowEvidence.RewardOf(Task);
}
