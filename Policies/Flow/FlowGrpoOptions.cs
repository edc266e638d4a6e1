using System.Globalization;

namespace RlActors.Policies.Flow;

/// <summary>Which RL objective trains the flow policy: how rollouts are drawn and how each transition's loss is weighted.</summary>
public enum FlowObjective
{
    /// <summary>Flow-GRPO: G full SDE rollouts per prompt, all T transitions trained with the rollout's group advantage, uniform weights.</summary>
    FlowGrpo,
    /// <summary>TempFlow-GRPO: ODE main path, K SDE siblings at one branch step, each finished by ODE; the siblings' normalised
    /// rewards are the process reward of that one SDE transition; the loss is weighted by σ_t·√|Δt|.</summary>
    TempFlow,
    /// <summary>Ablation: TempFlow's branching with uniform weights.</summary>
    BranchOnly,
    /// <summary>Ablation: Flow-GRPO's full SDE rollouts with TempFlow's noise-aware weights.</summary>
    WeightOnly,
}

/// <summary>How the branch step of each TempFlow group is chosen (among <see cref="FlowGrpoOptions.BranchSteps"/>).</summary>
public enum BranchSampling
{
    /// <summary>Groups take the allowed steps in turn (group g of step n takes entry (n·P + g) mod count): with all steps allowed,
    /// every step is branched equally often ("every step"); with a list, a fixed schedule.</summary>
    Cycle,
    /// <summary>Each group draws its branch step uniformly from the allowed steps (a seeded random subset per iteration).</summary>
    Uniform,
    /// <summary>Each group draws step k with probability ∝ (σ_{t_k}·√|Δt|)^p, p = <see cref="FlowGrpoOptions.BranchWeightPower"/>: favours the early, noisy steps.</summary>
    NoiseWeighted,
}

/// <summary>Extension methods describing an objective.</summary>
public static class FlowObjectiveExtensions
{
    /// <summary>True when rollouts are sibling groups branching at one step (TempFlow, BranchOnly).</summary>
    public static bool Branches(this FlowObjective o) => o is FlowObjective.TempFlow or FlowObjective.BranchOnly;

    /// <summary>True when each transition's loss is weighted by σ_t·√|Δt| (TempFlow, WeightOnly).</summary>
    public static bool WeightsByNoise(this FlowObjective o) => o is FlowObjective.TempFlow or FlowObjective.WeightOnly;

    /// <summary>The config spelling: flow-grpo, tempflow, branch-only, weight-only.</summary>
    public static string ConfigName(this FlowObjective o) => o switch
    {
        FlowObjective.FlowGrpo => "flow-grpo",
        FlowObjective.TempFlow => "tempflow",
        FlowObjective.BranchOnly => "branch-only",
        FlowObjective.WeightOnly => "weight-only",
        _ => throw new ArgumentOutOfRangeException(nameof(o)),
    };

    /// <summary>Parses a config spelling (<see cref="ConfigName"/>, case-insensitive); throws naming the accepted values.</summary>
    public static FlowObjective ParseObjective(string name)
    {
        foreach (var o in Enum.GetValues<FlowObjective>())
            if (string.Equals(o.ConfigName(), name, StringComparison.OrdinalIgnoreCase)) return o;
        throw new ArgumentException($"flow.objective must be one of flow-grpo, tempflow, branch-only, weight-only (got '{name}')");
    }
}

