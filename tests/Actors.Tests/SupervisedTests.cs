using Akka.Actor;
using Akka.TestKit;
using RlActors.Actors.Experiment;
using RlActors.Actors.Ccl;
using RlActors.Policies.Ccl;
using RlActors.Policies.Checkpoints;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace RlActors.Actors.Tests;

/// <summary>
/// The supervised experiment (<see cref="CclPlan"/> on the step coordinator) with a <see cref="CclLearnerCore"/> on small random
/// data: every step reported, held-out metrics at each epoch's end, checkpoints, a graceful stop and an exact resume,
/// and a learner failure that ends the run with its reason.
/// </summary>
public sealed class SupervisedTests(ITestOutputHelper output) : ClusterTestKit(output)
{
    private const int StepsPerEpoch = 4, Epochs = 3, Total = StepsPerEpoch * Epochs;

    private static readonly CclOptions Options = new()
    {
        Seed = 3, Architecture = CclArchitecture.Mlp(20, 16, 3), BatchSize = 16, ForwardLearningRate = 0.3, FeedbackLearningRate = 0.3,
    };

    /// <summary>64 training rows (4 batches of 16), 30 validation and 30 test rows of 20 values, 3 classes; from a private generator.</summary>
    private static CclData RandomData()
    {
        using var gen = new Generator(11);
        LabelledTensors Split(int rows) => new(randn([rows, 20], generator: gen), randint(3, [rows], generator: gen));
        return new CclData(Split(StepsPerEpoch * 16), Split(30), Split(30));
    }

    /// <summary>Settings checkpointing every <paramref name="checkpointEpochs"/> epochs (in steps, as runtime.checkpoint-every counts them).</summary>
    private static CclSettings Settings(int checkpointEpochs = 0, TrainingCheckpoint? resume = null, Func<CclData>? data = null) =>
        new("ccl", Options, data ?? RandomData, Total, StepsPerEpoch, new RuntimeOptions { CheckpointEvery = checkpointEpochs * StepsPerEpoch }) { ResumeFrom = resume };

    /// <summary>Runs an experiment to its end (finished, failed or stopped); returns what the observer saw, in order.</summary>
    private List<object> Run(CclSettings settings, TestProbe events, Func<StepReport, object?>? atStep = null)
    {
        var observer = new ProbeObserver(events) { AtStepCompleted = atStep };
        var experiment = Sys.ActorOf(CclPlan.Props(settings, observer), "experiment");
        observer.Experiment = experiment;
        Watch(experiment);
        var seen = new List<object>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (seen.LastOrDefault() is not (Finished or Failed or StoppedAt))
            seen.Add(events.ExpectMsg<object>(deadline - DateTime.UtcNow));
        ExpectTerminated(experiment, TimeSpan.FromSeconds(10)); // the name is free for the next run
        return seen;
    }

    private static List<StepReport> Reports(List<object> seen) => seen.OfType<StepCompleted>().Select(s => s.Report).ToList();

    [Fact]
    public void A_supervised_run_reports_every_step_with_test_accuracy_at_each_epoch_end_and_checkpoints_each_epoch()
    {
        var seen = Run(Settings(checkpointEpochs: 1), CreateTestProbe());

        var finished = Assert.IsType<Finished>(seen[^1]);
        var reports = Reports(seen);
        Assert.Equal(Enumerable.Range(1, Total).Select(i => (long)i), reports.Select(r => r.Step));
        foreach (var r in reports)
        {
            Assert.True(double.IsFinite(r.Metrics[CclMetrics.Loss]), $"step {r.Step}: loss {r.Metrics[CclMetrics.Loss]}");
            Assert.InRange(r.Metrics[CclMetrics.TrainAccuracy], 0, 1);
            Assert.Equal((double)r.Step / StepsPerEpoch, r.Metrics[SupervisedMetrics.Epoch]);
            bool epochEnd = r.Step % StepsPerEpoch == 0;
            Assert.Equal(epochEnd, r.Metrics.ContainsKey(SupervisedMetrics.TestAccuracy));
            Assert.Equal(epochEnd, r.Metrics.ContainsKey(SupervisedMetrics.ValidationAccuracy));
            if (epochEnd) Assert.InRange(r.Metrics[SupervisedMetrics.TestAccuracy], 0, 1);
        }
        var checkpoints = seen.OfType<CheckpointAt>().ToList();
        Assert.Equal([4L, 8L, 12L], checkpoints.Select(c => c.Step));
        Assert.Equal(checkpoints[^1].Checkpoint.PolicyWeights, finished.Weights);
        Assert.Empty(seen.OfType<Failed>());
    }

    [Fact]
    public void A_stopped_run_checkpoints_its_last_completed_step_and_a_resume_from_it_ends_with_the_weights_of_an_uninterrupted_run()
    {
        var events = CreateTestProbe();
        var full = Run(Settings(), events);
        var fullWeights = Assert.IsType<Finished>(full[^1]).Weights;
        // No periodic checkpoints: only the last step's (every finished run has one).
        Assert.Equal(Total, Assert.Single(full.OfType<CheckpointAt>()).Step);
        var fullLosses = Reports(full).Select(r => r.Metrics[CclMetrics.Loss]).ToList();

        // Stop mid-epoch, told as step 6 is reported: step 7 is already asked for, so it completes and the run stops after it.
        var stopped = Run(Settings(), events, r => r.Step == 6 ? new CoordinatorActor.Stop("test stop") : null);
        Assert.Equal(new StoppedAt(7, "test stop"), stopped[^1]);
        var checkpoint = Assert.Single(stopped.OfType<CheckpointAt>());
        Assert.Equal(7, checkpoint.Step);
        Assert.Equal(Enumerable.Range(1, 7).Select(i => (long)i), Reports(stopped).Select(r => r.Step));

        // Resume from it, through its byte form as it comes back from a store.
        var resumed = Run(Settings(resume: TrainingCheckpoint.Decode(checkpoint.Checkpoint.Encode())), events);
        var resumedWeights = Assert.IsType<Finished>(resumed[^1]).Weights;
        Assert.Equal(Enumerable.Range(8, Total - 7).Select(i => (long)i), Reports(resumed).Select(r => r.Step));
        Assert.Equal(fullLosses.Skip(7), Reports(resumed).Select(r => r.Metrics[CclMetrics.Loss]));
        Assert.NotEqual(checkpoint.Checkpoint.PolicyWeights, resumedWeights);
        Assert.Equal(fullWeights, resumedWeights);
    }

    [Fact]
    public void A_learner_that_cannot_load_its_data_fails_the_run_with_the_reason()
    {
        var seen = Run(Settings(data: () => throw new InvalidDataException("the labels file is truncated")), CreateTestProbe());
        var failed = Assert.IsType<Failed>(seen[^1]);
        Assert.Contains("learner failed", failed.Reason);
        Assert.Contains("the labels file is truncated", failed.Reason);
        Assert.Empty(Reports(seen));
    }
}
