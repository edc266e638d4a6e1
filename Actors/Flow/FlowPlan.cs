using System.Security.Cryptography;
using Akka.Actor;
using Akka.Event;
using RlActors.Actors.Experiment;
using RlActors.Actors.Learning;
using RlActors.Actors.Protocol;
using RlActors.Policies.Checkpoints;
using RlActors.Policies.Flow;
using static RlActors.Actors.Flow.FlowProtocol;

namespace RlActors.Actors.Flow;

/// <summary>Everything a flow experiment needs on the runtime.</summary>
/// <param name="Name">Experiment name.</param>
/// <param name="Learner">The learner's settings.</param>
/// <param name="TotalSteps">RL steps to run in all.</param>
/// <param name="Runtime">Scheduling (runtime.groups-per-task is the unit size; flow runs are synchronous).</param>
public sealed record FlowExperimentSettings(string Name, FlowLearnerSettings Learner, long TotalSteps, RuntimeOptions Runtime)
{
    /// <summary>Evaluate the ODE reward every this many steps (and after the last); 0 only at the start and the end.</summary>
    public int EvalEvery { get; init; } = 10;
    /// <summary>Continue from this learner checkpoint: steps 1..Step are taken as done.</summary>
    public TrainingCheckpoint? ResumeFrom { get; init; }
    /// <summary>Called (on the coordinator's thread) with the ODE samples of the pretrained model (null when unknown) and of the
    /// final model when the run ends, for pictures.</summary>
    public Action<FlowSamples?, FlowSamples>? Pictures { get; init; }
}

/// <summary>
/// The plan of a flow RL experiment (TempFlow-GRPO, Flow-GRPO or an ablation): step k is planned by
/// <see cref="FlowRlTrainer.Plan(FlowGrpoOptions, int, long)"/> (a function of the seed and k alone) and cut into tasks of
/// runtime.groups-per-task groups, the units explorers pull (<see cref="ExploreTask"/>). Explorers score their own groups, so
/// there is no follow-up; the learner trains on the groups in plan order. Explorers fetch the task's reward model from here.
/// </summary>
public sealed class FlowPlan : IStepPlan
{
    /// <summary>The work kind of explorers.</summary>
    public const string ExploreWork = "explore";

    private readonly FlowExperimentSettings settings;
    private readonly string taskJson;
    private byte[]? rewardModel;
    private string rewardModelSha = "";

    /// <summary>The plan of <paramref name="settings"/>.</summary>
    public FlowPlan(FlowExperimentSettings settings)
    {
        this.settings = settings;
        taskJson = settings.Learner.Task.ToJson();
        var learner = settings.Learner;
        Learner = LearnerActor.Props(() => new FlowLearnerCore(learner));
    }

    /// <summary>Props of the coordinator of <paramref name="settings"/>.</summary>
    public static Props Props(FlowExperimentSettings settings, IExperimentObserver observer) =>
        StepCoordinator.Props(new FlowPlan(settings), observer, settings.ResumeFrom);

    /// <inheritdoc />
    public string Experiment => settings.Name;
    /// <inheritdoc />
    public long TotalSteps => settings.TotalSteps;
    /// <inheritdoc />
    public RuntimeOptions Runtime => settings.Runtime;
    /// <inheritdoc />
    public Props Learner { get; }
    /// <inheritdoc />
    public string? WorkKind => ExploreWork;
    /// <inheritdoc />
    public string AbandonedBeforeFirstStep => "the setup is abandoned";
    /// <inheritdoc />
    public bool EvaluationInStepMetrics => true;

    /// <inheritdoc />
    public string StartLine(TrainingCheckpoint? r) => r is not null
        ? $"experiment {settings.Name}: resuming after step {r.Step} (weights sha256 {r.WeightsSha256[..12]}...)"
        : $"experiment {settings.Name}: setting up {settings.Learner.Task.KindName} on the learner (reward, flow-matching pretraining of {settings.Learner.Model})";

    /// <inheritdoc />
    public void OnReady(LearnerProtocol.Ready ready)
    {
        rewardModel = ready.Resource as byte[];
        rewardModelSha = rewardModel is null ? "" : Convert.ToHexString(SHA256.HashData(rewardModel)).ToLowerInvariant();
    }

