using System.Globalization;
using Akka.Actor;
using RlActors.Actors.Ccl;
using RlActors.Actors.Experiment;
using RlActors.Actors.Runtime;
using RlActors.Environments.FashionMnist;
using RlActors.Host.Configuration;
using RlActors.Policies.Ccl;
using RlActors.Policies.Checkpoints;

namespace RlActors.Host.Kinds;

/// <summary>kind = "ccl": supervised counter-current learning (or its baselines) on Fashion-MNIST, learner-only.</summary>
internal sealed class CclKind : IExperimentKind
{
    public string Name => ExperimentKinds.Ccl;
    public string Summary => "supervised counter-current learning (or its baselines) on Fashion-MNIST; docs/ccl.md";
    public IEnumerable<(string Name, string Doc)> Keys => CclExperimentFile.Keys;
    public string StepsKey => "ccl.steps";

    public IRunnableExperiment Parse(string text, string origin, IReadOnlyList<string> overrides) => CclRun.Prepare(CclExperimentFile.Parse(text, origin, overrides), origin);

    /// <summary>Both networks: forward W and feedback B of every layer, and the normalisation statistics if any.</summary>
    public string Export(string configText, string origin, TrainingCheckpoint checkpoint, string outPath)
    {
        ExperimentKinds.RequireSafetensorsPath(outPath);
        var architecture = CclExperimentFile.Parse(configText, origin, []).Options.Architecture;
        using var network = new CclNetwork(architecture, 0);
        network.LoadWeights(checkpoint.PolicyWeights);
        SafetensorsExport.Write(network, outPath);
        return $"CCL network {architecture}";
    }
}

/// <summary>A CCL experiment: a learner-only run (<see cref="CclPlan"/>) on the host alone.</summary>
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
    public int KeepCheckpoints => exp.Runtime.KeepCheckpoints;
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
        return CclPlan.Props(new CclSettings(exp.Name, exp.Options, () => CclData.From(fashion), TotalSteps, stepsPerEpoch, exp.Runtime) { ResumeFrom = resumeFrom }, observer);
    }
}
