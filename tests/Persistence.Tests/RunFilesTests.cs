using RlActors.Actors.Persistence;

namespace RlActors.Persistence.Tests;

/// <summary>A resume rebuilds the run folder's metrics.jsonl and eval.jsonl from the journal, up to the checkpoint it resumes from.</summary>
public sealed class RunFilesTests
{
    private static readonly DateTime At = new(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private static StepCompleted Step(long step) => new(step, step, new Dictionary<string, double> { ["loss"] = step / 10.0 }, At);

    private static EvaluationRecorded Eval(string phase, long step, double accuracy) =>
        new(phase, step, new Dictionary<string, double> { ["accuracy"] = accuracy, ["step_accuracy"] = accuracy / 2, ["problems"] = 8 }, At);

    [Fact]
    public void Resume_files_hold_each_journaled_step_once_up_to_the_checkpoint_and_the_last_evaluation_of_each_phase_and_step()
    {
        using var dir = TempDir.Create();
        string run = Path.Combine(dir.Path, "runs", "exp");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, RunFiles.Metrics), "{\"step\":1,\"loss\":9}\n{\"step\":7,\"loss\":9}\n{\"st");
        // The file's own rows (a step 7 of a later process, a torn line) are replaced by the journal's steps 1-2; the step-2
        // evaluation was redone after an earlier resume (the later one wins).
        IExperimentEvent[] events = [Eval("sft", 0, 0.25), Step(1), Step(2), Eval("step", 2, 0.4), Step(3), Eval("step", 2, 0.5), Eval("final", 3, 0.6)];

        RunFiles.RebuildForResume(run, events, upToStep: 2);

        Assert.Equal(["{\"step\":1,\"loss\":0.1}", "{\"step\":2,\"loss\":0.2}"],
            File.ReadAllLines(Path.Combine(run, RunFiles.Metrics)));
        Assert.Equal(["{\"phase\":\"sft\",\"step\":0,\"accuracy\":0.25,\"step_accuracy\":0.125,\"problems\":8}",
                      "{\"phase\":\"step\",\"step\":2,\"accuracy\":0.5,\"step_accuracy\":0.25,\"problems\":8}"],
            File.ReadAllLines(Path.Combine(run, RunFiles.Evaluations)));
    }

    [Fact]
    public void Without_journaled_evaluations_a_resume_keeps_the_eval_rows_up_to_the_checkpoint_and_drops_a_torn_one()
    {
        using var dir = TempDir.Create();
        string run = Path.Combine(dir.Path, "exp"); // not there yet: created
        IExperimentEvent[] events = [Step(1), Step(2)];
        RunFiles.RebuildForResume(run, events, upToStep: 1);
        Assert.Equal(["{\"step\":1,\"loss\":0.1}"], File.ReadAllLines(Path.Combine(run, RunFiles.Metrics)));
        Assert.False(File.Exists(Path.Combine(run, RunFiles.Evaluations)));

        File.WriteAllText(Path.Combine(run, RunFiles.Evaluations), "{\"phase\":\"sft\",\"step\":0}\n{\"phase\":\"step\",\"step\":2}\n{\"phase\":\"st");
        RunFiles.RebuildForResume(run, events, upToStep: 1);
        Assert.Equal(["{\"phase\":\"sft\",\"step\":0}"], File.ReadAllLines(Path.Combine(run, RunFiles.Evaluations)));
    }
}
