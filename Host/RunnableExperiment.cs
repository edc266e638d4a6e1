using System.Globalization;
using Akka.Actor;
using RlActors.Actors.Experiment;
using RlActors.Actors.Runtime;
using RlActors.Actors.Supervised;
using RlActors.Environments.FashionMnist;
using RlActors.Host.Configuration;
using RlActors.Policies.Ccl;
using RlActors.Policies.Checkpoints;
using RlActors.Rewards;

namespace RlActors.Host;

/// <summary>
/// An experiment of some kind (top-level key <c>kind</c>), parsed and checked: what <c>run</c> and <c>resume</c> need
/// beyond the machinery every kind shares (store lease, journal, metrics files, checkpoints, graceful stop; see
/// <see cref="ClusterRun"/>).
/// </summary>
public interface IRunnableExperiment
{
    /// <summary>Experiment name (the store's key and the output folder's name).</summary>
    string Name { get; }
    /// <summary>The text the store records, so a resume rebuilds exactly this experiment.</summary>
    string EffectiveText { get; }
    /// <summary>Root seed, recorded with the experiment.</summary>
    ulong Seed { get; }
    /// <summary>Steps to run in all (the unit of metrics.jsonl, checkpoints and <c>--steps</c>).</summary>
    long TotalSteps { get; }
    /// <summary>Print a step line every this many steps.</summary>
    int LogEvery { get; }
    /// <summary>Checkpoints kept in the store.</summary>
    int KeepCheckpoints { get; }
    /// <summary>How its progress is printed and drawn.</summary>
    RunDisplay Display { get; }
    /// <summary>One line describing the experiment, printed at the start.</summary>
    string Description { get; }
    /// <summary>What a resume without any valid checkpoint does, e.g. "it starts again from SFT".</summary>
    string FromScratch { get; }
    /// <summary>Roles a worker node may add (printed with the <c>node</c> command), or null when the experiment runs on the host alone.</summary>
    string? WorkerRoles { get; }
    /// <summary>The host node: its roles and the actors they start.</summary>
    NodeOptions Node(string hostname, int port, string? publicHostname);
    /// <summary>Props of the actor that runs the experiment (its name is "experiment"); it reports to <paramref name="observer"/>
    /// and handles <see cref="ExperimentActor.Stop"/>.</summary>
    Props Coordinator(IExperimentObserver observer, TrainingCheckpoint? resumeFrom);
    /// <summary>As <see cref="Coordinator(IExperimentObserver, TrainingCheckpoint?)"/>, for a run whose files go to
    /// <paramref name="outputDir"/> (an experiment that draws more pictures there overrides this).</summary>
    Props Coordinator(IExperimentObserver observer, TrainingCheckpoint? resumeFrom, string outputDir, TextWriter log) => Coordinator(observer, resumeFrom);
    /// <summary>Checks, before a run or a resume starts anything, what the parse cannot (that reward plug-ins load from here, that
    /// a judge answers); a <see cref="ConfigError"/> for bad input, another exception for a runtime failure.</summary>
    void CheckBeforeRun() { }
}

/// <summary>Reads an experiment file of any kind: the top-level key <c>kind</c> (default grpo) chooses the parser.</summary>
public static class RunnableExperiment
{
    /// <summary>Reads <paramref name="path"/>; see <see cref="Parse"/>.</summary>
    public static IRunnableExperiment Load(string path, IReadOnlyList<string> overrides, long? steps)
    {
        if (!File.Exists(path)) throw new ConfigError($"experiment file not found: {path}");
        return Parse(File.ReadAllText(path), path, overrides, steps);
    }

    /// <summary>
    /// Parses experiment text of any kind with <paramref name="overrides"/> ("key=value") and, when given, a new total of
    /// <paramref name="steps"/> (grpo.steps for GRPO, ccl.steps for CCL, flow.steps for flow), and checks everything that can be checked before
    /// anything starts (a CCL experiment loads its data set here). Bad input is a <see cref="ConfigError"/>.
    /// </summary>
    public static IRunnableExperiment Parse(string text, string origin, IReadOnlyList<string> overrides, long? steps)
    {
        string? StepsOverride(string key) => steps is long n ? string.Create(CultureInfo.InvariantCulture, $"{key}={n}") : null;
        IReadOnlyList<string> With(string key) => StepsOverride(key) is { } s ? [.. overrides, s] : overrides;
        return ConfigReader.Peek(text, overrides, "kind") switch
        {
            ExperimentKinds.Ccl => CclRun.Prepare(CclExperimentFile.Parse(text, origin, With("ccl.steps")), origin),
            ExperimentKinds.Flow => FlowRun.Prepare(FlowExperimentFile.Parse(text, origin, With("flow.steps")), origin),
            _ => new GrpoRun(ExperimentFile.Parse(text, origin, With("grpo.steps"))), // the GRPO parser names a wrong kind
        };
    }

