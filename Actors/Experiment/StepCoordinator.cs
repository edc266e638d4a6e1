using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using RlActors.Actors.Protocol;
using static RlActors.Actors.Protocol.LearnerProtocol;
using static RlActors.Actors.Protocol.WorkerProtocol;

namespace RlActors.Actors.Experiment;

/// <summary>
/// Runs one experiment of any kind, as its <see cref="IStepPlan"/> describes it. It cuts every step into the plan's work units,
/// hands a unit to each worker of the plan's work kind that asks (pull; workers on any node find it through the pub-sub
/// mediator at <see cref="WorkerProtocol.ExperimentPath"/>), sends a returned unit's follow-up (e.g. scoring) to its service,
/// and when every unit of the step is complete gives the learner the plan's combination of the outcomes in unit order (never
/// arrival order). It serves the learner's weights by version. A learner-only kind has no units: each step goes straight to
/// the learner. Synchronous (runtime.max-staleness = 0): step k is handed out with version k − 1; asynchronous: up to
/// max-staleness versions ahead, older results are dropped as stale. Checkpoints, evaluations, a graceful
/// <see cref="CoordinatorActor.Stop"/> and a learner failure are handled alike for every kind.
/// </summary>
public sealed class StepCoordinator : CoordinatorActor, IWithTimers
{
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly IStepPlan plan;
    private readonly Policies.Checkpoints.TrainingCheckpoint? resumeFrom;
    private readonly IActorRef mediator;
    private readonly IActorRef learner;
    private readonly Dictionary<long, IVersionedWeights> weights = new();
    private readonly SortedDictionary<long, StepWork> steps = new();
    private readonly HashSet<IActorRef> waiting = new();
    private long version = -1;          // -1 until the learner is ready; then the number of trained steps
    private bool training;
    private int staleDropped, duplicateDropped;

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props of an experiment run by <paramref name="plan"/>, continuing from <paramref name="resumeFrom"/> when given.</summary>
    public static Props Props(IStepPlan plan, IExperimentObserver observer, Policies.Checkpoints.TrainingCheckpoint? resumeFrom) =>
        Akka.Actor.Props.Create(() => new StepCoordinator(plan, observer, resumeFrom));

    private sealed record Tick;

    private sealed class UnitWork(int index, object message)
    {
        public int Index { get; } = index;
        public object Message { get; } = message;
        public IActorRef? Worker { get; set; }
        public DateTime AssignedAt { get; set; }
        public IUnitResult? Result { get; set; }
        public FollowUp? FollowUp { get; set; }
        public DateTime FollowUpSentAt { get; set; }
        public IFollowUpResult? FollowUpResult { get; set; }
        public bool Complete => Result is not null && (FollowUp is null || FollowUpResult is not null);
    }

    private sealed class StepWork(long step, long samplingVersion, List<UnitWork> units)
    {
        public long Step { get; } = step;
        public long SamplingVersion { get; } = samplingVersion;
        public List<UnitWork> Units { get; } = units;
        public DateTime Started { get; set; } = DateTime.UtcNow;
        public bool Dispatched { get; set; }
    }

    /// <summary>An experiment; see <see cref="Props"/>.</summary>
    public StepCoordinator(IStepPlan plan, IExperimentObserver observer, Policies.Checkpoints.TrainingCheckpoint? resumeFrom) : base(observer, resumeFrom)
    {
        this.plan = plan;
        this.resumeFrom = resumeFrom;
        mediator = DistributedPubSub.Get(Context.System).Mediator;
        learner = Context.ActorOf(plan.Learner, "learner");

        Receive<Progress>(p => Observer.Log(p.Line));
        Receive<Ready>(OnReady);
        Receive<RequestWork>(OnRequestWork);
        Receive<GetWeights>(g =>
        {
            if (weights.TryGetValue(g.Version, out var w)) Sender.Tell(w);
            else Sender.Tell(new WeightsUnavailable(g.Version, version));
        });
        Receive<IUnitResult>(OnResult);
        Receive<WorkDropped>(OnDropped);
        Receive<IFollowUpResult>(OnFollowUpResult);
        Receive<IWorkRefused>(f => { if (f.Experiment == plan.Experiment) Fail(f.Failure); });
        Receive<Trained>(OnTrained);
        Receive<CheckpointTaken>(c => CheckpointArrived(c.Step, c.Checkpoint));
        Receive<Concluded>(OnConcluded);
        Receive<Tick>(_ => CheckTimeouts());
        Receive<Terminated>(t => Reassign(t.ActorRef, "left"));
        ReceiveAny(m => { if (!plan.Handle(m, Sender, log)) Unhandled(m); });
    }

