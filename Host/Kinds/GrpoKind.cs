using Akka.Actor;
using RlActors.Actors.Experiment;
using RlActors.Actors.Grpo;
using RlActors.Actors.Runtime;
using RlActors.Host.Configuration;
using RlActors.Policies.Checkpoints;
using RlActors.Policies.Hf;
using RlActors.Policies.Lm;
using RlActors.Policies.Training;
using RlActors.Rewards;

namespace RlActors.Host.Kinds;

/// <summary>kind = "grpo": SFT, then an LM algorithm (GRPO, PPO, ...) on a task's prompts, with samplers and reward workers.</summary>
internal sealed class GrpoKind : IExperimentKind
{
    public string Name => ExperimentKinds.Grpo;
    public string Summary => "the default: SFT then GRPO (or algorithm = ppo) on the arithmetic task or a JSONL data set, on the actor runtime";
    public IEnumerable<(string Name, string Doc)> Keys => GrpoExperimentFile.Keys;
    public string StepsKey => "grpo.steps";

    public IRunnableExperiment Parse(string text, string origin, IReadOnlyList<string> overrides) => new GrpoRun(GrpoExperimentFile.Parse(text, origin, overrides));

    /// <summary>The policy; an algorithm with tensors of its own (PPO's critic) adds them under its names (critic.*, value_head.*),
    /// restored from the checkpoint through the algorithm itself.</summary>
    public string Export(string configText, string origin, TrainingCheckpoint checkpoint, string outPath)
    {
        var options = GrpoExperimentFile.Parse(configText, origin, []).Options;
        if (options.Pretrained is { } pretrained) return ExportPretrained(options, pretrained, checkpoint, outPath);
        ExperimentKinds.RequireSafetensorsPath(outPath);
        if (options.Algorithm == "grpo")
        {
            using var lm = new TransformerLm(options.Model, 0);
            lm.LoadWeights(checkpoint.PolicyWeights);
            SafetensorsExport.Write(lm, outPath);
            return "policy";
        }
        using var core = new GrpoTrainer(options);
        core.LoadCheckpoint(checkpoint);
        var tensors = core.Policy.Module.state_dict();
        foreach (var (key, tensor) in core.Algorithm.ExportTensors()) tensors[key] = tensor;
        SafetensorsExport.Write(tensors, outPath);
        return $"policy and {options.Algorithm}'s own tensors";
    }

    /// <summary>An hf policy goes back to the Hugging Face layout: a directory with config.json, the weights (sharded above
    /// 5 GB) and the tokenizer files, which transformers loads. Only the policy: an algorithm's own tensors (PPO's critic)
    /// have no place in that layout.</summary>
    private static string ExportPretrained(GrpoRunOptions options, PretrainedModel pretrained, TrainingCheckpoint checkpoint, string outPath)
    {
        if (outPath.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            throw new ConfigError($"--out: model.type = \"hf\" exports a Hugging Face model directory; give a directory, not a .safetensors file (got '{outPath}')");
        if (File.Exists(outPath)) throw new ConfigError($"--out: '{outPath}' is a file; give a directory (created if missing)");
        var config = pretrained.Config();
        using var model = HfDecoderLm.ForWeights(config, HfConfig.DtypeOf(pretrained.Dtype, "model.dtype"));
        model.LoadWeights(checkpoint.PolicyWeights);
        HfPretrained.Export(model, options.Tokenizer?.Directory, outPath);
        return options.Algorithm == "grpo" ? "the policy as a Hugging Face model directory" : $"the policy as a Hugging Face model directory ({options.Algorithm}'s own tensors are not part of that layout)";
    }
}

/// <summary>A language-model RL experiment: samplers, reward workers and a learner, run by <see cref="GrpoPlan"/>.</summary>
internal sealed class GrpoRun(GrpoExperiment exp) : IRunnableExperiment
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
            string model = o.Pretrained?.Describe() ?? $"d{o.Model.DModel}x{o.Model.Layers}";
            return $"experiment {exp.Name}: model {model}, {task}, " +
                   $"SFT {o.Sft.Steps} steps, {o.Algorithm.ToUpperInvariant()} {o.GrpoSteps} steps of {o.Grpo.PromptsPerStep}x{o.Grpo.GroupSize}, " +
                   $"{(exp.Runtime.MaxStaleness == 0 ? "synchronous" : $"asynchronous (max-staleness {exp.Runtime.MaxStaleness})")}, " +
                   $"rewards {string.Join(" + ", exp.Rewards.Select(r => $"{r.Weight}*{r.Type}"))}";
        }
    }

    public NodeOptions Node(string hostname, int port, string? publicHostname) =>
        new(hostname, port, publicHostname, Roles.All, [], [], exp.Runtime.WorkersPerNode, exp.Options.Device, exp.Capo.VotersPerNode);

    public Props Coordinator(IExperimentObserver observer, TrainingCheckpoint? resumeFrom) =>
        GrpoPlan.Props(new GrpoSettings(exp.Name, exp.Options, exp.Runtime, exp.Rewards) { ResumeFrom = resumeFrom }, observer);

    public void CheckBeforeRun()
    {
        // CAPO is built by the reward workers from its settings (validated with the experiment file), not loaded.
        var specs = exp.Rewards.Where(r => r.Type != GrpoExperiment.CapoRewardType)
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

