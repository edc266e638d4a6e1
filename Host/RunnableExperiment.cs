using System.Globalization;
using Akka.Actor;
using RlActors.Actors.Experiment;
using RlActors.Actors.Runtime;
using RlActors.Host.Configuration;
using RlActors.Host.Kinds;
using RlActors.Policies.Checkpoints;

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
    /// and handles <see cref="CoordinatorActor.Stop"/>.</summary>
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
    /// <paramref name="steps"/> (the kind's <see cref="IExperimentKind.StepsKey"/>), and checks everything that can be checked
    /// before anything starts (a CCL experiment loads its data set here). Bad input is a <see cref="ConfigError"/>.
    /// </summary>
    public static IRunnableExperiment Parse(string text, string origin, IReadOnlyList<string> overrides, long? steps)
    {
        // An unknown kind goes to the default kind's parser, which names it with its line.
        var kind = KindOf(text, overrides) ?? ExperimentKinds.All[0];
        IReadOnlyList<string> all = steps is long n ? [.. overrides, string.Create(CultureInfo.InvariantCulture, $"{kind.StepsKey}={n}")] : overrides;
        return kind.Parse(text, origin, all);
    }

    /// <summary>The kind experiment text names (the default when it names none), or null for a name no kind has.</summary>
    public static IExperimentKind? KindOf(string text, IReadOnlyList<string> overrides) =>
        ConfigReader.Peek(text, overrides, "kind") is { } name ? ExperimentKinds.Find(name) : ExperimentKinds.All[0];
}

