using System.Security.Cryptography;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using RlActors.Actors.Experiment;
using RlActors.Actors.Sampling;
using RlActors.Policies.Checkpoints;
using RlActors.Policies.Flow;
using static RlActors.Actors.Flow.FlowLearnerProtocol;
using static RlActors.Actors.Flow.FlowProtocol;
using static RlActors.Actors.Protocol.LearnerProtocol;
using static RlActors.Actors.Protocol.SamplerProtocol;
using static RlActors.Actors.Protocol.WeightsProtocol;
using Ready = RlActors.Actors.Flow.FlowLearnerProtocol.Ready;
using Trained = RlActors.Actors.Flow.FlowLearnerProtocol.Trained;

namespace RlActors.Actors.Flow;

/// <summary>Everything a <see cref="FlowExperimentActor"/> needs.</summary>
/// <param name="Name">Experiment name.</param>
/// <param name="Learner">The learner's settings.</param>
/// <param name="TotalSteps">RL steps to run in all.</param>
public sealed record FlowExperimentSettings(string Name, FlowLearnerSettings Learner, long TotalSteps)
{
    /// <summary>Groups per explorer task; 0 puts a whole step in one task.</summary>
    public int GroupsPerTask { get; init; }
    /// <summary>A task not returned within this time is handed to another explorer.</summary>
    public TimeSpan TaskTimeout { get; init; } = TimeSpan.FromSeconds(120);
    /// <summary>Checkpoint every this many steps; the last step and a stop are always checkpointed (0: only those).</summary>
    public int CheckpointEvery { get; init; }
    /// <summary>Evaluate the ODE reward every this many steps (and after the last); 0 only at the start and the end.</summary>
    public int EvalEvery { get; init; } = 10;
    /// <summary>Continue from this learner checkpoint: steps 1..Step are taken as done.</summary>
    public TrainingCheckpoint? ResumeFrom { get; init; }
    /// <summary>Called (on the actor's thread) with the ODE samples of the pretrained model (null when unknown) and of the
    /// final model when the run ends, for pictures.</summary>
    public Action<FlowSamples?, FlowSamples>? Pictures { get; init; }
}

/// <summary>
/// Coordinates one flow RL experiment (TempFlow-GRPO, Flow-GRPO or an ablation) on the actor runtime. Step k is planned by
/// <see cref="FlowRlTrainer.Plan(FlowGrpoOptions, int, long)"/> (a function of the seed and k alone), cut into tasks of
/// <see cref="FlowExperimentSettings.GroupsPerTask"/> groups and handed to explorer actors that ask for work (pull, through the
/// pub-sub mediator: explorers may live on any node). Explorers sample with version k − 1, fetched from here by version, and
/// return scored sibling groups. When every task of the step is back, the learner child trains on the groups in plan order
/// (not arrival order), so a run does not depend on how many explorers there were or which answered first, and a resumed
/// run is exact. Evaluations, checkpoints and a graceful <see cref="ExperimentActor.Stop"/> work as in the other experiments.
/// </summary>
public sealed class FlowExperimentActor : CoordinatorActor, IWithTimers
{
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly FlowExperimentSettings settings;
    private readonly IActorRef mediator;
    private readonly IActorRef learner;
    private readonly string taskJson;
    private readonly HashSet<IActorRef> waiting = new();
    private FlowWeights? current;
    private byte[]? rewardModel;
    private string rewardModelSha = "";
    private StepWork? work;            // the step being explored or trained
    private long version = -1;         // -1 until the learner is ready; then the steps trained
    private bool training;
    private int staleDropped, duplicateDropped;

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props of a flow experiment.</summary>
    public static Props Props(FlowExperimentSettings settings, IExperimentObserver observer) =>
        Akka.Actor.Props.Create(() => new FlowExperimentActor(settings, observer));

    private sealed record Tick;

    private sealed class TaskWork(int index, FlowGroupSpec[] groups)
    {
        public int Index { get; } = index;
        public FlowGroupSpec[] Groups { get; } = groups;
        public IActorRef? Explorer { get; set; }
        public DateTime AssignedAt { get; set; }
        public ExploredGroups? Result { get; set; }
    }

    private sealed class StepWork(long step, List<TaskWork> tasks)
    {
        public long Step { get; } = step;
        public List<TaskWork> Tasks { get; } = tasks;
        public DateTime Started { get; } = DateTime.UtcNow;
    }

