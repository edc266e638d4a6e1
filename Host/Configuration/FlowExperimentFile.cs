using System.Globalization;
using RlActors.Environments.FashionMnist;
using RlActors.Environments.Flow2d;
using RlActors.Policies.Flow;
using static RlActors.Host.Configuration.ConfigReader;

namespace RlActors.Host.Configuration;

/// <summary>
/// A parsed experiment file of kind "flow": Flow-GRPO, TempFlow-GRPO or an ablation on a 2-D task or Fashion-MNIST at 14×14,
/// run by explorer actors and a learner. Settings whose default depends on the task are null until
/// <see cref="FlowExperimentFile.Parse"/> resolves them.
/// </summary>
/// <param name="Name">Experiment name.</param>
/// <param name="SourceText">The file's text.</param>
public sealed record FlowExperiment(string Name, string SourceText)
{
    /// <summary>The file's text with the command line's overrides appended (what the store records).</summary>
    public string EffectiveText { get; init; } = SourceText;
    /// <summary>Root seed: the RL plan, the model's initialisation and pretraining (unless set apart).</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>Print a step line every this many steps.</summary>
    public int LogEvery { get; init; } = 10;
    /// <summary>The task.</summary>
    public FlowTaskOptions Task { get; init; } = new();
    /// <summary>RL hyperparameters (the seed is set from <see cref="Seed"/>).</summary>
    public FlowGrpoOptions Grpo { get; init; } = new();
    /// <summary>RL steps in all.</summary>
    public long Steps { get; init; } = 200;
    /// <summary>The policy's shape (resolved).</summary>
    public FlowModelSpec Model { get; init; } = new();
    /// <summary>Flow-matching pretraining (resolved).</summary>
    public FlowPretrainOptions Pretrain { get; init; } = new();
    /// <summary>Seed of the model's initialisation before pretraining (resolved: <see cref="Seed"/> unless set).</summary>
    public long InitSeed { get; init; }
    /// <summary>Evaluate the ODE reward every this many steps (0: only at the start and the end).</summary>
    public int EvalEvery { get; init; } = 10;
    /// <summary>ODE evaluation samples per class.</summary>
    public int EvalPerClass { get; init; } = 64;
    /// <summary>Seed of the evaluation noise.</summary>
    public ulong EvalSeed { get; init; } = 20_261_128;
    /// <summary>Samples per class in the before/after picture.</summary>
    public int PictureSamples { get; init; } = 200;
    /// <summary>Folder of cached reward models and pretrained weights.</summary>
    public string CacheDir { get; init; } = Path.Combine("runs", "flow-cache");
    /// <summary>Scheduling (<c>runtime.*</c>): checkpoints every 50 steps unless set; the unit of work is a task of groups.</summary>
    public Actors.Experiment.RuntimeOptions Runtime { get; init; } = new() { CheckpointEvery = 50 };

    // Set by the keys, resolved by the parser (null: the task's default).
    internal int? ModelWidth { get; init; }
    internal int? ModelLayers { get; init; }
    internal int? ModelTimeFeatures { get; init; }
    internal int? ModelClassEmbedding { get; init; }
    internal int? PretrainSteps { get; init; }
    internal int? PretrainBatch { get; init; }
    internal double? PretrainLr { get; init; }
    internal ulong? PretrainSeed { get; init; }
    internal long? ModelInitSeed { get; init; }
    internal LogProbReduction? LogProb { get; init; }
    internal string? FirstFlow2dKey { get; init; }
    internal string? FirstFashionKey { get; init; }
}

/// <summary>
/// Reads experiment files of kind "flow". Every key is listed in <see cref="Keys"/>; an unknown key, a value of the wrong type
/// or out of range, or a key of the other task family (a <c>flow2d.*</c> key with the Fashion-MNIST task, a
/// <c>reward-model.*</c> or <c>data.*</c> key with a 2-D task) is a <see cref="ConfigError"/> naming the key.
/// </summary>
public static class FlowExperimentFile
{
    private static readonly Dictionary<string, FlowTaskKind> Tasks = new()
    {
        ["early"] = FlowTaskKind.EarlyDecision, ["late"] = FlowTaskKind.LateDecision, ["fashion"] = FlowTaskKind.Fashion,
    };