    /// <summary>Every kind with a one-line summary and its keys (for <c>rlactors keys</c>).</summary>
    public static IEnumerable<(string Kind, string Summary, IEnumerable<(string Name, string Doc)> Keys)> Kinds =>
    [
        (ExperimentKinds.Grpo, "the default: SFT then GRPO on the arithmetic task, on the actor runtime", ExperimentFile.Keys),
        (ExperimentKinds.Ccl, "supervised counter-current learning (or its baselines) on Fashion-MNIST; docs/ccl.md", CclExperimentFile.Keys),
        (ExperimentKinds.Flow, "Flow-GRPO / TempFlow-GRPO on a flow-matching policy with explorer actors (2-D tasks, Fashion-MNIST 14x14); docs/flow.md", FlowExperimentFile.Keys),
    ];
}

/// <summary>A GRPO experiment: samplers, reward workers and a learner coordinated by <see cref="ExperimentActor"/>.</summary>
internal sealed class GrpoRun(Experiment exp) : IRunnableExperiment
{
    public string Name => exp.Name;
    public string EffectiveText => exp.EffectiveText;
    public ulong Seed => exp.Options.Seed;
    public long TotalSteps => exp.Options.GrpoSteps;
    public int LogEvery => exp.LogEvery;
    public int KeepCheckpoints => exp.Runtime.KeepCheckpoints;
    public RunDisplay Display => RunDisplay.Lm(exp.Options.Algorithm);
    public string FromScratch => "it starts again from SFT";
    public string? WorkerRoles => exp.UsesCapo ? "sampler,reward,voter" : "sampler,reward";

    public string Description
    {
        get
        {
            var o = exp.Options;
            string task = o.Data is { } d ? $"task {d.Train} ({d.Verifier} verifier{(d.SolutionField is null ? ", no SFT: no task.solution-field" : "")})" : $"task {o.Task.MinOps}-{o.Task.MaxOps} ops";
            return $"experiment {exp.Name}: model d{o.Model.DModel}x{o.Model.Layers}, {task}, " +
                   $"SFT {o.Sft.Steps} steps, {o.Algorithm.ToUpperInvariant()} {o.GrpoSteps} steps of {o.Grpo.PromptsPerStep}x{o.Grpo.GroupSize}, " +
                   $"{(exp.Runtime.MaxStaleness == 0 ? "synchronous" : $"asynchronous (max-staleness {exp.Runtime.MaxStaleness})")}, " +
                   $"rewards {string.Join(" + ", exp.Rewards.Select(r => $"{r.Weight}*{r.Type}"))}";
        }
    }

    public NodeOptions Node(string hostname, int port, string? publicHostname) =>
        new(hostname, port, publicHostname, Roles.All, [], [], exp.Runtime.SamplersPerNode, exp.Options.Device, exp.Capo.VotersPerNode);

    public Props Coordinator(IExperimentObserver observer, TrainingCheckpoint? resumeFrom) =>
        ExperimentActor.Props(new ExperimentSettings(exp.Name, exp.Options, exp.Runtime, exp.Rewards) { ResumeFrom = resumeFrom }, observer);

    public void CheckBeforeRun()
    {
        // CAPO is built by the reward workers from its settings (validated with the experiment file), not loaded.
        var specs = exp.Rewards.Where(r => r.Type != Experiment.CapoRewardType)
            .Select(r => new RewardSpec(r.Type, r.Assembly, r.Weight) { Timeout = TimeSpan.FromSeconds(r.TimeoutSeconds) });
        try { RewardPluginLoader.LoadAll(specs, Directory.GetCurrentDirectory()); }
        catch (PluginLoadException e) { throw new ConfigError(e.Message); }
        if (exp.UsesCapo) CheckJudge(exp.Capo.Judge);
    }