    /// <inheritdoc />
    protected override long LastStep => version;
    /// <inheritdoc />
    protected override bool StepInProgress => training;
    /// <inheritdoc />
    protected override string AbandonedBeforeFirstStep => plan.AbandonedBeforeFirstStep;
    /// <inheritdoc />
    protected override void AskForCheckpoint(long step) => learner.Tell(new TakeCheckpoint(step));

    /// <summary>Workers waiting for work hear there is none; units of steps not yet training are dropped.</summary>
    protected override void OnStopping()
    {
        TellWaitingNoMoreWork();
        foreach (var s in steps.Keys.Where(s => !training || s != version + 1).ToList()) steps.Remove(s);
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        if (plan.WorkKind is not null) mediator.Tell(new Put(Self));
        Observer.Log(plan.StartLine(resumeFrom));
        learner.Tell(new Initialize(resumeFrom));
        Timers.StartPeriodicTimer("tick", new Tick(), TimeSpan.FromSeconds(1));
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        if (plan.WorkKind is not null) mediator.Tell(new Remove(ExperimentPath));
    }

    private long TotalSteps => plan.TotalSteps;
    private int MaxStaleness => plan.Runtime.MaxStaleness;

    private void OnReady(Ready r)
    {
        version = r.Step;
        if (r.Weights is not null) weights[version] = r.Weights;
        if (resumeFrom is not null) CheckpointAlreadyStored(version);
        plan.OnReady(r);
        if (plan.ReadyLine(r) is { } line) Observer.Log(line);
        if (r.Setup is { } setup)
        {
            if (setup.Phase is { } phase) Observer.PhaseDone(phase.Name, phase.Seconds);
            if (setup.Evaluation is not null) Observer.Evaluation(setup.Evaluation);
        }
        if (version >= TotalSteps) { Finish(); return; }
        Advance();
    }

    /// <summary>Plans what may be handed out now, hands it out, and trains what is complete.</summary>
    private void Advance()
    {
        PlanSteps();
        Dispatch();
        TryTrain();
    }

    /// <summary>Plans every step that may be worked on now: step k with version k − 1 in synchronous mode, or with the
    /// latest version when that is at most max-staleness versions behind.</summary>
    private void PlanSteps()
    {
        if (version < 0 || Finishing || StopReason is not null) return;
        long next = steps.Count == 0 ? version + 1 : steps.Keys.Max() + 1;
        while (next <= TotalSteps && next - 1 - version <= MaxStaleness)
        {
            var units = plan.Units(next, version).Select((m, i) => new UnitWork(i, m)).ToList();
            steps[next] = new StepWork(next, version, units);
            next++;
        }
    }

    private void OnRequestWork(RequestWork r)
    {
        if (Finishing || StopReason is not null || r.WorkKind != plan.WorkKind) { Sender.Tell(new NoMoreWork(plan.Experiment)); return; }
        if (!TryAssign(Sender)) waiting.Add(Sender);
    }