    private static readonly Dictionary<string, FlowObjective> Objectives =
        Enum.GetValues<FlowObjective>().ToDictionary(o => o.ConfigName(), o => o);

    private static readonly Dictionary<string, BranchSampling> Schedules = new()
    {
        ["cycle"] = BranchSampling.Cycle, ["uniform"] = BranchSampling.Uniform, ["noise-weighted"] = BranchSampling.NoiseWeighted,
    };

    private static readonly Dictionary<string, LogProbReduction> Reductions = new() { ["sum"] = LogProbReduction.Sum, ["mean"] = LogProbReduction.Mean };

    private static FlowExperiment G(FlowExperiment e, Func<FlowGrpoOptions, FlowGrpoOptions> f) => e with { Grpo = f(e.Grpo) };
    private static FlowExperiment S(FlowExperiment e, Func<FlowSamplingOptions, FlowSamplingOptions> f) => e with { Grpo = e.Grpo with { Sampling = f(e.Grpo.Sampling) } };
    private static FlowExperiment T2(FlowExperiment e, string key, Func<Flow2dOptions, Flow2dOptions> f) =>
        e with { Task = e.Task with { Flow2d = f(e.Task.Flow2d) }, FirstFlow2dKey = e.FirstFlow2dKey ?? key };
    private static FlowExperiment RM(FlowExperiment e, string key, Func<FashionRewardModelOptions, FashionRewardModelOptions> f) =>
        e with { Task = e.Task with { RewardModel = f(e.Task.RewardModel) }, FirstFashionKey = e.FirstFashionKey ?? key };

