using RlActors.Policies.Checkpoints;

namespace RlActors.Host.Kinds;

/// <summary>
/// One kind of experiment (top-level key <c>kind</c>): its name, its keys, how its file is parsed into something
/// <c>run</c> and <c>resume</c> start (<see cref="IRunnableExperiment"/>: display, roles, the plan its coordinator follows) and
/// how <c>export</c> writes its model. Registered in <see cref="ExperimentKinds.All"/>.
/// </summary>
public interface IExperimentKind
{
    /// <summary>The value of <c>kind</c>.</summary>
    string Name { get; }
    /// <summary>One line for <c>rlactors keys</c>.</summary>
    string Summary { get; }
    /// <summary>Every key its files may set, with its meaning.</summary>
    IEnumerable<(string Name, string Doc)> Keys { get; }
    /// <summary>The key of the total number of steps (what <c>--steps N</c> sets), e.g. <c>grpo.steps</c>.</summary>
    string StepsKey { get; }
    /// <summary>Parses and checks experiment text with <paramref name="overrides"/> ("key=value"): everything that can be
    /// checked before anything starts. Bad input is a <see cref="Configuration.ConfigError"/>.</summary>
    IRunnableExperiment Parse(string text, string origin, IReadOnlyList<string> overrides);
    /// <summary>Writes the model of <paramref name="checkpoint"/> of an experiment recorded with <paramref name="configText"/> at
    /// <paramref name="outPath"/> (a .safetensors file, or a Hugging Face model directory for an hf policy; a path of the
    /// wrong form is a <see cref="Configuration.ConfigError"/> before anything is written); returns what it wrote (e.g. "policy"). Parses only what the model's shape
    /// needs (no data set is loaded).</summary>
    string Export(string configText, string origin, TrainingCheckpoint checkpoint, string outPath);
}

/// <summary>The registered kinds: a new kind is a class implementing <see cref="IExperimentKind"/> and one line here.</summary>
public static class ExperimentKinds
{
    /// <summary>Language-model RL (SFT, then GRPO, PPO or another LM algorithm) on the actor runtime: the default.</summary>
    public const string Grpo = "grpo";
    /// <summary>Supervised counter-current learning (or its baselines) on Fashion-MNIST.</summary>
    public const string Ccl = "ccl";
    /// <summary>Flow-GRPO / TempFlow-GRPO on a flow-matching policy, with explorer actors.</summary>
    public const string Flow = "flow";

    /// <summary>The export path of a kind that writes one safetensors file; any other path is bad input naming --out.</summary>
    public static void RequireSafetensorsPath(string outPath)
    {
        if (!outPath.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            throw new Configuration.ConfigError($"--out: expected a .safetensors path (got '{outPath}')");
    }

    /// <summary>Every kind, the default first.</summary>
    public static readonly IReadOnlyList<IExperimentKind> All = [new GrpoKind(), new CclKind(), new FlowKind()];

    /// <summary>The kinds' names.</summary>
    public static IEnumerable<string> Names => All.Select(k => k.Name);

    /// <summary>The kind named <paramref name="name"/>, or null.</summary>
    public static IExperimentKind? Find(string? name) => All.FirstOrDefault(k => k.Name == name);
}