    /// <summary>A flow experiment; see <see cref="Props"/>.</summary>
    public FlowExperimentActor(FlowExperimentSettings settings, IExperimentObserver observer) : base(observer, settings.ResumeFrom)
    {
        this.settings = settings;
        taskJson = settings.Learner.Task.ToJson();
        mediator = DistributedPubSub.Get(Context.System).Mediator;
        learner = Context.ActorOf(FlowLearnerActor.Props(settings.Learner), "learner");

        Receive<Progress>(p => Observer.Log(p.Line));
        Receive<Ready>(OnReady);
        Receive<RequestExploration>(_ => OnRequest());
        Receive<RequestWork>(_ => Sender.Tell(new NoMoreWork(settings.Name))); // a GRPO sampler: nothing for it here
        Receive<GetWeights>(g =>
        {
            if (current is not null && current.Version == g.Version) Sender.Tell(current);
            else Sender.Tell(new WeightsUnavailable(g.Version, version));
        });
        Receive<GetRewardModel>(g =>
        {
            if (rewardModel is not null && string.Equals(g.Sha256, rewardModelSha, StringComparison.OrdinalIgnoreCase)) Sender.Tell(new RewardModel(rewardModelSha, rewardModel));
            else log.Warning("an explorer asked for reward model {0}, which this experiment does not have", g.Sha256);
        });
        Receive<ExploredGroups>(OnExplored);
        Receive<Trained>(OnTrained);
        Receive<CheckpointTaken>(c => CheckpointArrived(c.Step, c.Checkpoint));
        Receive<Concluded>(OnConcluded);
        Receive<Tick>(_ => CheckTimeouts());
        Receive<Terminated>(t => Reassign(t.ActorRef, "left"));
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        mediator.Tell(new Put(Self));
        var o = settings.Learner;
        Observer.Log(settings.ResumeFrom is { } r
            ? $"experiment {settings.Name}: resuming after step {r.Step} (weights sha256 {r.WeightsSha256[..12]}...)"
            : $"experiment {settings.Name}: setting up {o.Task.KindName} on the learner (reward, flow-matching pretraining of {o.Model})");
        learner.Tell(new FlowLearnerProtocol.Initialize(settings.ResumeFrom));
        Timers.StartPeriodicTimer("tick", new Tick(), TimeSpan.FromSeconds(1));
    }

    /// <inheritdoc />
    protected override void PostStop() => mediator.Tell(new Remove(SamplerActor.ExperimentPath));

    private long Total => settings.TotalSteps;

    /// <inheritdoc />
    protected override long LastStep => version;
    /// <inheritdoc />
    protected override bool StepInProgress => training;
    /// <inheritdoc />
    protected override string AbandonedBeforeFirstStep => "the setup is abandoned";
    /// <inheritdoc />
    protected override void AskForCheckpoint(long step) => learner.Tell(new TakeCheckpoint(step));

    /// <summary>Explorers waiting for work hear there is none; exploration of a step not yet training is dropped.</summary>
    protected override void OnStopping()
    {
        foreach (var w in waiting) w.Tell(new NoMoreWork(settings.Name));
        waiting.Clear();
        if (!training) work = null;
    }

    private void OnReady(Ready r)
    {
        version = r.Step;
        current = r.Weights;
        rewardModel = r.RewardModel;
        rewardModelSha = r.RewardModel is null ? "" : Convert.ToHexString(SHA256.HashData(r.RewardModel)).ToLowerInvariant();
        if (settings.ResumeFrom is not null) CheckpointAlreadyStored(version);
        Observer.Log($"learner ready in {r.Seconds:F1} s; {Total - version} RL steps to go");
        if (r.Evaluation is not null) Observer.Evaluation(new EvalReport("pretrained", 0, r.Evaluation));
        if (version >= Total) { Finish(); return; }
        PlanNext();
    }

    private void PlanNext()
    {
        if (Finishing || StopReason is not null) return;
        long step = version + 1;
        var specs = FlowRlTrainer.Plan(settings.Learner.Grpo, settings.Learner.Model.Classes, step - 1);
        int per = settings.GroupsPerTask <= 0 ? specs.Count : settings.GroupsPerTask;
        var tasks = new List<TaskWork>();
        for (int start = 0, i = 0; start < specs.Count; start += per, i++)
            tasks.Add(new TaskWork(i, specs.Skip(start).Take(per).ToArray()));
        work = new StepWork(step, tasks);
        Dispatch();
    }

    private void OnRequest()
    {
        if (Finishing || StopReason is not null) { Sender.Tell(new NoMoreWork(settings.Name)); return; }
        if (!TryAssign(Sender)) waiting.Add(Sender);
    }

    private bool TryAssign(IActorRef explorer)
    {
        if (work is null || training) return false;
        // One task per explorer at a time: a repeated request from a busy explorer must not take work from idle ones.
        if (work.Tasks.Any(t => t.Result is null && Equals(t.Explorer, explorer))) return true;
        var free = work.Tasks.FirstOrDefault(t => t.Result is null && t.Explorer is null);
        if (free is null) return false;
        free.Explorer = explorer;
        free.AssignedAt = DateTime.UtcNow;
        Context.Watch(explorer);
        var o = settings.Learner;
        explorer.Tell(new ExploreTask(settings.Name, work.Step, free.Index, version, free.Groups, o.Grpo.Sampling, taskJson, rewardModelSha));
        return true;
    }

    private void Dispatch()
    {
        foreach (var e in waiting.ToList())
        {
            if (!TryAssign(e)) break;
            waiting.Remove(e);
        }
    }