    private static readonly ConfigKey<FlowExperiment>[] KeyTable =
    [
        new("kind", "\"flow\": this section's keys", (e, v, k) => e),
        new("name", "experiment name; output goes to runs/<name>/", (e, v, k) => e with { Name = Str(v, k) }),
        new("seed", "root seed: the RL plan (prompts, branch steps, noise of every group), the model's initialisation and pretraining", (e, v, k) => e with { Seed = (ulong)Long(v, k, 0) }),
        new("log-every", "print a step line every N RL steps", (e, v, k) => e with { LogEvery = Int(v, k, 1) }),
        new("flow.task", "early (2-D, the rewarded mode is chosen in the first, noisy steps), late (2-D control, the rewarded sub-mode is chosen late) or fashion (class-conditional Fashion-MNIST at 14x14, reward = a classifier's probability of the prompted class)",
            (e, v, k) => e with { Task = e.Task with { Kind = OneOf(v, k, Tasks) } }),
        new("flow.objective", "tempflow (ODE main path, K SDE siblings at one branch step, noise-aware weights), flow-grpo (K full SDE rollouts, every step trained, uniform weights), branch-only or weight-only (the ablations)",
            (e, v, k) => G(e, g => g with { Objective = OneOf(v, k, Objectives) })),
        new("flow.steps", "RL steps; --steps of run and resume sets it", (e, v, k) => e with { Steps = Long(v, k, 0) }),
        new("flow.prompts-per-step", "groups (prompts) per RL step, P", (e, v, k) => G(e, g => g with { PromptsPerStep = Int(v, k, 1) })),
        new("flow.group-size", "trajectories per group: K siblings (branching objectives) or G rollouts (flow-grpo, weight-only); rollouts per step = P x K for every objective",
            (e, v, k) => G(e, g => g with { GroupSize = Int(v, k, 2) })),
        new("flow.branch-sampling", "how each group's branch step is chosen among flow.branch-steps (branching objectives): uniform (a seeded random subset per step), cycle (in turn: a fixed schedule) or noise-weighted (probability ~ (sigma_t sqrt|dt|)^p, favouring early steps)",
            (e, v, k) => G(e, g => g with { BranchSampling = OneOf(v, k, Schedules) })),
        new("flow.branch-steps", "steps allowed as branch points, each in [0, flow.sampling-steps), e.g. [0, 1, 2, 3]; default every step", (e, v, k) => G(e, g => g with { BranchSteps = IntList(v, k, 0) })),
        new("flow.branch-weight-power", "exponent p of noise-weighted branch sampling", (e, v, k) => G(e, g => g with { BranchWeightPower = Dbl(v, k) })),
        new("flow.learning-rate", "Adam learning rate of the RL updates", (e, v, k) => G(e, g => g with { LearningRate = Dbl(v, k) })),
        new("flow.clip-range", "PPO clip range: per-transition ratios are clipped to [1 - eps, 1 + eps]", (e, v, k) => G(e, g => g with { ClipRange = Dbl(v, k) })),
        new("flow.kl-coef", "weight beta of the KL to the pretrained model, |mu_theta - mu_ref|^2 / (2 sigma_t^2 |dt|); 0 keeps no reference", (e, v, k) => G(e, g => g with { KlCoef = Dbl(v, k) })),
        new("flow.max-grad-norm", "clip the gradient norm to this (0 disables)", (e, v, k) => G(e, g => g with { MaxGradNorm = Dbl(v, k) })),
        new("flow.advantage-clip", "advantages are clipped to +-this", (e, v, k) => G(e, g => g with { AdvantageClip = Dbl(v, k) })),
        new("flow.std-floor", "floor of a group's reward std in A = (r - mean) / (max(std, floor) + eps): keeps settled groups' noise from becoming full-size advantages", (e, v, k) => G(e, g => g with { StdFloor = Dbl(v, k) })),
        new("flow.std-epsilon", "eps added to the floored std", (e, v, k) => G(e, g => g with { StdEpsilon = Dbl(v, k) })),
        new("flow.normalize-noise-weights", "divide the noise weights by their mean over the steps (weighted objectives keep the scale of the unweighted ones)", (e, v, k) => G(e, g => g with { NormalizeNoiseWeights = Bool(v, k) })),
        new("flow.update-epochs", "passes over each step's transitions", (e, v, k) => G(e, g => g with { UpdateEpochs = Int(v, k, 1) })),
        new("flow.mini-batches", "optimizer steps per pass", (e, v, k) => G(e, g => g with { MiniBatches = Int(v, k, 1) })),
        new("flow.sampling-steps", "T, Euler steps of training rollouts (Flow-GRPO trains with 10)", (e, v, k) => S(e, s => s with { Steps = Int(v, k, 2) })),
        new("flow.noise-level", "a, the SDE noise level: sigma_t = a sqrt(t / (1 - t)) (Flow-GRPO: 0.7)", (e, v, k) => S(e, s => s with { NoiseLevel = Dbl(v, k) })),
        new("flow.log-prob", "sum (the true log-density; default for 2-D) or mean (over dimensions, as flow_grpo does for images; default for fashion)", (e, v, k) => e with { LogProb = OneOf(v, k, Reductions) }),
        new("flow.eval-steps", "Euler steps of the ODE evaluation (Flow-GRPO evaluates with 40)", (e, v, k) => G(e, g => g with { EvalSteps = Int(v, k, 1) })),
        new("flow.eval-every", "evaluate the ODE reward every N RL steps (and at the start and the end; 0: only then)", (e, v, k) => e with { EvalEvery = Int(v, k, 0) }),
        new("flow.eval-per-class", "ODE evaluation samples per class (a fixed set: the same noise at every evaluation)", (e, v, k) => e with { EvalPerClass = Int(v, k, 1) }),
        new("flow.eval-seed", "seed of the evaluation noise", (e, v, k) => e with { EvalSeed = (ulong)Long(v, k, 0) }),
        new("flow.picture-samples", "samples per class in the before/after picture (samples.png)", (e, v, k) => e with { PictureSamples = Int(v, k, 1) }),
        new("flow.cache-dir", "folder of cached reward models and pretrained weights, keyed by their settings (default runs/flow-cache)", (e, v, k) => e with { CacheDir = Str(v, k) }),
        new("flow.model.width", "hidden width of the MLP (2-D, default 128) or channels of the conv U-Net's full-resolution layers (fashion, default 16)", (e, v, k) => e with { ModelWidth = Int(v, k, 1) }),
        new("flow.model.layers", "hidden layers of the MLP (2-D only, default 3)", (e, v, k) => e with { ModelLayers = Int(v, k, 1) }),
        new("flow.model.time-features", "sinusoidal time features (even, default 16)", (e, v, k) => e with { ModelTimeFeatures = Int(v, k, 2) }),
        new("flow.model.class-embedding", "width of the class embedding (default 16)", (e, v, k) => e with { ModelClassEmbedding = Int(v, k, 1) }),
        new("flow.model.init-seed", "seed of the model's initialisation before pretraining (default: seed)", (e, v, k) => e with { ModelInitSeed = Long(v, k, 0) }),
        new("flow.pretrain.steps", "flow-matching pretraining steps (default 3000 for 2-D, 1500 for fashion)", (e, v, k) => e with { PretrainSteps = Int(v, k, 1) }),
        new("flow.pretrain.batch-size", "data points per pretraining step (default 256 for 2-D, 64 for fashion)", (e, v, k) => e with { PretrainBatch = Int(v, k, 1) }),
        new("flow.pretrain.learning-rate", "peak Adam learning rate of pretraining, cosine decay to 10% (default 2e-3 for 2-D, 1e-3 for fashion)", (e, v, k) => e with { PretrainLr = Dbl(v, k) }),
        new("flow.pretrain.seed", "seed of pretraining's batches (default: seed)", (e, v, k) => e with { PretrainSeed = (ulong)Long(v, k, 0) }),
        new("flow2d.classes", "2-D: classes (prompts) K", (e, v, k) => T2(e, k, t => t with { Classes = Int(v, k, 1) })),
        new("flow2d.modes", "2-D: modes per class on a ring", (e, v, k) => T2(e, k, t => t with { Modes = Int(v, k, 1) })),
        new("flow2d.sub-modes", "2-D late task: sub-modes per mode", (e, v, k) => T2(e, k, t => t with { SubModes = Int(v, k, 1) })),
        new("flow2d.radius", "2-D: ring radius", (e, v, k) => T2(e, k, t => t with { Radius = Dbl(v, k) })),
        new("flow2d.sub-mode-gap", "2-D late task: radial distance between sub-modes", (e, v, k) => T2(e, k, t => t with { SubModeGap = Dbl(v, k) })),
        new("flow2d.mode-std", "2-D: std of each Gaussian component of the data", (e, v, k) => T2(e, k, t => t with { ModeStd = Dbl(v, k) })),
        new("flow2d.reward-scale", "2-D: length scale l of the reward exp(-d^2/l^2) (0: 1 for early, sub-mode-gap/2 for late)", (e, v, k) => T2(e, k, t => t with { RewardScale = Dbl(v, k) })),
        new("flow2d.seed", "2-D: seed of each class's hidden preferred mode (sub-mode)", (e, v, k) => T2(e, k, t => t with { Seed = (ulong)Long(v, k, 0) })),
        new("data.directory", $"fashion: folder of the Fashion-MNIST IDX files (default ${FashionMnistOptions.DirectoryVariable}, else {FashionMnistOptions.DefaultDirectory} from Debian's dataset-fashion-mnist)",
            (e, v, k) => e with { Task = e.Task with { DataDirectory = Str(v, k) }, FirstFashionKey = e.FirstFashionKey ?? k }),
        new("reward-model.hidden", "fashion: hidden width H of the 196-H-10 MLP classifier whose probability of the prompted class is the reward", (e, v, k) => RM(e, k, r => r with { Hidden = Int(v, k, 1) })),
        new("reward-model.epochs", "fashion: classifier training epochs (backpropagation, the CCL library's trainer)", (e, v, k) => RM(e, k, r => r with { Epochs = Int(v, k, 1) })),
        new("reward-model.batch-size", "fashion: classifier batch size", (e, v, k) => RM(e, k, r => r with { BatchSize = Int(v, k, 1) })),
        new("reward-model.learning-rate", "fashion: classifier SGD learning rate", (e, v, k) => RM(e, k, r => r with { LearningRate = Dbl(v, k) })),
        new("reward-model.momentum", "fashion: classifier SGD momentum", (e, v, k) => RM(e, k, r => r with { Momentum = Dbl(v, k) })),
        new("reward-model.seed", "fashion: classifier initialisation and data order", (e, v, k) => RM(e, k, r => r with { Seed = (ulong)Long(v, k, 0) })),
        .. RuntimeKeys.For<FlowExperiment>(e => e.Runtime, (e, r) => e with { Runtime = r }, new WorkKeys(
            "groups-per-task", "groups per unit of explorer work (0: a whole step; smaller tasks spread a step over several explorers)",
            "task-timeout", "seconds before an unreturned task goes to another explorer",
            "explorers-per-node", "explorer actors on the host (worker nodes: node --roles explorer --explorers N)")),
    ];

