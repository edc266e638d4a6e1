using RlActors.Actors.Persistence;
using static RlActors.Journal.Tests.Samples;

namespace RlActors.Journal.Tests;

public sealed class ExperimentStateTests
{
    [Fact]
    public void Empty_state_is_new_with_nothing_recorded()
    {
        var s = ExperimentState.Empty;
        Assert.Equal(ExperimentStatus.New, s.Status);
        Assert.Equal(0, s.Step);
        Assert.Empty(s.LastMetrics);
        Assert.Empty(s.Checkpoints);
        Assert.Null(s.LastCheckpoint);
        Assert.Null(s.LastUpdate);
        Assert.Null(s.FailureReason);
    }

    [Fact]
    public void Started_sets_the_configuration_and_runs()
    {
        var s = ExperimentState.Empty.Apply(Started());
        Assert.Equal("arith", s.Name);
        Assert.Equal(ExperimentStatus.Running, s.Status);
        Assert.Equal(Config, s.ConfigText);
        Assert.Equal(ExperimentState.Sha256Hex(Config), s.ConfigSha256);
        Assert.Equal(64, s.ConfigSha256.Length);
        Assert.Equal(0xFEDC_BA98_7654_3210UL, s.Seed);
        Assert.Equal("1.2.3+abc", s.CodeVersion);
        Assert.Equal(10, s.TotalSteps);
        Assert.Equal(At(0), s.LastUpdate);
    }

    [Fact]
    public void Steps_advance_step_policy_version_and_last_metrics()
    {
        var s = ExperimentState.From([Started(), Step(1), Step(2, loss: 0.8)]);
        Assert.Equal(2, s.Step);
        Assert.Equal(2, s.PolicyVersion);
        Assert.Equal(0.4, s.LastMetrics["loss"]);
        Assert.True(double.IsNaN(s.LastMetrics["accuracy"]));
        Assert.Equal(At(20), s.LastUpdate);
    }

    [Fact]
    public void A_replayed_or_duplicate_step_is_ignored_and_returns_the_same_instance()
    {
        var s = ExperimentState.From([Started(), Step(1), Step(2), Step(3)]);
        Assert.Same(s, s.Apply(Step(3, loss: 99)));
        Assert.Same(s, s.Apply(Step(2, loss: 99)));
        Assert.Same(s, s.Apply(Step(1)));
        Assert.Equal(0.5 / 3, s.LastMetrics["loss"]);
    }

    [Fact]
    public void Metrics_of_a_replay_with_duplicates_have_each_step_exactly_once()
    {
        // What a metrics log derived from applied steps would hold: every step once, the first computation's metrics.
        IExperimentEvent[] events = [Started(), Step(1), Step(2), Step(2, loss: 7), Step(3), Step(1, loss: 7), Step(3, loss: 7), Step(4)];
        var state = ExperimentState.Empty;
        var log = new List<(long Step, double Loss)>();
        foreach (var e in events)
        {
            var next = state.Apply(e);
            if (!ReferenceEquals(next, state) && e is StepCompleted sc) log.Add((sc.Step, sc.Metrics["loss"]));
            state = next;
        }
        Assert.Equal([1L, 2, 3, 4], log.Select(x => x.Step));
        Assert.Equal([0.5, 0.25, 0.5 / 3, 0.125], log.Select(x => x.Loss));
        Assert.Equal(4, state.Step);
    }

    [Fact]
    public void State_keeps_its_own_copy_of_the_metrics()
    {
        var metrics = new Dictionary<string, double> { ["loss"] = 1 };
        var s = ExperimentState.Empty.Apply(Started()).Apply(new StepCompleted(1, 1, metrics, At(1)));
        metrics["loss"] = 2;
        metrics["extra"] = 3;
        Assert.Equal(1, s.LastMetrics["loss"]);
        Assert.Single(s.LastMetrics);
    }

    [Fact]
    public void Checkpoints_are_listed_once_per_id_and_the_highest_step_is_the_last()
    {
        var s = ExperimentState.From([Started(), Step(1), Step(2), Checkpoint(2), Step(3), Step(4), Checkpoint(4)]);
        Assert.Equal(["ckpt-000002", "ckpt-000004"], s.Checkpoints.Select(c => c.Id));
        Assert.Equal(new RecordedCheckpoint(4, "ckpt-000004", Checkpoint(4).Sha256, 1_234_571, At(41)), s.LastCheckpoint);
        Assert.Same(s, s.Apply(Checkpoint(2)));
        Assert.Same(s, s.Apply(Checkpoint(4)));

        // A late checkpoint of an earlier step is listed but does not become the last one.
        var late = s.Apply(new CheckpointSaved(3, "ckpt-late", new string('f', 64), 10, At(60)));
        Assert.Equal(3, late.Checkpoints.Count);
        Assert.Equal("ckpt-000004", late.LastCheckpoint!.Id);
        Assert.Equal(["ckpt-000004", "ckpt-late", "ckpt-000002"], late.CheckpointsNewestFirst.Select(c => c.Id));
    }

