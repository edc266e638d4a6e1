using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using RlActors.Environments;
using RlActors.Actors.Learning;
using RlActors.Actors.Protocol;
using RlActors.Actors.Rewards;
using RlActors.Actors.Sampling;
using RlActors.Policies.Grpo;
using RlActors.Rewards;
using RlActors.Rewards.Capo;
using static RlActors.Actors.Protocol.LearnerProtocol;
using static RlActors.Actors.Protocol.RewardProtocol;
using static RlActors.Actors.Protocol.SamplerProtocol;
using static RlActors.Actors.Protocol.WeightsProtocol;

namespace RlActors.Actors.Experiment;

/// <summary>
/// Coordinates one experiment. It cuts every step into slots, hands a slot to each sampler that asks (pull),
/// sends returned rollouts to the reward workers, and when every slot of a step is scored gives the learner the
/// groups in slot order (never arrival order). It registers itself with the cluster's pub-sub mediator so samplers
/// on any node find it; it serves policy weights by version. Its learner child's failure ends the experiment.
/// On <see cref="Stop"/> it stops at the next step boundary: an update in flight completes, work not yet trained on is
/// dropped, the learner checkpoints the last completed step, and the observer hears <see cref="IExperimentObserver.Stopped"/>
/// after that checkpoint was handed to it.
/// </summary>
public sealed class ExperimentActor : CoordinatorActor, IWithTimers
{
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly ExperimentSettings settings;
    private readonly IActorRef mediator;
    private readonly IActorRef learner;
    private readonly TaskSpec task;
    private readonly SamplingSpec sampling;
    private readonly RewardSpecDto[] rewards;
    private readonly JudgeWatch? judgeWatch;
    private readonly Dictionary<long, PolicyWeights> weights = new();
    private readonly SortedDictionary<long, StepWork> steps = new();
    private readonly HashSet<IActorRef> waiting = new();
    private long version = -1;          // -1 until SFT is done; then the number of trained steps
    private bool training;
    private int staleDropped, duplicateDropped;

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props of an experiment.</summary>
    public static Props Props(ExperimentSettings settings, IExperimentObserver observer) =>
        Akka.Actor.Props.Create(() => new ExperimentActor(settings, observer));

    private sealed record Tick;

    private sealed class SlotWork(int slot, long[] problems)
    {
        public int Slot { get; } = slot;
        public long[] Problems { get; } = problems;
        public IActorRef? Sampler { get; set; }
        public DateTime AssignedAt { get; set; }
        public SlotRollouts? Rollouts { get; set; }
        public DateTime ScoreSentAt { get; set; }
        public SlotScored? Scored { get; set; }
    }

    private sealed class StepWork(long step, long samplingVersion, List<SlotWork> slots)
    {
        public long Step { get; } = step;
        public long SamplingVersion { get; } = samplingVersion;
        public List<SlotWork> Slots { get; } = slots;
        public DateTime Started { get; set; } = DateTime.UtcNow;
        public bool Dispatched { get; set; }
    }

    public ExperimentActor(ExperimentSettings settings, IExperimentObserver observer) : base(observer, settings.ResumeFrom)
    {
        this.settings = settings;
        var o = settings.Options;
        task = TaskSpec.Of(o);
        sampling = new SamplingSpec(o.Grpo.GroupSize, o.Grpo.Temperature, o.Grpo.TopK, o.Grpo.MaxNewTokens);
        rewards = settings.Rewards.ToArray();
        judgeWatch = rewards.FirstOrDefault(r => r.Type == RewardWorkerActor.CapoRewardType)?.Settings is { } capo
            ? new JudgeWatch(CapoSettings.FromJson(capo)) : null;
        mediator = DistributedPubSub.Get(Context.System).Mediator;
        learner = Context.ActorOf(LearnerActor.Props(o), "learner");

        Receive<Ready>(OnReady);
        Receive<RequestWork>(OnRequestWork);
        Receive<GetWeights>(g =>
        {
            if (weights.TryGetValue(g.Version, out var w)) Sender.Tell(w);
            else Sender.Tell(new WeightsUnavailable(g.Version, version));
        });
        Receive<SlotRollouts>(OnRollouts);
        Receive<SlotScored>(OnScored);
        Receive<ScoringFailed>(f => { if (f.Experiment == settings.Name) Fail($"a reward worker cannot score: {f.Reason}"); });
        Receive<CannotSample>(f => { if (f.Experiment == settings.Name) Fail($"a sampler cannot sample: {f.Reason}"); });
        Receive<Trained>(OnTrained);
        Receive<Evaluated>(OnEvaluated);
        Receive<CheckpointTaken>(c => CheckpointArrived(c.Step, c.Checkpoint));
        Receive<Tick>(_ => CheckTimeouts());
        Receive<Terminated>(t => Reassign(t.ActorRef, "left"));
    }

