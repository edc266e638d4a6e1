using Akka.Actor;
using Akka.TestKit;
using RlActors.Actors.Experiment;
using RlActors.Actors.Protocol;
using RlActors.Actors.Rewards;
using RlActors.Policies.Checkpoints;
using Xunit.Abstractions;
using RlActors.Actors.Grpo;
using RlActors.Actors.Workers;

namespace RlActors.Actors.Tests;

/// <summary>Exact resume on the actor runtime: a run continued from a learner checkpoint ends bitwise where an uninterrupted run ends.</summary>
public sealed class ResumeTests(ITestOutputHelper output) : ClusterTestKit(output)
{
    // Length penalty gives every group reward variance even for an untrained model, so every update moves the weights.
    private static readonly RewardSpecDto[] Rewards =
        [new("MyLab.Rewards.LengthPenalty, MyLab.Rewards", PluginPaths.MyLabRewards, 1.0, 10)];

    private List<object> RunToEnd(GrpoSettings settings, TestProbe events)
    {
        var observer = new ProbeObserver(events);
        var experiment = Sys.ActorOf(GrpoPlan.Props(settings, observer), "experiment");
        observer.Experiment = experiment;
        Watch(experiment);
        var seen = new List<object>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (seen.LastOrDefault() is not (Finished or Failed or StoppedAt))
            seen.Add(events.ExpectMsg<object>(deadline - DateTime.UtcNow));
        ExpectTerminated(experiment, TimeSpan.FromSeconds(10)); // the name is free for the next run
        return seen;
    }

    [Fact]
    public void A_run_resumed_from_a_checkpoint_ends_with_the_same_weights_as_an_uninterrupted_run()
    {
        JoinSelfAndAwaitUp();
        Sys.ActorOf(RewardWorkerActor.Props(), "reward");
        Sys.ActorOf(PullWorkerActor.Props("test/sampler-0", () => new GrpoSampler()), "sampler-0");
        var runtime = new RuntimeOptions { UnitSize = 2, CheckpointEvery = 2 };
        var settings = new GrpoSettings("resume", Tiny.Options(grpoSteps: 4), runtime, Rewards);
        var events = CreateTestProbe();

        var full = RunToEnd(settings, events);
        var fullWeights = Assert.IsType<Finished>(full[^1]).Weights;
        var checkpoints = full.OfType<CheckpointAt>().ToList();
        Assert.Equal([2L, 4L], checkpoints.Select(c => c.Step));
        Assert.Equal(TrainingCheckpoint.Decode(checkpoints[1].Checkpoint.Encode()).PolicyWeights, fullWeights);
        var fullLosses = full.OfType<StepCompleted>().Select(s => s.Report.Metrics["loss"]).ToList();

        // Continue from the step-2 checkpoint (through its byte form, as it would come back from a store).
        var resumeFrom = TrainingCheckpoint.Decode(checkpoints[0].Checkpoint.Encode());
        var resumed = RunToEnd(settings with { ResumeFrom = resumeFrom }, events);
        var resumedWeights = Assert.IsType<Finished>(resumed[^1]).Weights;
        var resumedSteps = resumed.OfType<StepCompleted>().Select(s => s.Report).ToList();

        Assert.Equal([3L, 4L], resumedSteps.Select(r => r.Step));
        Assert.Equal(fullLosses.Skip(2), resumedSteps.Select(r => r.Metrics["loss"]));
        Assert.NotEqual(resumeFrom.PolicyWeights, resumedWeights);
        Assert.Equal(fullWeights, resumedWeights);
        Assert.DoesNotContain(resumed, e => e is PhaseDone);
    }

    [Fact]
    public void A_stopped_run_checkpoints_its_last_completed_step_and_a_resume_from_it_ends_like_an_uninterrupted_run()
    {
        JoinSelfAndAwaitUp();
        Sys.ActorOf(RewardWorkerActor.Props(), "reward");
        Sys.ActorOf(PullWorkerActor.Props("test/sampler-0", () => new GrpoSampler()), "sampler-0");
        // No periodic checkpoints: the one taken on the stop is the only one.
        var settings = new GrpoSettings("stop", Tiny.Options(grpoSteps: 4), new RuntimeOptions { UnitSize = 2 }, Rewards);
        var events = CreateTestProbe();
        var full = RunToEnd(settings, events);
        var fullWeights = Assert.IsType<Finished>(full[^1]).Weights;
        var final = Assert.Single(full.OfType<CheckpointAt>()); // no periodic checkpoints: only the last step's
        Assert.Equal(4, final.Step);
        Assert.Equal(final.Checkpoint.PolicyWeights, fullWeights);

        // Stop as step 2 completes: told from inside the callback, so it is handled before anything else.
        var observer = new ProbeObserver(events) { AtStepCompleted = r => r.Step == 2 ? new CoordinatorActor.Stop("test stop") : null };
        var experiment = Sys.ActorOf(GrpoPlan.Props(settings, observer), "experiment");
        observer.Experiment = experiment;
        Watch(experiment);
        var stopped = new List<object>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (stopped.LastOrDefault() is not (Finished or Failed or StoppedAt))
            stopped.Add(events.ExpectMsg<object>(deadline - DateTime.UtcNow));
        ExpectTerminated(experiment, TimeSpan.FromSeconds(10));

        Assert.Equal(new StoppedAt(2, "test stop"), stopped[^1]);
        Assert.Equal([1L, 2L], stopped.OfType<StepCompleted>().Select(s => s.Report.Step));
        var checkpoint = Assert.Single(stopped.OfType<CheckpointAt>());
        Assert.Equal((2L, 2L), (checkpoint.Step, checkpoint.Checkpoint.PolicyVersion));
        Assert.True(stopped.IndexOf(checkpoint) < stopped.Count - 1, "the checkpoint is handed over before Stopped");

        var resumed = RunToEnd(settings with { ResumeFrom = TrainingCheckpoint.Decode(checkpoint.Checkpoint.Encode()) }, events);
        Assert.Equal([3L, 4L], resumed.OfType<StepCompleted>().Select(s => s.Report.Step));
        Assert.Equal(fullWeights, Assert.IsType<Finished>(resumed[^1]).Weights);
    }
}
