using Akka.Actor;
using RlActors.Actors.Experiment;
using RlActors.Actors.Learning;
using RlActors.Actors.Protocol;
using RlActors.Actors.Rewards;
using RlActors.Environments;
using RlActors.Policies.Checkpoints;
using RlActors.Policies.Grpo;
using RlActors.Policies.Training;
using RlActors.Rewards;
using RlActors.Rewards.Capo;
using static RlActors.Actors.Protocol.RewardProtocol;
using static RlActors.Actors.Protocol.SamplerProtocol;

namespace RlActors.Actors.Grpo;

/// <summary>Everything a language-model RL experiment (kind <c>grpo</c>, any <c>algorithm</c>) needs on the runtime.</summary>
/// <param name="Name">Experiment name.</param>
/// <param name="Options">The policy, task, SFT and algorithm options.</param>
/// <param name="Runtime">Scheduling.</param>
/// <param name="Rewards">Reward components, combined by weight.</param>
public sealed record GrpoSettings(string Name, GrpoRunOptions Options, RuntimeOptions Runtime, IReadOnlyList<RewardSpecDto> Rewards)
{
    /// <summary>Continue from this learner checkpoint instead of running SFT: steps 1..Step are taken as done.</summary>
    public TrainingCheckpoint? ResumeFrom { get; init; }
}

/// <summary>
/// The plan of a language-model RL experiment: step k takes prompts (k−1)·P … k·P−1 of the task's training order, cut into
/// slots of runtime.prompts-per-slot (the work units samplers pull, <see cref="SampleTask"/>); each returned slot is scored by
/// a reward worker (<see cref="ScoreSlot"/>, the follow-up); the learner trains on the scored groups in slot order.
/// </summary>
public sealed class GrpoPlan : IStepPlan
{
    /// <summary>The work kind of samplers.</summary>
    public const string SampleWork = "sample";

    private readonly GrpoSettings settings;
    private readonly TaskSpec task;
    private readonly SamplingSpec sampling;
    private readonly RewardSpecDto[] rewards;
    private readonly JudgeWatch? judgeWatch;

    /// <summary>The plan of <paramref name="settings"/>.</summary>
    public GrpoPlan(GrpoSettings settings)
    {
        this.settings = settings;
        var o = settings.Options;
        task = TaskSpec.Of(o);
        sampling = new SamplingSpec(o.Grpo.GroupSize, o.Grpo.Temperature, o.Grpo.TopK, o.Grpo.MaxNewTokens);
        rewards = settings.Rewards.ToArray();
        judgeWatch = rewards.FirstOrDefault(r => r.Type == RewardWorkerActor.CapoRewardType)?.Settings is { } capo
            ? new JudgeWatch(CapoSettings.FromJson(capo)) : null;
        var options = o;
        Learner = LearnerActor.Props(() => new GrpoLearnerCore(options));
    }

    /// <summary>Props of the coordinator of <paramref name="settings"/>.</summary>
    public static Props Props(GrpoSettings settings, IExperimentObserver observer) =>
        StepCoordinator.Props(new GrpoPlan(settings), observer, settings.ResumeFrom);

    /// <inheritdoc />
    public string Experiment => settings.Name;
    /// <inheritdoc />
    public long TotalSteps => settings.Options.GrpoSteps;
    /// <inheritdoc />
    public RuntimeOptions Runtime => settings.Runtime;
    /// <inheritdoc />
    public Props Learner { get; }
    /// <inheritdoc />
    public string? WorkKind => SampleWork;
    /// <inheritdoc />
    public string AbandonedBeforeFirstStep => "the SFT warm-up is abandoned";

    /// <inheritdoc />
    public string StartLine(TrainingCheckpoint? r) => r is not null
        ? $"experiment {settings.Name}: resuming after step {r.Step} (policy version {r.PolicyVersion}, weights sha256 {r.WeightsSha256[..12]}...)"
        : $"experiment {settings.Name}: SFT warm-up ({settings.Options.Sft.Steps} steps) on the learner";