    /// <summary>Every key a flow experiment file may set, with its meaning.</summary>
    public static IEnumerable<(string Name, string Doc)> Keys => KeyTable.Select(k => (k.Name, k.Doc));

    /// <summary>Parses flow experiment text; <paramref name="origin"/> names it in error messages.</summary>
    public static FlowExperiment Parse(string text, string origin, IReadOnlyList<string> overrides)
    {
        var read = ConfigReader.Apply(text, origin, overrides, KeyTable, source => new FlowExperiment(Path.GetFileNameWithoutExtension(origin), source),
            kindNote: " for kind = \"flow\"");
        var blame = read.Blame;
        var exp = read.Value with { EffectiveText = read.EffectiveText };
        CheckName(exp.Name, origin);
        bool is2d = exp.Task.Is2d;
        if (is2d && exp.FirstFashionKey is { } fk)
            throw new ConfigError($"{blame.Key(fk)}: a Fashion-MNIST key does nothing for flow.task = {exp.Task.KindName}");
        if (!is2d && exp.FirstFlow2dKey is { } tk)
            throw new ConfigError($"{blame.Key(tk)}: a 2-D task key does nothing for flow.task = fashion");
        if (!is2d && exp.ModelLayers is not null)
            throw new ConfigError($"{blame.Key("flow.model.layers")}: the conv U-Net of the fashion task has a fixed depth");
        var model = new FlowModelSpec
        {
            Architecture = is2d ? FlowArchitecture.Mlp : FlowArchitecture.Conv,
            Dim = exp.Task.Dim,
            Classes = exp.Task.Classes,
            Width = exp.ModelWidth ?? (is2d ? 128 : 16),
            Layers = exp.ModelLayers ?? 3,
            TimeFeatures = exp.ModelTimeFeatures ?? 16,
            ClassEmbedding = exp.ModelClassEmbedding ?? 16,
            Side = is2d ? 0 : FashionMnist14.Side,
        };
        var pretrain = new FlowPretrainOptions
        {
            Steps = exp.PretrainSteps ?? (is2d ? 3000 : 1500),
            BatchSize = exp.PretrainBatch ?? (is2d ? 256 : 64),
            LearningRate = exp.PretrainLr ?? (is2d ? 2e-3 : 1e-3),
            Seed = exp.PretrainSeed ?? exp.Seed,
        };
        var grpo = exp.Grpo with
        {
            Seed = exp.Seed,
            Sampling = exp.Grpo.Sampling with { LogProb = exp.LogProb ?? (is2d ? LogProbReduction.Sum : LogProbReduction.Mean) },
        };
        exp = exp with { Model = model, Pretrain = pretrain, Grpo = grpo, InitSeed = exp.ModelInitSeed ?? (long)(exp.Seed & long.MaxValue) };
        try
        {
            exp.Task.Validate();
            exp.Model.Validate();
            exp.Pretrain.Validate();
            exp.Grpo.Validate();
        }
        catch (ArgumentException e) { throw blame.Invalid(new ArgumentException(Rename(e.Message))); }
        return exp;
    }