    /// <summary>
    /// An openai judge must be usable before the cluster starts: a key variable named by capo.judge.api-key-env that is
    /// not set is bad input (exit 2); a server that does not answer GET {base-url}/models within 10 s is a runtime failure (exit 1).
    /// </summary>
    private static void CheckJudge(RlActors.Rewards.Capo.JudgeSpec judge)
    {
        if (judge.Type != "openai") return;
        var o = judge.OpenAi;
        if (o.ApiKeyEnv is { } variable && string.IsNullOrEmpty(Environment.GetEnvironmentVariable(variable)))
            throw new ConfigError($"capo.judge.api-key-env = \"{variable}\": the environment variable {variable} is not set (export it, or remove the key for a server without authentication)");
        using var client = new RlActors.Rewards.Capo.OpenAiJudge(o);
        string? problem = client.CheckReachableAsync(TimeSpan.FromSeconds(Math.Min(10, o.TimeoutSeconds)), CancellationToken.None).GetAwaiter().GetResult();
        if (problem is not null)
            throw new RlActors.Rewards.Capo.JudgeUnreachableException($"judge at {o.BaseUrl} unreachable: {problem} (capo.judge.base-url)");
    }
}

/// <summary>A CCL experiment: one <see cref="CclLearnerActor"/> coordinated by <see cref="SupervisedExperimentActor"/>, on the host alone.</summary>
internal sealed class CclRun : IRunnableExperiment
{
    private readonly CclExperiment exp;
    private readonly FashionMnist data;
    private readonly int stepsPerEpoch;

    private CclRun(CclExperiment exp, FashionMnist data)
    {
        this.exp = exp;
        this.data = data;
        stepsPerEpoch = (data.Train.Count + exp.Options.BatchSize - 1) / exp.Options.BatchSize;
    }

    /// <summary>Loads the data set (a missing or corrupt file is bad input, named).</summary>
    public static CclRun Prepare(CclExperiment exp, string origin)
    {
        try { return new CclRun(exp, FashionMnist.Load(exp.Data)); }
        catch (FileNotFoundException e) { throw new ConfigError($"{origin}: {e.Message}"); }
        catch (InvalidDataException e) { throw new ConfigError($"{origin}: Fashion-MNIST in {exp.Data.ResolvedDirectory}: {e.Message}"); }
    }

    public string Name => exp.Name;
    public string EffectiveText => exp.EffectiveText;
    public ulong Seed => exp.Options.Seed;
    public long TotalSteps => exp.Steps > 0 ? exp.Steps : (long)exp.Epochs * stepsPerEpoch;
    public int LogEvery => exp.LogEvery;
    public int KeepCheckpoints => exp.KeepCheckpoints;
    public RunDisplay Display => RunDisplay.Ccl(exp.Options.Task, MethodTitle);
    public string FromScratch => "it starts again from step 1";
    public string? WorkerRoles => null;

    private string MethodTitle => exp.Options.Method switch
    {
        CclMethod.Backprop => "BP",
        CclMethod.OutputOnly => "Output-only",
        CclMethod.CclFrozenFeedback => "CCL-frozen-feedback",
        _ => "CCL",
    };

    public string Description
    {
        get
        {
            var o = exp.Options;
            string loss = o.Method is CclMethod.Ccl or CclMethod.CclFrozenFeedback && o.Task == CclTask.Classification ? $", layer loss {o.Similarity}" : "";
            return string.Create(CultureInfo.InvariantCulture,
                $"experiment {exp.Name}: {MethodTitle} {o.Task.ToString().ToLowerInvariant()}, {o.Architecture}{loss}; {TotalSteps} steps ") +
                string.Create(CultureInfo.InvariantCulture,
                $"({TotalSteps / (double)stepsPerEpoch:0.##} epochs of {stepsPerEpoch}) of batch {o.BatchSize}, SGD lr {o.ForwardLearningRate}/{o.FeedbackLearningRate} ") +
                string.Create(CultureInfo.InvariantCulture,
                $"(forward/feedback), momentum {o.Momentum}; Fashion-MNIST {data.Train.Count} train / {data.Validation.Count} validation / {data.Test.Count} test images");
        }
    }

    public NodeOptions Node(string hostname, int port, string? publicHostname) => new(hostname, port, publicHostname, [Roles.Learner], [], []);

    public Props Coordinator(IExperimentObserver observer, TrainingCheckpoint? resumeFrom)
    {
        var fashion = data;
        var learner = CclLearnerActor.Props(exp.Options, () => CclData.From(fashion));
        return SupervisedExperimentActor.Props(new SupervisedSettings(exp.Name, learner, TotalSteps)
        {
            CheckpointEveryEpochs = exp.CheckpointEvery,
            ResumeFrom = resumeFrom,
        }, observer);
    }
}