    [Fact]
    public void Failure_resume_total_steps_and_finish_change_status_as_a_run_does()
    {
        var s = ExperimentState.From([Started(), Step(1), Checkpoint(1), Step(2)]);
        var failed = s.Apply(new ExperimentFailed("oom", At(30)));
        Assert.Equal(ExperimentStatus.Failed, failed.Status);
        Assert.Equal("oom", failed.FailureReason);
        Assert.Same(failed, failed.Apply(new ExperimentFailed("oom", At(31))));

        var resumed = failed.Apply(new ExperimentResumed(1, "host-b", At(40)));
        Assert.Equal(ExperimentStatus.Running, resumed.Status);
        Assert.Null(resumed.FailureReason);
        Assert.Equal(1, resumed.Resumes);
        Assert.Equal(2, resumed.Step); // steps recomputed after the resume are ignored until they pass step 2

        var longer = resumed.Apply(new TotalStepsChanged(30, At(41)));
        Assert.Equal(30, longer.TotalSteps);
        Assert.Same(longer, longer.Apply(new TotalStepsChanged(30, At(42))));

        var done = longer.Apply(new ExperimentFinished(At(50)));
        Assert.Equal(ExperimentStatus.Finished, done.Status);
        Assert.Equal(At(50), done.LastUpdate);
        Assert.Same(done, done.Apply(new ExperimentFinished(At(51))));
    }

    [Fact]
    public void A_pruned_checkpoint_leaves_the_record_and_the_last_one_is_chosen_again()
    {
        var s = ExperimentState.From([Started(), Step(2), Checkpoint(2), Step(4), Checkpoint(4), Step(6), Checkpoint(6)]);
        var pruned = s.Apply(new CheckpointPruned("ckpt-000002", At(70)));
        Assert.Equal(["ckpt-000004", "ckpt-000006"], pruned.Checkpoints.Select(c => c.Id));
        Assert.Equal("ckpt-000006", pruned.LastCheckpoint!.Id);
        Assert.Equal(At(70), pruned.LastUpdate);
        Assert.Same(pruned, pruned.Apply(new CheckpointPruned("ckpt-000002", At(71)))); // already gone
        Assert.Same(pruned, pruned.Apply(new CheckpointPruned("never-recorded", At(72))));

        var newestGone = pruned.Apply(new CheckpointPruned("ckpt-000006", At(73)));
        Assert.Equal("ckpt-000004", newestGone.LastCheckpoint!.Id);
        Assert.Null(newestGone.Apply(new CheckpointPruned("ckpt-000004", At(74))).LastCheckpoint);
    }

    [Fact]
    public void A_stop_on_request_is_a_status_of_its_own_that_a_resume_clears()
    {
        var s = ExperimentState.From([Started(), Step(1), Step(2), Checkpoint(2)]);
        var stopped = s.Apply(new ExperimentStopped(2, "SIGTERM", At(30)));
        Assert.Equal(ExperimentStatus.Stopped, stopped.Status);
        Assert.Equal("SIGTERM", stopped.FailureReason);
        Assert.Equal(At(30), stopped.LastUpdate);
        Assert.Equal(2, stopped.Step);
        Assert.Same(stopped, stopped.Apply(new ExperimentStopped(2, "SIGTERM", At(31))));

        var resumed = stopped.Apply(new ExperimentResumed(2, "host-b", At(40)));
        Assert.Equal(ExperimentStatus.Running, resumed.Status);
        Assert.Null(resumed.FailureReason);

        var done = resumed.Apply(new ExperimentFinished(At(50)));
        Assert.Same(done, done.Apply(new ExperimentStopped(2, "SIGINT", At(51)))); // a finished experiment stays finished
    }

    [Fact]
    public void A_second_start_is_ignored()
    {
        var s = ExperimentState.From([Started(), Step(1)]);
        Assert.Same(s, s.Apply(Started("other", total: 99)));
    }

    [Fact]
    public void Apply_is_pure_and_replays_to_equal_states()
    {
        var events = OneOfEach();
        var a = ExperimentState.From(events);
        var b = ExperimentState.From(events);
        Assert.Equal(a, b);
        Assert.NotSame(a, b);
        Assert.Equal(ExperimentState.Empty, new ExperimentState());
        Assert.Equal(ExperimentStatus.Finished, a.Status);
        Assert.Equal(4, a.Step);
        Assert.Equal(20, a.TotalSteps);
        Assert.Equal(0.125, a.LastMetrics["loss"]);
        Assert.Equal(1, a.Resumes);
        Assert.Equal("ckpt-000004", Assert.Single(a.Checkpoints).Id); // ckpt-000002 was pruned
        Assert.NotEqual(a, a.Apply(Step(5)));
    }

    [Fact]
    public void An_unknown_event_type_is_an_error_naming_it()
    {
        var e = Assert.Throws<ArgumentException>(() => ExperimentState.Empty.Apply(new Alien(At(0))));
        Assert.Contains(nameof(Alien), e.Message);
    }

    private sealed record Alien(DateTime At) : IExperimentEvent;
}