    private bool TryAssign(IActorRef worker)
    {
        // One unit per worker at a time: a repeated request from a busy worker must not take work from idle ones.
        if (steps.Values.Any(st => st.Units.Any(u => u.Result is null && Equals(u.Worker, worker)))) return true;
        foreach (var step in steps.Values)
            foreach (var unit in step.Units)
            {
                if (unit.Result is not null || unit.Worker is not null) continue;
                unit.Worker = worker;
                unit.AssignedAt = DateTime.UtcNow;
                if (!step.Dispatched) { step.Dispatched = true; step.Started = DateTime.UtcNow; }
                Context.Watch(worker);
                worker.Tell(unit.Message);
                return true;
            }
        return false;
    }

    private void Dispatch()
    {
        foreach (var s in waiting.ToList())
        {
            if (!TryAssign(s)) break;
            waiting.Remove(s);
        }
    }

    private void OnResult(IUnitResult r)
    {
        if (r.Experiment != plan.Experiment) return;
        if (!steps.TryGetValue(r.Step, out var step) || r.Step <= version || (training && r.Step == version + 1))
        {
            duplicateDropped += r.Items;
            log.Debug("dropped the result of step {0} unit {1}: step already trained", r.Step, r.Unit);
            return;
        }
        if (r.Unit < 0 || r.Unit >= step.Units.Count) { log.Warning("dropped a result for unknown unit {0} of step {1}", r.Unit, r.Step); return; }
        var unit = step.Units[r.Unit];
        if (unit.Result is not null) { duplicateDropped += r.Items; return; }
        if (version - r.PolicyVersion > MaxStaleness || r.PolicyVersion != step.SamplingVersion)
        {
            staleDropped += r.Items;
            if (Equals(unit.Worker, Sender)) unit.Worker = null; // work it again with current weights
            Dispatch();
            return;
        }
        if (plan.Check(unit.Message, r) is { } complaint)
        {
            log.Warning("step {0} unit {1}: {2}; asking again", r.Step, r.Unit, complaint);
            unit.Worker = null;
            Dispatch();
            return;
        }
        unit.Result = r;
        unit.FollowUp = plan.FollowUpOf(step.Step, r);
        if (unit.FollowUp is not null) SendFollowUp(unit);
        else TryTrain();
    }

    private void OnDropped(WorkDropped d)
    {
        if (d.Experiment != plan.Experiment || !steps.TryGetValue(d.Step, out var step) || d.Unit < 0 || d.Unit >= step.Units.Count) return;
        var unit = step.Units[d.Unit];
        if (unit.Result is not null || !Equals(unit.Worker, Sender)) return;
        log.Warning("step {0} unit {1}: {2} gave it back ({3}); handing it out again", d.Step, d.Unit, d.WorkerId, d.Reason);
        unit.Worker = null;
        Dispatch();
    }

    private void SendFollowUp(UnitWork unit)
    {
        unit.FollowUpSentAt = DateTime.UtcNow;
        mediator.Tell(new Send(unit.FollowUp!.Path, unit.FollowUp.Message, localAffinity: false));
    }

    private void OnFollowUpResult(IFollowUpResult s)
    {
        if (s.Experiment != plan.Experiment || !steps.TryGetValue(s.Step, out var step) || s.Unit < 0 || s.Unit >= step.Units.Count) return;
        var unit = step.Units[s.Unit];
        if (unit.FollowUpResult is not null || unit.FollowUp is null) return;
        unit.FollowUpResult = s;
        if (plan.Note(s) is { } note) log.Warning(note);
        TryTrain();
    }

    private void TryTrain()
    {
        if (training || Finishing || StopReason is not null || !steps.TryGetValue(version + 1, out var step)) return;
        if (step.Units.Any(u => !u.Complete)) return;
        if (step.Units.Count == 0) step.Started = DateTime.UtcNow;
        var outcomes = Outcomes(step);
        training = true;
        learner.Tell(new Train(step.Step, plan.Combine(step.Step, outcomes), plan.EvaluateAfter(step.Step)));
    }

