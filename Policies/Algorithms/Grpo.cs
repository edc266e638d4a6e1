using RlActors.Policies.Grpo;
using RlActors.Policies.Lm;
using static TorchSharp.torch;

namespace RlActors.Policies.Algorithms;

/// <summary>
/// GRPO as an <see cref="ILmAlgorithm"/>: group-relative advantages (<see cref="GroupBatch.Build"/>) and the clipped
/// update of <see cref="GrpoLearner"/>, unchanged. State: <c>optimizer</c> (Adam) and, with a KL penalty,
/// <c>reference</c> (the frozen starting policy).
/// </summary>
public sealed class GrpoAlgorithm : ILmAlgorithm
{
    /// <summary>State entry holding Adam's moments.</summary>
    public const string OptimizerEntry = "optimizer";
    /// <summary>State entry holding the frozen reference weights (only when <see cref="GrpoOptions.KlCoef"/> &gt; 0).</summary>
    public const string ReferenceEntry = "reference";

    private readonly LmAlgorithmContext context;

    /// <summary>The wrapped learner.</summary>
    public GrpoLearner Learner { get; }
    /// <summary>Hyperparameters.</summary>
    public GrpoOptions Options { get; }

    /// <summary>GRPO on <paramref name="context"/>'s policy; the reference (if any) is a copy of the policy as it is now.</summary>
    public GrpoAlgorithm(LmAlgorithmContext context, GrpoOptions options)
    {
        this.context = context;
        Options = options;
        Learner = new GrpoLearner(context.Policy, options, context.PadId);
    }

    /// <inheritdoc />
    public string Name => "grpo";
    /// <inheritdoc />
    public ICausalLm Policy => context.Policy;

    /// <inheritdoc />
    public Dictionary<string, double> Train(IReadOnlyList<ScoredGroup> groups)
    {
        var (batch, adv) = GroupBatch.Build(groups, Options, context.EosId, context.PadId);
        var metrics = Learner.Update(batch);
        metrics[GrpoMetrics.ZeroStdGroups] = adv.ZeroStdGroups;
        return metrics;
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, byte[]> SaveState()
    {
        var state = new Dictionary<string, byte[]> { [OptimizerEntry] = Learner.SaveOptimizer() };
        if (Learner.Reference is { } reference) state[ReferenceEntry] = reference.SaveWeights();
        return state;
    }

    /// <inheritdoc />
    public void LoadState(IReadOnlyDictionary<string, byte[]> state)
    {
        LmAlgorithms.RequireEntries(Name, state, Learner.Reference is null ? [OptimizerEntry] : [OptimizerEntry, ReferenceEntry]);
        Learner.LoadOptimizer(state[OptimizerEntry]);
        if (Learner.Reference is not null) Learner.LoadReference(state[ReferenceEntry]);
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Tensor> ExportTensors() => new Dictionary<string, Tensor>();

    /// <inheritdoc />
    public void Dispose() => Learner.Dispose();
}