    private void OnExplored(ExploredGroups r)
    {
        if (r.Experiment != settings.Name) return;
        if (work is null || r.Step != work.Step || training)
        {
            duplicateDropped += r.Groups.Length;
            log.Debug("dropped groups of step {0} task {1}: not the step being explored", r.Step, r.Task);
            return;
        }
        if (r.Task < 0 || r.Task >= work.Tasks.Count) { log.Warning("dropped groups of unknown task {0} of step {1}", r.Task, r.Step); return; }
        var task = work.Tasks[r.Task];
        if (task.Result is not null) { duplicateDropped += r.Groups.Length; return; }
        if (r.PolicyVersion != version)
        {
            staleDropped += r.Groups.Length;
            if (Equals(task.Explorer, Sender)) task.Explorer = null; // explore it again with the current weights
            Dispatch();
            return;
        }
        var expected = task.Groups.Select(g => g.GroupId).ToArray();
        if (!r.Groups.Select(g => g.GroupId).SequenceEqual(expected))
        {
            log.Warning("step {0} task {1}: groups [{2}] returned for [{3}]; asking again", r.Step, r.Task,
                string.Join(",", r.Groups.Select(g => g.GroupId)), string.Join(",", expected));
            task.Explorer = null;
            Dispatch();
            return;
        }
        foreach (var g in r.Groups) g.Validate();
        task.Result = r;
        TryTrain();
    }

    private void TryTrain()
    {
        if (training || StopReason is not null || work is null || work.Tasks.Any(t => t.Result is null)) return;
        // Plan order: tasks by index, groups in each task's order (FlowRlTrainer.TrainOn orders by group id as well).
        var groups = work.Tasks.OrderBy(t => t.Index).SelectMany(t => t.Result!.Groups).ToList();
        long step = work.Step;
        bool evaluate = step >= Total || (settings.EvalEvery > 0 && step % settings.EvalEvery == 0);
        training = true;
        learner.Tell(new FlowLearnerProtocol.Train(step, groups, evaluate));
    }

    private void OnTrained(Trained t)
    {
        training = false;
        var step = work!;
        work = null;
        version = t.Weights.Version;
        current = t.Weights;

        double wall = Math.Max(1e-9, (DateTime.UtcNow - step.Started).TotalSeconds);
        int rollouts = step.Tasks.Sum(x => x.Result!.Groups.Sum(g => g.Members));
        var m = new Dictionary<string, double>(t.Metrics)
        {
            [RuntimeMetrics.PolicyVersion] = version,
            [RuntimeMetrics.RolloutsPerSecond] = rollouts / wall,
            [RuntimeMetrics.StaleDropped] = staleDropped,
            [RuntimeMetrics.DuplicateDropped] = duplicateDropped,
            [RuntimeMetrics.StepSeconds] = wall,
            [RuntimeMetrics.TrainSeconds] = t.Seconds,
            [FlowRunMetrics.ExploreSeconds] = step.Tasks.Max(x => x.Result!.Seconds),
            [FlowRunMetrics.Explorers] = step.Tasks.Select(x => x.Result!.ExplorerId).Distinct().Count(),
        };
        if (t.Evaluation is not null) foreach (var (k, v) in t.Evaluation) m[k] = v;
        staleDropped = duplicateDropped = 0;
        Observer.StepCompleted(new StepReport(t.Step, version, m));
        if (t.Evaluation is not null) Observer.Evaluation(new EvalReport("eval", t.Step, t.Evaluation));

        int every = settings.CheckpointEvery;
        // Messages to the learner are handled in order, so this snapshot is taken before the next update; the last step is
        // always checkpointed (also with checkpoint-every = 0).
        if ((every > 0 && version % every == 0) || version >= Total) RequestCheckpoint();
        if (version >= Total) { Finish(); return; }
        if (StopReason is not null) { StopAfterCheckpoint(); return; }
        PlanNext();
    }

    private void Finish()
    {
        BeginFinishing();
        foreach (var w in waiting) w.Tell(new NoMoreWork(settings.Name));
        waiting.Clear();
        learner.Tell(new Conclude(version));
    }

    private void OnConcluded(Concluded c)
    {
        try { settings.Pictures?.Invoke(c.Before, c.After); }
        catch (Exception e) { Observer.Log($"(could not draw the sample pictures: {e.Message})"); }
        Observer.Finished(c.Weights);
        Context.Stop(Self);
    }

    private void CheckTimeouts()
    {
        if (work is null) return;
        var now = DateTime.UtcNow;
        foreach (var t in work.Tasks)
            if (t.Result is null && t.Explorer is not null && now - t.AssignedAt > settings.TaskTimeout)
            {
                log.Warning("step {0} task {1}: no groups from {2} after {3}; reassigning", work.Step, t.Index, t.Explorer.Path, settings.TaskTimeout);
                t.Explorer = null;
            }
        Dispatch();
    }

    private void Reassign(IActorRef explorer, string why)
    {
        waiting.Remove(explorer);
        if (work is null) return;
        foreach (var t in work.Tasks.Where(t => t.Result is null && Equals(t.Explorer, explorer)))
        {
            log.Info("explorer {0} {1}; step {2} task {3} goes to another explorer", explorer.Path, why, work.Step, t.Index);
            t.Explorer = null;
        }
        Dispatch();
    }

}