    /// <inheritdoc />
    public IReadOnlyList<object> Units(long step, long samplingVersion)
    {
        int p = settings.Options.Grpo.PromptsPerStep, per = settings.Runtime.UnitSize == 0 ? p : settings.Runtime.UnitSize;
        long first = (step - 1) * p;
        var units = new List<object>();
        for (int s = 0, start = 0; start < p; s++, start += per)
        {
            var problems = Enumerable.Range(start, Math.Min(per, p - start)).Select(i => first + i).ToArray();
            ulong seed = SplitMix64.Stream(SplitMix64.Stream(settings.Options.Seed, 3) ^ (ulong)step, (ulong)s + 1);
            units.Add(new SampleTask(settings.Name, step, s, samplingVersion, problems, task, sampling, seed));
        }
        return units;
    }

    /// <inheritdoc />
    public FollowUp? FollowUpOf(long step, IUnitResult result)
    {
        var r = (SlotRollouts)result;
        return new FollowUp(RewardWorkerActor.Path, new ScoreSlot(settings.Name, step, r.Slot, r.PolicyVersion, task, rewards, r.Groups));
    }

    /// <inheritdoc />
    public object Combine(long step, IReadOnlyList<UnitOutcome> outcomes)
    {
        var groups = new List<ScoredGroup>();
        foreach (var (result, followUp) in outcomes)
        {
            var (rollouts, scored) = ((SlotRollouts)result, (SlotScored)followUp!);
            for (int i = 0; i < rollouts.Groups.Length; i++)
            {
                var g = rollouts.Groups[i];
                groups.Add(new ScoredGroup(g.Prompt, g.Completions, scored.Rewards[i], scored.TokenExtras?[i]));
            }
        }
        return groups;
    }

    /// <inheritdoc />
    public string? EvaluateAfter(long step) =>
        settings.Options.EvalEvery is var every and > 0 && step % every == 0 && step < TotalSteps ? "grpo" : null;

    /// <inheritdoc />
    public Dictionary<string, double> StepMetrics(IReadOnlyDictionary<string, double> learner, IReadOnlyList<UnitOutcome> outcomes, StepFacts f)
    {
        var slots = outcomes.Select(o => ((SlotRollouts)o.Result, (SlotScored)o.FollowUp!)).ToList();
        int completions = slots.Sum(s => s.Item1.Groups.Sum(g => g.Completions.Length));
        long tokens = slots.Sum(s => s.Item1.GeneratedTokens);
        int correct = slots.Sum(s => s.Item2.Correct.Sum());
        var m = new Dictionary<string, double>(learner)
        {
            [GrpoMetrics.Accuracy] = (double)correct / completions,
            [RuntimeMetrics.PolicyVersion] = f.Version,
            [RuntimeMetrics.RolloutsPerSecond] = completions / f.WallSeconds,
            [RuntimeMetrics.TokensPerSecond] = tokens / f.WallSeconds,
            [RuntimeMetrics.StaleDropped] = f.StaleDropped,
            [RuntimeMetrics.DuplicateDropped] = f.DuplicateDropped,
            [RuntimeMetrics.RewardFailures] = slots.Sum(s => s.Item2.Failures),
            [RuntimeMetrics.StepSeconds] = f.WallSeconds,
            [RuntimeMetrics.TrainSeconds] = f.TrainSeconds,
            ["sample_s"] = slots.Max(s => s.Item1.SampleSeconds),
            [RuntimeMetrics.Samplers] = slots.Select(s => s.Item1.SamplerId).Distinct().Count(),
        };
        foreach (var (key, value) in RewardCounters.ToMetrics(Counters(outcomes))) m[key] = value;
        return m;
    }

    private static Dictionary<string, double> Counters(IReadOnlyList<UnitOutcome> outcomes)
    {
        var counters = new Dictionary<string, double>();
        foreach (var o in outcomes) RewardCounters.AddInto(counters, ((SlotScored)o.FollowUp!).Counters);
        return counters;
    }

    /// <inheritdoc />
    public string? Note(IFollowUpResult reply) => reply is SlotScored { Failures: > 0 } s
        ? $"step {s.Step} slot {s.Slot}: {s.Failures} reward failures ({string.Join(", ", s.FailedComponents)})" : null;

    /// <summary>CAPO: critiques that did not vote are counted by reason once per step; too many warn or stop the run.</summary>
    public (string Line, bool Stop)? AfterStep(long step, IReadOnlyList<UnitOutcome> outcomes) =>
        judgeWatch?.Check(step, Counters(outcomes)) is { } verdict ? (verdict.Line, verdict.Stop) : null;
}