    private static List<UnitOutcome> Outcomes(StepWork step) =>
        step.Units.OrderBy(u => u.Index).Select(u => new UnitOutcome(u.Result!, u.FollowUpResult)).ToList();

    private void OnTrained(Trained t)
    {
        training = false;
        var step = steps[t.Step];
        steps.Remove(t.Step);
        version = t.Step;
        if (t.Weights is not null) weights[version] = t.Weights;
        foreach (var old in weights.Keys.Where(v => v < version - MaxStaleness - 1).ToList()) weights.Remove(old);

        double wall = Math.Max(1e-9, (DateTime.UtcNow - step.Started).TotalSeconds);
        var m = plan.StepMetrics(t.Metrics, Outcomes(step), new StepFacts(version, wall, t.Seconds, staleDropped, duplicateDropped));
        if (t.Evaluation is not null && plan.EvaluationInStepMetrics) foreach (var (k, v) in t.Evaluation.Metrics) m[k] = v;
        staleDropped = duplicateDropped = 0;
        Observer.StepCompleted(new StepReport(t.Step, version, m));
        if (t.Evaluation is not null) Observer.Evaluation(t.Evaluation);
        if (plan.AfterStep(t.Step, Outcomes(step)) is { } verdict)
        {
            if (verdict.Stop) { Fail(verdict.Line); return; }
            Observer.Log(verdict.Line);
        }

        int every = plan.Runtime.CheckpointEvery;
        // Messages to the learner are handled in order, so this snapshot is taken before the next update. The last step is
        // always checkpointed (also with checkpoint-every = 0): a finished run can be shown, exported and extended.
        if ((every > 0 && version % every == 0) || version >= TotalSteps) RequestCheckpoint();
        if (version >= TotalSteps) { Finish(); return; }
        if (StopReason is not null) { StopAfterCheckpoint(); return; }
        Advance();
    }

    private void Finish()
    {
        BeginFinishing();
        TellWaitingNoMoreWork();
        learner.Tell(new Conclude(version));
    }

    private void TellWaitingNoMoreWork()
    {
        foreach (var w in waiting) w.Tell(new NoMoreWork(plan.Experiment));
        waiting.Clear();
    }

    private void OnConcluded(Concluded c)
    {
        if (c.Evaluation is not null) Observer.Evaluation(c.Evaluation);
        try { plan.OnConcluded(c.Extra); }
        catch (Exception e) { Observer.Log($"(the experiment's last output failed: {e.Message})"); }
        Observer.Finished(c.Weights);
        Context.Stop(Self);
    }

    private void CheckTimeouts()
    {
        var now = DateTime.UtcNow;
        foreach (var step in steps.Values)
            foreach (var unit in step.Units)
            {
                if (unit.Result is null && unit.Worker is not null && now - unit.AssignedAt > plan.Runtime.UnitTimeout)
                {
                    log.Warning("step {0} unit {1}: no result from {2} after {3}; reassigning", step.Step, unit.Index, unit.Worker.Path, plan.Runtime.UnitTimeout);
                    unit.Worker = null;
                }
                else if (unit.FollowUp is not null && unit.FollowUpResult is null && now - unit.FollowUpSentAt > plan.Runtime.FollowUpTimeout)
                {
                    log.Warning("step {0} unit {1}: no reply to its follow-up after {2}; asking again", step.Step, unit.Index, plan.Runtime.FollowUpTimeout);
                    SendFollowUp(unit);
                }
            }
        Dispatch();
    }

    private void Reassign(IActorRef worker, string why)
    {
        waiting.Remove(worker);
        foreach (var step in steps.Values)
            foreach (var unit in step.Units.Where(u => u.Result is null && Equals(u.Worker, worker)))
            {
                log.Info("worker {0} {1}; step {2} unit {3} goes to another worker", worker.Path, why, step.Step, unit.Index);
                unit.Worker = null;
            }
        Dispatch();
    }
}