    /// <inheritdoc />
    protected override long LastStep => version;
    /// <inheritdoc />
    protected override bool StepInProgress => training;
    /// <inheritdoc />
    protected override string AbandonedBeforeFirstStep => "the SFT warm-up is abandoned";
    /// <inheritdoc />
    protected override void AskForCheckpoint(long step) => learner.Tell(new TakeCheckpoint(step));

    /// <summary>Samplers waiting for work hear there is none.</summary>
    protected override void OnStopping()
    {
        foreach (var w in waiting) w.Tell(new NoMoreWork(settings.Name));
        waiting.Clear();
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        mediator.Tell(new Put(Self));
        Observer.Log(settings.ResumeFrom is { } r
            ? $"experiment {settings.Name}: resuming after step {r.Step} (policy version {r.PolicyVersion}, weights sha256 {r.WeightsSha256[..12]}...)"
            : $"experiment {settings.Name}: SFT warm-up ({settings.Options.Sft.Steps} steps) on the learner");
        learner.Tell(new Initialize(settings.ResumeFrom));
        Timers.StartPeriodicTimer("tick", new Tick(), TimeSpan.FromSeconds(1));
    }

    /// <inheritdoc />
    protected override void PostStop() => mediator.Tell(new Remove(SamplerActor.ExperimentPath));


    private long TotalSteps => settings.Options.GrpoSteps;
    private int MaxStaleness => settings.Runtime.MaxStaleness;

    private void OnReady(Ready r)
    {
        version = r.Weights.Version;
        weights[version] = r.Weights;
        if (settings.ResumeFrom is not null) CheckpointAlreadyStored(version);
        if (settings.ResumeFrom is null)
        {
            Observer.PhaseDone("sft", r.SftSeconds);
            learner.Tell(new Evaluate("sft", 0));
        }
        if (version >= TotalSteps) { Finish(); return; }
        PlanSteps();
        Dispatch();
    }

    /// <summary>Plans every step that may be sampled now: step k is sampled with version k − 1 in synchronous mode,
    /// or with the latest version when it is at most max-staleness versions behind.</summary>
    private void PlanSteps()
    {
        if (version < 0 || Finishing || StopReason is not null) return;
        long next = steps.Count == 0 ? version + 1 : steps.Keys.Max() + 1;
        while (next <= TotalSteps && next - 1 - version <= MaxStaleness)
        {
            var o = settings.Options;
            int p = o.Grpo.PromptsPerStep, per = settings.Runtime.PromptsPerSlot == 0 ? p : settings.Runtime.PromptsPerSlot;
            long first = (next - 1) * p;
            var slots = new List<SlotWork>();
            for (int s = 0, start = 0; start < p; s++, start += per)
                slots.Add(new SlotWork(s, Enumerable.Range(start, Math.Min(per, p - start)).Select(i => first + i).ToArray()));
            steps[next] = new StepWork(next, version, slots);
            next++;
        }
    }

    private void OnRequestWork(RequestWork r)
    {
        if (Finishing || StopReason is not null) { Sender.Tell(new NoMoreWork(settings.Name)); return; }
        if (!TryAssign(Sender)) waiting.Add(Sender);
    }

