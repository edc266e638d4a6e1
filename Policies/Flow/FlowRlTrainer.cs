using System.Buffers.Binary;
using System.Text;
using RlActors.Environments;
using RlActors.Policies.Checkpoints;

namespace RlActors.Policies.Flow;

/// <summary>Terminal rewards of final samples <paramref name="finals"/> ([n·D], row-major) of class <paramref name="cls"/>: n values.</summary>
public delegate float[] FlowReward(int cls, float[] finals);

/// <summary>Mean ODE reward of a fixed evaluation set.</summary>
/// <param name="MeanReward">Mean over every evaluated sample.</param>
/// <param name="PerClass">Mean per class.</param>
/// <param name="Samples">Samples evaluated.</param>
public sealed record FlowEvaluation(double MeanReward, double[] PerClass, int Samples);

/// <summary>
/// Flow-GRPO / TempFlow-GRPO as a plain loop: <see cref="Step"/> plans the step's groups, explores them
/// (<see cref="FlowSampler.Explore"/>), scores them with the reward and trains the <see cref="FlowGrpoLearner"/> on them.
/// The actor runtime splits the same step: <see cref="Plan"/> gives the explorer work, explorers return scored groups,
/// <see cref="TrainOn"/> is the learner's part.
/// <para>Randomness is counter-based: group g of step n draws its class, its branch step and its generator seed from
/// <c>SplitMix64.Derive(SplitMix64.Stream(Seed, 1), n·P + g)</c>, and every torch draw of the group comes from a
/// generator seeded with that seed. So no generator state outlives a step, and <see cref="SaveState"/> (weights,
/// reference, Adam, step, nfe) is everything an exact resume needs.</para>
/// </summary>
public sealed class FlowRlTrainer : IDisposable
{
    private const string FingerprintPart = "flow.fingerprint";
    private const string NfePart = "flow.nfe";
    private const ulong PlanStream = 1;

    private readonly FlowReward reward;
    private readonly FlowGrpoLearner learner;

    /// <summary>The trained policy (owned by the trainer).</summary>
    public FlowVelocityModel Policy { get; }
    /// <summary>Hyperparameters.</summary>
    public FlowGrpoOptions Options { get; }
    /// <summary>RL steps completed.</summary>
    public long StepsDone { get; private set; }
    /// <summary>Cumulative model evaluations of training (see <see cref="FlowMetrics.Nfe"/>).</summary>
    public long Nfe { get; private set; }
    /// <summary>The learner (reference, optimizer).</summary>
    public FlowGrpoLearner Learner => learner;

    /// <summary>
    /// Starts from the weights <paramref name="initialWeights"/> (e.g. a pretrained model's <see cref="FlowVelocityModel.SaveWeights"/>)
    /// of an MLP shaped <paramref name="config"/>; the KL reference is that starting model.
    /// </summary>
    public FlowRlTrainer(VelocityFieldConfig config, byte[] initialWeights, FlowGrpoOptions options, FlowReward reward)
        : this(WithWeights(new VelocityField(config, 0), initialWeights), options, reward) { }

    /// <summary>Trains <paramref name="policy"/> (any architecture; the trainer owns and disposes it) as it is now; the KL
    /// reference is a frozen copy of it.</summary>
    public FlowRlTrainer(FlowVelocityModel policy, FlowGrpoOptions options, FlowReward reward)
    {
        options.Validate();
        Options = options;
        this.reward = reward;
        Policy = policy;
        Policy.eval();
        learner = new FlowGrpoLearner(Policy, options);
    }

    private static FlowVelocityModel WithWeights(FlowVelocityModel model, byte[] weights)
    {
        try { model.LoadWeights(weights); }
        catch { model.Dispose(); throw; }
        return model;
    }

    /// <summary>The groups of step <paramref name="step"/>: P specs with their class, branch step (or full SDE), size and seed.
    /// A function of (options, step) only.</summary>
    public IReadOnlyList<FlowGroupSpec> Plan(long step) => Plan(Options, Policy.Classes, step);