/// <summary>
/// Every hyperparameter of Flow-GRPO / TempFlow-GRPO training, with its default. Config keys are the kebab-case names
/// under <c>flow.</c>. Defaults follow the issue's 2-D calibration (10 steps, a = 0.7, 10 prompts × 8 rollouts, lr 2e-4).
/// </summary>
public sealed record FlowGrpoOptions
{
    /// <summary>The objective.</summary>
    public FlowObjective Objective { get; init; } = FlowObjective.TempFlow;
    /// <summary>Sampling grid, noise level and log-prob reduction of training rollouts.</summary>
    public FlowSamplingOptions Sampling { get; init; } = new();
    /// <summary>Euler steps of the ODE evaluation (Flow-GRPO evaluates with 40).</summary>
    public int EvalSteps { get; init; } = 40;
    /// <summary>Prompts (groups) per RL step, P.</summary>
    public int PromptsPerStep { get; init; } = 10;
    /// <summary>Trajectories per group: G rollouts (Flow-GRPO) or K siblings (TempFlow). Rollouts per step = P·G for every objective.</summary>
    public int GroupSize { get; init; } = 8;
    /// <summary>How branch steps are chosen (branching objectives only).</summary>
    public BranchSampling BranchSampling { get; init; } = BranchSampling.Uniform;
    /// <summary>Steps allowed as branch points (each in [0, T)); null allows every step.</summary>
    public int[]? BranchSteps { get; init; }
    /// <summary>Exponent p of <see cref="BranchSampling.NoiseWeighted"/>.</summary>
    public double BranchWeightPower { get; init; } = 1.0;
    /// <summary>Adam learning rate.</summary>
    public double LearningRate { get; init; } = 2e-4;
    /// <summary>Adam β1.</summary>
    public double AdamBeta1 { get; init; } = 0.9;
    /// <summary>Adam β2.</summary>
    public double AdamBeta2 { get; init; } = 0.999;
    /// <summary>Adam ε.</summary>
    public double AdamEps { get; init; } = 1e-8;
    /// <summary>PPO clip range ε: per-transition ratios are clipped to [1 − ε, 1 + ε].</summary>
    public double ClipRange { get; init; } = 0.2;
    /// <summary>β, the weight of the KL to the frozen reference (the policy as training began). 0 keeps no reference.</summary>
    public double KlCoef { get; init; } = 0.0;
    /// <summary>Clip the global gradient norm to this value; 0 or less disables clipping.</summary>
    public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>Advantages are clipped to ±this value (Flow-GRPO: 5).</summary>
    public double AdvantageClip { get; init; } = 5.0;
    /// <summary>
    /// Floor of the group's reward standard deviation in A = (r − mean)/(max(std, floor) + StdEpsilon). Once a mode is
    /// settled most sibling groups have std &lt; 1e-3, and without a floor their noise becomes full-size advantages
    /// (reward then falls late in training); 0.05 fixed it in the calibration.
    /// </summary>
    public double StdFloor { get; init; } = 0.05;
    /// <summary>Added to the (floored) standard deviation; 1e-4 as in flow_grpo.</summary>
    public double StdEpsilon { get; init; } = 1e-4;
    /// <summary>Divide noise weights by their mean over the T steps, so a weighted loss has the scale of an unweighted one.</summary>
    public bool NormalizeNoiseWeights { get; init; } = true;
    /// <summary>Passes over each step's transitions.</summary>
    public int UpdateEpochs { get; init; } = 1;
    /// <summary>Optimizer steps per epoch: the transitions (group after group) are split in this many contiguous parts. With
    /// 1 epoch and 1 minibatch every ratio is exactly 1 and the clip never acts.</summary>
    public int MiniBatches { get; init; } = 2;
    /// <summary>Master seed: prompts, group seeds and branch steps of step n are derived from (Seed, n) alone.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid key.</summary>
    public void Validate()
    {
        Sampling.Validate();
        if (!Enum.IsDefined(Objective)) throw new ArgumentException($"flow.objective is not a known objective ({(int)Objective})");
        if (EvalSteps < 1) throw new ArgumentException($"flow.eval-steps must be >= 1 (got {EvalSteps})");
        if (PromptsPerStep < 1) throw new ArgumentException($"flow.prompts-per-step must be >= 1 (got {PromptsPerStep})");
        if (GroupSize < 2) throw new ArgumentException($"flow.group-size must be >= 2 (got {GroupSize})");
        if (!Enum.IsDefined(BranchSampling)) throw new ArgumentException($"flow.branch-sampling is not a known schedule ({(int)BranchSampling})");
        if (BranchSteps is not null)
        {
            if (BranchSteps.Length == 0) throw new ArgumentException("flow.branch-steps must not be empty (omit it to allow every step)");
            foreach (var k in BranchSteps)
                if (k < 0 || k >= Sampling.Steps) throw new ArgumentException($"flow.branch-steps entries must be in [0, {Sampling.Steps}) (got {k})");
        }
        if (!(BranchWeightPower >= 0)) throw new ArgumentException($"flow.branch-weight-power must be >= 0 (got {BranchWeightPower})");
        if (!(LearningRate > 0)) throw new ArgumentException($"flow.learning-rate must be > 0 (got {LearningRate})");
        if (!(ClipRange > 0 && ClipRange < 1)) throw new ArgumentException($"flow.clip-range must be in (0, 1) (got {ClipRange})");
        if (!(KlCoef >= 0)) throw new ArgumentException($"flow.kl-coef must be >= 0 (got {KlCoef})");
        if (!(AdvantageClip > 0)) throw new ArgumentException($"flow.advantage-clip must be > 0 (got {AdvantageClip})");
        if (!(StdFloor >= 0)) throw new ArgumentException($"flow.std-floor must be >= 0 (got {StdFloor})");
        if (!(StdEpsilon >= 0)) throw new ArgumentException($"flow.std-epsilon must be >= 0 (got {StdEpsilon})");
        if (StdFloor + StdEpsilon <= 0) throw new ArgumentException("flow.std-floor and flow.std-epsilon must not both be 0 (equal rewards would divide by 0)");
        if (UpdateEpochs < 1) throw new ArgumentException($"flow.update-epochs must be >= 1 (got {UpdateEpochs})");
        if (MiniBatches < 1) throw new ArgumentException($"flow.mini-batches must be >= 1 (got {MiniBatches})");
    }