    private bool TryAssign(IActorRef sampler)
    {
        // One slot per sampler at a time: a repeated request from a busy sampler must not take work from idle ones.
        if (steps.Values.Any(st => st.Slots.Any(sl => sl.Rollouts is null && Equals(sl.Sampler, sampler)))) return true;
        foreach (var step in steps.Values)
            foreach (var slot in step.Slots)
            {
                if (slot.Rollouts is not null || slot.Sampler is not null) continue;
                slot.Sampler = sampler;
                slot.AssignedAt = DateTime.UtcNow;
                if (!step.Dispatched) { step.Dispatched = true; step.Started = DateTime.UtcNow; }
                Context.Watch(sampler);
                ulong seed = SplitMix64.Stream(SplitMix64.Stream(settings.Options.Seed, 3) ^ (ulong)step.Step, (ulong)slot.Slot + 1);
                sampler.Tell(new SampleTask(settings.Name, step.Step, slot.Slot, step.SamplingVersion, slot.Problems, task, sampling, seed));
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

    private void OnRollouts(SlotRollouts r)
    {
        if (r.Experiment != settings.Name) return;
        if (!steps.TryGetValue(r.Step, out var step) || r.Step <= version)
        {
            duplicateDropped += r.Groups.Length;
            log.Debug("dropped rollouts of step {0} slot {1}: step already trained", r.Step, r.Slot);
            return;
        }
        if (r.Slot < 0 || r.Slot >= step.Slots.Count) { log.Warning("dropped rollouts for unknown slot {0} of step {1}", r.Slot, r.Step); return; }
        var slot = step.Slots[r.Slot];
        if (slot.Rollouts is not null) { duplicateDropped += r.Groups.Length; return; }
        if (version - r.PolicyVersion > MaxStaleness || r.PolicyVersion != step.SamplingVersion)
        {
            staleDropped += r.Groups.Length;
            if (Equals(slot.Sampler, Sender)) slot.Sampler = null; // sample it again with current weights
            Dispatch();
            return;
        }
        slot.Rollouts = r;
        SendForScoring(step, slot);
    }

    private void SendForScoring(StepWork step, SlotWork slot)
    {
        slot.ScoreSentAt = DateTime.UtcNow;
        var r = slot.Rollouts!;
        mediator.Tell(new Send(RewardWorkerActor.Path, new ScoreSlot(settings.Name, step.Step, slot.Slot, r.PolicyVersion, task, rewards, r.Groups), localAffinity: false));
    }

    private void OnScored(SlotScored s)
    {
        if (s.Experiment != settings.Name || !steps.TryGetValue(s.Step, out var step) || s.Slot < 0 || s.Slot >= step.Slots.Count) return;
        var slot = step.Slots[s.Slot];
        if (slot.Scored is not null || slot.Rollouts is null) return;
        slot.Scored = s;
        if (s.Failures > 0) log.Warning("step {0} slot {1}: {2} reward failures ({3})", s.Step, s.Slot, s.Failures, string.Join(", ", s.FailedComponents));
        TryTrain();
    }

    private void TryTrain()
    {
        if (training || StopReason is not null || !steps.TryGetValue(version + 1, out var step)) return;
        if (step.Slots.Any(s => s.Scored is null)) return;
        var groups = new List<ScoredGroup>();
        foreach (var slot in step.Slots.OrderBy(s => s.Slot))
            for (int i = 0; i < slot.Rollouts!.Groups.Length; i++)
            {
                var g = slot.Rollouts.Groups[i];
                groups.Add(new ScoredGroup(g.Prompt, g.Completions, slot.Scored!.Rewards[i], slot.Scored.TokenExtras?[i]));
            }
        training = true;
        learner.Tell(new Train(step.Step, groups));
    }

    private void OnTrained(Trained t)
    {
        training = false;
        var step = steps[t.Step];
        steps.Remove(t.Step);
        version = t.Weights.Version;
        weights[version] = t.Weights;
        foreach (var old in weights.Keys.Where(v => v < version - MaxStaleness - 1).ToList()) weights.Remove(old);

        double wall = Math.Max(1e-9, (DateTime.UtcNow - step.Started).TotalSeconds);
        int completions = step.Slots.Sum(s => s.Rollouts!.Groups.Sum(g => g.Completions.Length));
        long tokens = step.Slots.Sum(s => s.Rollouts!.GeneratedTokens);
        int correct = step.Slots.Sum(s => s.Scored!.Correct.Sum());
        var m = new Dictionary<string, double>(t.Metrics)
        {
            [GrpoMetrics.Accuracy] = (double)correct / completions,
            [RuntimeMetrics.PolicyVersion] = version,
            [RuntimeMetrics.RolloutsPerSecond] = completions / wall,
            [RuntimeMetrics.TokensPerSecond] = tokens / wall,
            [RuntimeMetrics.StaleDropped] = staleDropped,
            [RuntimeMetrics.DuplicateDropped] = duplicateDropped,
            [RuntimeMetrics.RewardFailures] = step.Slots.Sum(s => s.Scored!.Failures),
            [RuntimeMetrics.StepSeconds] = wall,
            [RuntimeMetrics.TrainSeconds] = t.Seconds,
            ["sample_s"] = step.Slots.Max(s => s.Rollouts!.SampleSeconds),
            [RuntimeMetrics.Samplers] = step.Slots.Select(s => s.Rollouts!.SamplerId).Distinct().Count(),
        };
        var counters = new Dictionary<string, double>();
        foreach (var slot in step.Slots) RewardCounters.AddInto(counters, slot.Scored!.Counters);
        foreach (var (key, value) in RewardCounters.ToMetrics(counters)) m[key] = value;
        staleDropped = duplicateDropped = 0;
        Observer.StepCompleted(new StepReport(t.Step, version, m));
        // CAPO: critiques that did not vote are counted by reason once per step; too many warn or stop the run.
        if (judgeWatch?.Check(t.Step, counters) is { } verdict)
        {
            if (verdict.Stop) { Fail(verdict.Line); return; }
            Observer.Log(verdict.Line);
        }

        int every = settings.Options.EvalEvery;
        int checkpointEvery = settings.Runtime.CheckpointEvery;
        // Messages to the learner are handled in order, so this snapshot is taken before the next update. The last step is
        // always checkpointed (also with checkpoint-every = 0): a finished run can be shown, exported and extended.
        if ((checkpointEvery > 0 && version % checkpointEvery == 0) || version >= TotalSteps) RequestCheckpoint();
        if (version >= TotalSteps) { Finish(); return; }
        if (StopReason is not null) { StopAfterCheckpoint(); return; }
        if (every > 0 && version % every == 0) learner.Tell(new Evaluate("grpo", version));
        PlanSteps();
        Dispatch();
        TryTrain();
    }

    private void Finish()
    {
        BeginFinishing();
        foreach (var s in waiting) s.Tell(new NoMoreWork(settings.Name));
        waiting.Clear();
        learner.Tell(new Evaluate("final", version));
    }

    private void OnEvaluated(Evaluated e)
    {
        Observer.Evaluation(new EvalReport(e.Phase, e.Step, LmEvalMetrics.Of(e.Accuracy, e.StepAccuracy, e.Problems)));
        if (e.Phase == "final")
        {
            Observer.Finished(weights[version].Bytes);
            Context.Stop(Self);
        }
    }

    private void CheckTimeouts()
    {
        var now = DateTime.UtcNow;
        foreach (var step in steps.Values)
            foreach (var slot in step.Slots)
            {
                if (slot.Rollouts is null && slot.Sampler is not null && now - slot.AssignedAt > settings.Runtime.SlotTimeout)
                {
                    log.Warning("step {0} slot {1}: no rollouts from {2} after {3}; reassigning", step.Step, slot.Slot, slot.Sampler.Path, settings.Runtime.SlotTimeout);
                    slot.Sampler = null;
                }
                else if (slot.Rollouts is not null && slot.Scored is null && now - slot.ScoreSentAt > settings.Runtime.ScoreTimeout)
                {
                    log.Warning("step {0} slot {1}: no scores after {2}; asking again", step.Step, slot.Slot, settings.Runtime.ScoreTimeout);
                    SendForScoring(step, slot);
                }
            }
        Dispatch();
    }

    private void Reassign(IActorRef sampler, string why)
    {
        waiting.Remove(sampler);
        foreach (var step in steps.Values)
            foreach (var slot in step.Slots.Where(s => s.Rollouts is null && Equals(s.Sampler, sampler)))
            {
                log.Info("sampler {0} {1}; step {2} slot {3} goes to another sampler", sampler.Path, why, step.Step, slot.Slot);
                slot.Sampler = null;
            }
        Dispatch();
    }
}