    /// <summary>The groups of step <paramref name="step"/> for a policy of <paramref name="classes"/> classes trained with
    /// <paramref name="options"/> (what <see cref="Plan(long)"/> returns, without a trainer: the actor runtime's coordinator plans with it).</summary>
    public static IReadOnlyList<FlowGroupSpec> Plan(FlowGrpoOptions options, int classes, long step)
    {
        int p = options.PromptsPerStep;
        var allowed = options.AllowedBranchSteps();
        double[]? cumulative = null;
        if (options.BranchSampling == BranchSampling.NoiseWeighted)
        {
            cumulative = new double[allowed.Length];
            double acc = 0;
            for (int i = 0; i < allowed.Length; i++)
            {
                acc += Math.Pow(FlowMath.NoiseWeight(allowed[i], options.Sampling.Steps, options.Sampling.NoiseLevel), options.BranchWeightPower);
                cumulative[i] = acc;
            }
        }
        var specs = new FlowGroupSpec[p];
        for (int g = 0; g < p; g++)
        {
            long index = step * p + g;
            var rng = SplitMix64.Derive(SplitMix64.Stream(options.Seed, PlanStream), index);
            int cls = rng.NextInt32(classes);
            ulong seed = rng.NextUInt64();
            int k = FlowGroupSpec.FullSde;
            if (options.Objective.Branches())
            {
                k = options.BranchSampling switch
                {
                    BranchSampling.Cycle => allowed[(int)(index % allowed.Length)],
                    BranchSampling.Uniform => allowed[rng.NextInt32(allowed.Length)],
                    BranchSampling.NoiseWeighted => allowed[Pick(cumulative!, rng.NextDouble())],
                    _ => throw new InvalidOperationException($"unknown branch sampling {options.BranchSampling}"),
                };
            }
            specs[g] = new FlowGroupSpec(cls, k, options.GroupSize, seed, index);
        }
        return specs;
    }

    private static int Pick(double[] cumulative, double u)
    {
        double target = u * cumulative[^1];
        for (int i = 0; i < cumulative.Length; i++) if (target < cumulative[i]) return i;
        return cumulative.Length - 1;
    }

    /// <summary>Explores <paramref name="spec"/> with the current policy and scores it with the reward.</summary>
    public FlowRolloutGroup ExploreAndScore(FlowGroupSpec spec)
    {
        var group = FlowSampler.Explore(Policy, spec, Options.Sampling, StepsDone);
        return group.WithRewards(reward(group.Class, group.Finals));
    }

    /// <summary>One RL step: plan, explore, score, train. Returns the step's metrics (<see cref="FlowMetrics"/>).</summary>
    public Dictionary<string, double> Step()
    {
        var groups = Plan(StepsDone).Select(ExploreAndScore).ToList();
        return TrainOn(groups);
    }

    /// <summary>
    /// The learner's part of a step: trains on scored groups sampled by the current policy, adds their sampling cost to
    /// <see cref="Nfe"/>, and counts the step. Groups are put in <see cref="FlowRolloutGroup.GroupId"/> order first, so the
    /// update does not depend on the order in which explorers answered. Returns the metrics, with the step's reward mean and std.
    /// </summary>
    public Dictionary<string, double> TrainOn(IReadOnlyList<FlowRolloutGroup> groups)
    {
        groups = groups.OrderBy(g => g.GroupId).ToList();
        var update = learner.Update(groups);
        Nfe += groups.Sum(g => g.Nfe) + update.Nfe;
        StepsDone++;
        var rewards = groups.SelectMany(g => g.Rewards).Select(r => (double)r).ToArray();
        double mean = rewards.Average();
        double std = Math.Sqrt(rewards.Average(r => (r - mean) * (r - mean)));
        var metrics = new Dictionary<string, double>(update.Metrics)
        {
            [FlowMetrics.Step] = StepsDone,
            [FlowMetrics.RewardMean] = mean,
            [FlowMetrics.RewardStd] = std,
            [FlowMetrics.Nfe] = Nfe,
        };
        return metrics;
    }

