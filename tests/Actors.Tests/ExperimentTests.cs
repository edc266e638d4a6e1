using Akka.Actor;
using Akka.TestKit;
using RlActors.Actors.Experiment;
using RlActors.Actors.Protocol;
using RlActors.Actors.Rewards;
using RlActors.Policies.Grpo;
using RlActors.Policies.Lm;
using Xunit.Abstractions;
using static RlActors.Actors.Protocol.SamplerProtocol;
using static RlActors.Actors.Protocol.WorkerProtocol;
using RlActors.Actors.Grpo;
using RlActors.Actors.Workers;

namespace RlActors.Actors.Tests;

/// <summary>
/// End to end in one ActorSystem on a one-node cluster: pub-sub, a reward worker at /user/reward, a sampler, and the
/// experiment (with its learner child) at /user/experiment, exactly as a <c>run</c> host wires them.
/// </summary>
public sealed class ExperimentTests(ITestOutputHelper output) : ClusterTestKit(output)
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(90);
    private static readonly RewardSpecDto Outcome = new("outcome", null, 1.0, 5);

    private static GrpoSettings Settings(RewardSpecDto[] rewards, int maxStaleness = 0) =>
        new("tiny", Tiny.Options(grpoSteps: 3), new RuntimeOptions { UnitSize = 2, MaxStaleness = maxStaleness }, rewards);

    /// <summary>Starts the node's workers and the experiment; returns everything the observer saw, in order, up to Finished or Failed.</summary>
    private List<object> Run(GrpoSettings settings, ProbeObserver observer, TestProbe events, TimeSpan? within = null)
    {
        JoinSelfAndAwaitUp();
        Sys.ActorOf(RewardWorkerActor.Props([PluginPaths.TestPlugins]), "reward");
        Sys.ActorOf(PullWorkerActor.Props("test/sampler-0", () => new GrpoSampler()), "sampler-0");
        observer.Experiment = Sys.ActorOf(GrpoPlan.Props(settings, observer), "experiment");
        var seen = new List<object>();
        var timeout = within ?? RunTimeout;
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var remaining = deadline - DateTime.UtcNow;
            Assert.True(remaining > TimeSpan.Zero, $"the experiment did not finish within {timeout}; saw {string.Join(", ", seen)}");
            var e = events.ExpectMsg<object>(remaining);
            seen.Add(e);
            if (e is Finished or Failed) return seen;
        }
    }

    private static List<StepReport> Reports(List<object> seen) => seen.OfType<StepCompleted>().Select(s => s.Report).ToList();

    [Fact]
    public void A_tiny_experiment_runs_every_step_in_order_and_finishes()
    {
        var events = CreateTestProbe();
        var observer = new ProbeObserver(events);
        var seen = Run(Settings([Outcome]), observer, events);

        var finished = Assert.IsType<Finished>(seen[^1]);
        Assert.Equal("sft", Assert.IsType<PhaseDone>(seen.First(e => e is not Logged)).Phase);
        var reports = Reports(seen);
        Assert.Equal([1L, 2L, 3L], reports.Select(r => r.Step));
        Assert.Equal([1L, 2L, 3L], reports.Select(r => r.PolicyVersion));
        Assert.Equal([1.0, 2.0, 3.0], reports.Select(r => r.Metrics[RuntimeMetrics.PolicyVersion]));
        foreach (var r in reports)
        {
            Assert.Contains(GrpoMetrics.Loss, r.Metrics.Keys);
            Assert.InRange(r.Metrics[GrpoMetrics.Accuracy], 0, 1);
            Assert.Equal(0, r.Metrics[RuntimeMetrics.RewardFailures]);
            Assert.Equal(0, r.Metrics[RuntimeMetrics.StaleDropped]);
            Assert.Equal(0, r.Metrics[RuntimeMetrics.DuplicateDropped]);
            Assert.Equal(1, r.Metrics[RuntimeMetrics.Samplers]);
            Assert.True(r.Metrics[RuntimeMetrics.RolloutsPerSecond] > 0);
        }
        var evals = seen.OfType<EvaluatedAt>().ToList();
        Assert.Equal([("sft", 0L), ("final", 3L)], evals.Select(e => (e.Phase, e.Step)));
        Assert.All(evals, e => Assert.Equal(20, e.Problems));

        using var model = new TransformerLm(Tiny.Model, 0);
        model.LoadWeights(finished.Weights); // the final weights are a loadable policy
    }

    [Fact]
    public void A_crashing_reward_actor_is_restarted_and_the_experiment_continues()
    {
        var events = CreateTestProbe();
        var throwing = new RewardSpecDto("TestPlugins.ThrowingReward, TestPlugins", PluginPaths.TestPlugins, 1.0, 1);
        // Each slot's scoring request reaches the component either as it throws or while its backoff supervisor is
        // restarting it; neither may hold the slot until the request expires (timeout + 5 s = 10 s per slot here).
        var seen = Run(Settings([Outcome, throwing]), new ProbeObserver(events), events, within: TimeSpan.FromSeconds(25));

        Assert.IsType<Finished>(seen[^1]);
        var reports = Reports(seen);
        Assert.Equal([1L, 2L, 3L], reports.Select(r => r.Step));
        // Every group of every step misses the throwing component's reward (it threw, or was restarting).
        Assert.All(reports, r => Assert.Equal(4, r.Metrics[RuntimeMetrics.RewardFailures]));
        Assert.All(reports, r => Assert.True(double.IsFinite(r.Metrics[GrpoMetrics.RewardMean])));
        // The throwing component is alive again (a fresh instance under its backoff supervisor).
        AwaitAssert(() =>
        {
            var probe = CreateTestProbe();
            Sys.ActorSelection("/user/reward/reward-1-throwing/component").Tell(new Identify(null), probe);
            Assert.NotNull(probe.ExpectMsg<ActorIdentity>().Subject);
        }, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void Stale_rollouts_are_dropped_in_async_mode()
    {
        var events = CreateTestProbe();
        static RolloutGroup Fake(int i) => new($"tiny/x/{i}", i, [3, 4], [[5, 1], [6, 1], [7, 1], [8, 1]], [new float[2], new float[2], new float[2], new float[2]]);
        var observer = new ProbeObserver(events)
        {
            // Told from inside the experiment's own callbacks, so they are handled right after the current message:
            // before any sampler's rollouts of the planned steps and before the learner's next reply.
            // With max-staleness 1, steps 1 and 2 are planned (sampled with v0) as soon as SFT is done; version 0 - (-2) > 1.
            AtPhaseDone = () => new SlotRollouts("tiny", 2, 1, -2, "intruder", [Fake(0), Fake(1)], 8, 0),
            // Step 1 has just been trained: its rollouts are duplicates now.
            AtStepCompleted = r => r.Step == 1 ? new SlotRollouts("tiny", 1, 0, 0, "intruder", [Fake(0), Fake(1), Fake(2)], 12, 0) : null,
        };
        var seen = Run(Settings([Outcome], maxStaleness: 1), observer, events);

        Assert.IsType<Finished>(seen[^1]);
        var reports = Reports(seen);
        Assert.Equal([1L, 2L, 3L], reports.Select(r => r.Step));
        Assert.Equal([2.0, 0.0, 0.0], reports.Select(r => r.Metrics[RuntimeMetrics.StaleDropped]));
        Assert.Equal([0.0, 3.0, 0.0], reports.Select(r => r.Metrics[RuntimeMetrics.DuplicateDropped]));
        Assert.Equal([1.0, 2.0, 3.0], reports.Select(r => r.Metrics[RuntimeMetrics.PolicyVersion]));
    }

    [Fact]
    public void A_unit_given_back_by_its_worker_is_handed_out_again_at_once_not_after_the_slot_timeout()
    {
        JoinSelfAndAwaitUp();
        var events = CreateTestProbe();
        var worker = CreateTestProbe();
        // The worker asks for work as soon as SFT is done (there is no other sampler).
        var observer = new ProbeObserver(events) { InjectAs = worker, AtPhaseDone = () => new WorkerProtocol.RequestWork("probe/sampler-0", GrpoPlan.SampleWork) };
        observer.Experiment = Sys.ActorOf(GrpoPlan.Props(Settings([Outcome]), observer), "experiment");
        var first = worker.ExpectMsg<SampleTask>(RunTimeout);
        Assert.Equal((1L, 0), (first.Step, first.Slot));

        // Its weights could not be fetched: the worker gives the unit back and asks again.
        worker.Send(observer.Experiment, new WorkerProtocol.WorkDropped("tiny", first.Step, first.Slot, "probe/sampler-0", "weights v0 could not be fetched"));
        worker.Send(observer.Experiment, new WorkerProtocol.RequestWork("probe/sampler-0", GrpoPlan.SampleWork));
        var again = worker.ExpectMsg<SampleTask>(TimeSpan.FromSeconds(5)); // the slot timeout is 120 s
        Assert.Equal((first.Step, first.Slot, first.PolicyVersion), (again.Step, again.Slot, again.PolicyVersion));
    }

    [Fact]
    public void Weights_are_served_by_version_and_an_unknown_version_is_answered_as_unavailable()
    {
        var events = CreateTestProbe();
        var asker = CreateTestProbe();
        var observer = new ProbeObserver(events)
        {
            InjectAs = asker,
            AtPhaseDone = () => new WorkerProtocol.GetWeights(0),
            AtStepCompleted = r => new WorkerProtocol.GetWeights(7),
        };
        var seen = Run(Settings([Outcome]) with { Options = Tiny.Options(grpoSteps: 1) }, observer, events);

        Assert.IsType<Finished>(seen[^1]);
        var v0 = asker.ExpectMsg<WeightsProtocol.PolicyWeights>();
        Assert.Equal((0L, Tiny.ModelSpec), (v0.Version, v0.Model));
        Assert.Equal(new WorkerProtocol.WeightsUnavailable(7, 1), asker.ExpectMsg<WorkerProtocol.WeightsUnavailable>());
    }
}

/// <summary>What the observer saw, as messages to a probe.</summary>
internal sealed record Logged(string Line);
internal sealed record PhaseDone(string Phase, double Seconds);
internal sealed record StepCompleted(StepReport Report) { public override string ToString() => $"step {Report.Step}"; }
internal sealed record EvaluatedAt(string Phase, long Step, double Accuracy, int Problems);
internal sealed record Finished(byte[] Weights) { public override string ToString() => "finished"; }
internal sealed record Failed(string Reason);
internal sealed record StoppedAt(long Step, string Reason);

/// <summary>
/// Forwards every callback to a probe. Optional hooks return a message to tell the experiment from inside a callback
/// (the callback runs in the experiment actor, so that message is handled right after the current one).
/// </summary>
internal sealed class ProbeObserver(IActorRef probe) : IExperimentObserver
{
    private volatile IActorRef? experiment;

    public IActorRef? Experiment { get => experiment; set => experiment = value; }
    public IActorRef? InjectAs { get; init; }
    public Func<object?>? AtPhaseDone { get; init; }
    public Func<StepReport, object?>? AtStepCompleted { get; init; }

    private void Inject(object? message)
    {
        if (message is null) return;
        // The experiment's ref is set right after ActorOf returns, long before SFT ends; wait for it all the same.
        SpinWait.SpinUntil(() => experiment is not null, TimeSpan.FromSeconds(10));
        experiment!.Tell(message, InjectAs ?? ActorRefs.NoSender);
    }

    public void Log(string line) => probe.Tell(new Logged(line));
    public void PhaseDone(string phase, double seconds) { Inject(AtPhaseDone?.Invoke()); probe.Tell(new PhaseDone(phase, seconds)); }
    public void StepCompleted(StepReport report) { Inject(AtStepCompleted?.Invoke(report)); probe.Tell(new StepCompleted(report)); }
    public void Evaluation(EvalReport report) => probe.Tell(report.Metrics.TryGetValue(LmEvalMetrics.Accuracy, out var accuracy)
        ? new EvaluatedAt(report.Phase, report.Step, accuracy, (int)report.Metrics[LmEvalMetrics.Problems])
        : report);
    public void Finished(byte[] finalWeights) => probe.Tell(new Finished(finalWeights));
    public void CheckpointTaken(long step, RlActors.Policies.Checkpoints.TrainingCheckpoint checkpoint) => probe.Tell(new CheckpointAt(step, checkpoint));
    public void Failed(string reason) => probe.Tell(new Failed(reason));
    public void Stopped(long step, string reason) => probe.Tell(new StoppedAt(step, reason));
}

internal sealed record CheckpointAt(long Step, RlActors.Policies.Checkpoints.TrainingCheckpoint Checkpoint);