    /// <summary>The library names its keys as in its records; a few are spelled differently in this file.</summary>
    private static string Rename(string message) => message
        .Replace("flow.model.hidden", "flow.model.width", StringComparison.Ordinal)
        .Replace("flow.model.side", "flow.model.width", StringComparison.Ordinal);

    /// <summary>A one-line description of the experiment.</summary>
    public static string Describe(FlowExperiment e)
    {
        var g = e.Grpo;
        string branch = g.Objective.Branches()
            ? $", branch {g.BranchSampling.ToString().ToLowerInvariant()} over {(g.BranchSteps is null ? "every step" : "[" + string.Join(",", g.BranchSteps) + "]")}"
            : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"experiment {e.Name}: {g.Objective.ConfigName()} on {e.Task.KindName}; {e.Steps} RL steps of {g.PromptsPerStep} groups x {g.GroupSize}{branch}; ") +
            string.Create(CultureInfo.InvariantCulture,
            $"T = {g.Sampling.Steps}, a = {g.Sampling.NoiseLevel}, lr {g.LearningRate}, clip {g.ClipRange}, kl {g.KlCoef}, std floor {g.StdFloor}; model {e.Model}; ") +
            $"pretraining {e.Pretrain.Steps} steps of {e.Pretrain.BatchSize}";
    }
}