    /// <inheritdoc />
    public string? ReadyLine(LearnerProtocol.Ready r) => $"learner ready in {r.Seconds:F1} s; {TotalSteps - r.Step} RL steps to go";

    /// <inheritdoc />
    public IReadOnlyList<object> Units(long step, long samplingVersion)
    {
        var specs = FlowRlTrainer.Plan(settings.Learner.Grpo, settings.Learner.Model.Classes, step - 1);
        int per = Runtime.UnitSize <= 0 ? specs.Count : Runtime.UnitSize;
        var units = new List<object>();
        for (int start = 0, i = 0; start < specs.Count; start += per, i++)
            units.Add(new ExploreTask(settings.Name, step, i, samplingVersion, specs.Skip(start).Take(per).ToArray(),
                settings.Learner.Grpo.Sampling, taskJson, rewardModelSha));
        return units;
    }

    /// <summary>The groups must be the task's, in its order.</summary>
    public string? Check(object unit, IUnitResult result)
    {
        var (task, r) = ((ExploreTask)unit, (ExploredGroups)result);
        var expected = task.Groups.Select(g => g.GroupId).ToArray();
        if (!r.Groups.Select(g => g.GroupId).SequenceEqual(expected))
            return $"groups [{string.Join(",", r.Groups.Select(g => g.GroupId))}] returned for [{string.Join(",", expected)}]";
        foreach (var g in r.Groups) g.Validate();
        return null;
    }

    /// <summary>Plan order: tasks by index, groups in each task's order (FlowRlTrainer.TrainOn orders by group id as well).</summary>
    public object Combine(long step, IReadOnlyList<UnitOutcome> outcomes) =>
        outcomes.SelectMany(o => ((ExploredGroups)o.Result).Groups).ToList();

    /// <inheritdoc />
    public string? EvaluateAfter(long step) => step >= TotalSteps || (settings.EvalEvery > 0 && step % settings.EvalEvery == 0) ? "eval" : null;

    /// <inheritdoc />
    public Dictionary<string, double> StepMetrics(IReadOnlyDictionary<string, double> learner, IReadOnlyList<UnitOutcome> outcomes, StepFacts f)
    {
        var results = outcomes.Select(o => (ExploredGroups)o.Result).ToList();
        int rollouts = results.Sum(x => x.Groups.Sum(g => g.Members));
        return new Dictionary<string, double>(learner)
        {
            [RuntimeMetrics.PolicyVersion] = f.Version,
            [RuntimeMetrics.RolloutsPerSecond] = rollouts / f.WallSeconds,
            [RuntimeMetrics.StaleDropped] = f.StaleDropped,
            [RuntimeMetrics.DuplicateDropped] = f.DuplicateDropped,
            [RuntimeMetrics.StepSeconds] = f.WallSeconds,
            [RuntimeMetrics.TrainSeconds] = f.TrainSeconds,
            [FlowRunMetrics.ExploreSeconds] = results.Max(x => x.Seconds),
            [FlowRunMetrics.Explorers] = results.Select(x => x.ExplorerId).Distinct().Count(),
        };
    }

    /// <summary>Explorers ask for the task's reward model by its SHA-256.</summary>
    public bool Handle(object message, IActorRef sender, Akka.Event.ILoggingAdapter log)
    {
        if (message is not GetRewardModel g) return false;
        if (rewardModel is not null && string.Equals(g.Sha256, rewardModelSha, StringComparison.OrdinalIgnoreCase)) sender.Tell(new RewardModel(rewardModelSha, rewardModel));
        else log.Warning("an explorer asked for reward model {0}, which this experiment does not have", g.Sha256);
        return true;
    }

    /// <summary>The before/after pictures.</summary>
    public void OnConcluded(object? extra)
    {
        if (extra is FlowConclusion c) settings.Pictures?.Invoke(c.Before, c.After);
    }
}

/// <summary>What a flow learner's conclusion carries for the pictures: ODE samples of the pretrained model (null when unknown)
/// and of the final one.</summary>
public sealed record FlowConclusion(FlowSamples? Before, FlowSamples After);
