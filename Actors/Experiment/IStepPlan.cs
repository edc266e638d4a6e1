using Akka.Actor;
using RlActors.Actors.Protocol;
using RlActors.Policies.Checkpoints;

namespace RlActors.Actors.Experiment;

/// <summary>
/// What makes one kind of experiment, for the one <see cref="StepCoordinator"/> that runs every kind: its learner, the work
/// units of a step (messages handed to workers that pull them; none for a learner-only kind), an optional follow-up per unit
/// (e.g. scoring rollouts), how results combine into the learner's batch (always in plan order, never arrival order), the
/// step's metrics and when to evaluate. Everything here is called on the coordinator's thread: keep it quick and free of torch.
/// </summary>
public interface IStepPlan
{
    /// <summary>Experiment name (work messages and results carry it).</summary>
    string Experiment { get; }
    /// <summary>Steps to run in all.</summary>
    long TotalSteps { get; }
    /// <summary>Scheduling (checkpoint-every, staleness, timeouts; <c>runtime.*</c>).</summary>
    RuntimeOptions Runtime { get; }
    /// <summary>Props of the learner child (it must answer <see cref="LearnerProtocol"/>).</summary>
    Props Learner { get; }
    /// <summary>The work kind of the workers that pull this plan's units (<see cref="WorkerProtocol.RequestWork.WorkKind"/>), or
    /// null for a learner-only kind.</summary>
    string? WorkKind { get; }
    /// <summary>The first line logged: what the run starts with.</summary>
    string StartLine(TrainingCheckpoint? resumeFrom);
    /// <summary>What a stop before the learner is ready abandons, e.g. "the SFT warm-up is abandoned".</summary>
    string AbandonedBeforeFirstStep { get; }
    /// <summary>The learner is ready; a line to log, or null.</summary>
    string? ReadyLine(LearnerProtocol.Ready ready) => null;
    /// <summary>The work units of <paramref name="step"/>, sampled with policy version <paramref name="samplingVersion"/>; unit i
    /// is element i. Each is sent as it is to a worker of <see cref="WorkKind"/>. Empty for a learner-only kind.</summary>
    IReadOnlyList<object> Units(long step, long samplingVersion);
    /// <summary>Checks a result of a unit (its step, unit index and version match); a complaint makes the coordinator hand the
    /// unit out again, null accepts it.</summary>
    string? Check(object unit, IUnitResult result) => null;
    /// <summary>A follow-up a returned unit needs before the learner may use it (e.g. reward scoring), as a message for the
    /// pub-sub path <see cref="FollowUp.Path"/>; null when the result is complete as it is.</summary>
    FollowUp? FollowUpOf(long step, IUnitResult result) => null;
    /// <summary>The learner's batch for <paramref name="step"/> from its units' outcomes, in unit order.</summary>
    object Combine(long step, IReadOnlyList<UnitOutcome> outcomes);
    /// <summary>The evaluation phase to run right after <paramref name="step"/> trains, or null for none.</summary>
    string? EvaluateAfter(long step) => null;
    /// <summary>Whether an evaluation taken with a step is also written into that step's metrics.</summary>
    bool EvaluationInStepMetrics => false;
    /// <summary>The step's metrics: the learner's, then the kind's own from the outcomes and <paramref name="facts"/>.</summary>
    Dictionary<string, double> StepMetrics(IReadOnlyDictionary<string, double> learner, IReadOnlyList<UnitOutcome> outcomes, StepFacts facts);
    /// <summary>After a step's report: a line to log, or (Stop) a reason that ends the run; null for nothing.</summary>
    (string Line, bool Stop)? AfterStep(long step, IReadOnlyList<UnitOutcome> outcomes) => null;
    /// <summary>A warning about a follow-up's reply (e.g. reward components that failed), logged when it arrives; null for none.</summary>
    string? Note(IFollowUpResult reply) => null;
    /// <summary>The learner is ready (e.g. keep a resource workers will ask for).</summary>
    void OnReady(LearnerProtocol.Ready ready) { }
    /// <summary>A message the coordinator does not know (e.g. a worker asking for a resource); true when handled.</summary>
    bool Handle(object message, IActorRef sender, Akka.Event.ILoggingAdapter log) => false;
    /// <summary>The run ended; <paramref name="extra"/> is what the learner's conclusion carried (e.g. samples for pictures).</summary>
    void OnConcluded(object? extra) { }
}

/// <summary>A message for a service found through pub-sub (e.g. the reward workers at <c>/user/reward</c>), sent again when
/// no reply comes within <see cref="RuntimeOptions.ScoreTimeout"/>.</summary>
public sealed record FollowUp(string Path, object Message);

/// <summary>A unit's outcome: the worker's result and, when the unit had a follow-up, its reply.</summary>
public sealed record UnitOutcome(IUnitResult Result, IFollowUpResult? FollowUp);

/// <summary>What the coordinator measured of a step, for its metrics.</summary>
/// <param name="Version">Policy version after the step.</param>
/// <param name="WallSeconds">From the step's first handed-out unit (or its start) to the new weights.</param>
/// <param name="TrainSeconds">The learner's update.</param>
/// <param name="StaleDropped">Items (groups) dropped in the step because their version was too old.</param>
/// <param name="DuplicateDropped">Items dropped because their unit had already been returned.</param>
public sealed record StepFacts(long Version, double WallSeconds, double TrainSeconds, int StaleDropped, int DuplicateDropped);