    /// <summary>
    /// Mean reward of deterministic ODE samples (<see cref="FlowGrpoOptions.EvalSteps"/> Euler steps unless
    /// <paramref name="steps"/> is given): <paramref name="perClass"/> samples of every class from initial noise seeded by
    /// <paramref name="seed"/>, the same set at every call. Not counted in <see cref="Nfe"/>.
    /// </summary>
    public FlowEvaluation EvaluateOdeReward(int perClass = 128, ulong seed = 20_261_128, int? steps = null) =>
        Evaluate(Policy, reward, perClass, seed, steps ?? Options.EvalSteps);

    /// <summary>Mean ODE reward of any model (e.g. the pretrained one): see <see cref="EvaluateOdeReward"/>.</summary>
    public static FlowEvaluation Evaluate(FlowVelocityModel model, FlowReward reward, int perClass, ulong seed, int steps)
    {
        if (perClass < 1) throw new ArgumentOutOfRangeException(nameof(perClass), perClass, "perClass must be >= 1");
        int k = model.Classes, d = model.Dim;
        var classes = Enumerable.Range(0, k).SelectMany(c => Enumerable.Repeat(c, perClass)).ToArray();
        var samples = FlowSampler.OdeSamples(model, classes, seed, steps);
        var perClassMean = new double[k];
        for (int c = 0; c < k; c++)
            perClassMean[c] = reward(c, samples.AsSpan(c * perClass * d, perClass * d).ToArray()).Average(r => (double)r);
        return new FlowEvaluation(perClassMean.Average(), perClassMean, classes.Length);
    }

    /// <summary>
    /// Everything an exact resume needs, as a self-checking <see cref="TrainingCheckpoint"/>: policy weights, the reference's,
    /// Adam's state, the step, the nfe, and the options' fingerprint. (Sampling has no generator state to save: see the class summary.)
    /// </summary>
    public byte[] SaveState()
    {
        var nfe = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(nfe, Nfe);
        return new TrainingCheckpoint
        {
            Step = StepsDone,
            PolicyVersion = StepsDone,
            PolicyWeights = Policy.SaveWeights(),
            OptimizerState = learner.SaveOptimizer(),
            ReferenceWeights = learner.Reference?.SaveWeights(),
            Parts = new Dictionary<string, byte[]>
            {
                [FingerprintPart] = Encoding.UTF8.GetBytes(Options.Fingerprint),
                [NfePart] = nfe,
            },
        }.Encode();
    }

    /// <summary>Restores a state saved by <see cref="SaveState"/> of a trainer with the same options.</summary>
    /// <exception cref="InvalidDataException">Corrupt bytes, or a state of other options (both fingerprints named).</exception>
    public void LoadState(byte[] state)
    {
        var ck = TrainingCheckpoint.Decode(state);
        if (!ck.Parts.TryGetValue(FingerprintPart, out var fp) || !ck.Parts.TryGetValue(NfePart, out var nfe) || nfe.Length != 8)
            throw new InvalidDataException("not a flow RL trainer state (no fingerprint or nfe)");
        var saved = Encoding.UTF8.GetString(fp);
        if (saved != Options.Fingerprint)
            throw new InvalidDataException($"the state is of another run: saved [{saved}], this trainer [{Options.Fingerprint}]");
        if ((ck.ReferenceWeights is null) != (learner.Reference is null))
            throw new InvalidDataException("the state's reference model does not match flow.kl-coef");
        Policy.LoadWeights(ck.PolicyWeights);
        learner.LoadOptimizer(ck.OptimizerState);
        if (ck.ReferenceWeights is not null) learner.LoadReference(ck.ReferenceWeights);
        StepsDone = ck.Step;
        Nfe = BinaryPrimitives.ReadInt64LittleEndian(nfe);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        learner.Dispose();
        Policy.Dispose();
    }
}