    /// <summary>The steps a branch may take: <see cref="BranchSteps"/>, or 0 … T−1.</summary>
    public int[] AllowedBranchSteps() => BranchSteps ?? Enumerable.Range(0, Sampling.Steps).ToArray();

    /// <summary>The options that decide a run's numbers, as text: a saved state only loads into a trainer with the same fingerprint.</summary>
    public string Fingerprint => string.Join(';', new[]
    {
        $"objective={Objective.ConfigName()}", $"steps={Sampling.Steps}", $"noise={D(Sampling.NoiseLevel)}", $"logprob={Sampling.LogProb}",
        $"prompts={PromptsPerStep}", $"group={GroupSize}", $"branch={BranchSampling}", $"branch-steps={(BranchSteps is null ? "all" : string.Join(',', BranchSteps))}",
        $"branch-power={D(BranchWeightPower)}", $"lr={D(LearningRate)}", $"clip={D(ClipRange)}", $"kl={D(KlCoef)}", $"grad={D(MaxGradNorm)}",
        $"adv-clip={D(AdvantageClip)}", $"std-floor={D(StdFloor)}", $"std-eps={D(StdEpsilon)}", $"norm-weights={NormalizeNoiseWeights}",
        $"epochs={UpdateEpochs}", $"mini-batches={MiniBatches}", $"seed={Seed}",
    });

    private static string D(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}

/// <summary>Fixed metric names of flow RL steps (metrics.jsonl keys).</summary>
public static class FlowMetrics
{
    /// <summary>RL steps completed, this one included.</summary>
    public const string Step = "step";
    /// <summary>Mean terminal reward of the step's trajectories (SDE rollouts for Flow-GRPO, ODE-finished siblings for TempFlow).</summary>
    public const string RewardMean = "reward_mean";
    /// <summary>Standard deviation (population) of the step's terminal rewards.</summary>
    public const string RewardStd = "reward_std";
    /// <summary>Cumulative model evaluations (one per sample row per forward): sampling, training forwards and, when β &gt; 0,
    /// the reference's. Evaluation runs are not counted.</summary>
    public const string Nfe = "nfe";
    /// <summary>The optimised loss, averaged over the minibatches of the last epoch.</summary>
    public const string Loss = "loss";
    /// <summary>Fraction of trained transitions whose ratio fell outside the clip range (last epoch).</summary>
    public const string ClipFrac = "clip_frac";
    /// <summary>Mean KL to the reference per trained transition, ‖μ_θ − μ_ref‖²/(2σ_t²|Δt|), last epoch; 0 when β = 0 (no reference is kept).</summary>
    public const string Kl = "kl";
    /// <summary>k3 estimate of KL(old ‖ new) per trained transition: how far the update moved the policy (last epoch).</summary>
    public const string ApproxKl = "approx_kl";
    /// <summary>Global gradient norm before clipping (last minibatch).</summary>
    public const string GradNorm = "grad_norm";
    /// <summary>Fraction of groups whose reward std was below the std floor (the floor decided their advantages' scale).</summary>
    public const string LowStdGroups = "low_std_groups";
    /// <summary>Mean branch step of the step's groups (−1 for full-SDE objectives).</summary>
    public const string BranchStepMean = "branch_step_mean";
    /// <summary>Trained transitions in the step.</summary>
    public const string Transitions = "transitions";
}
