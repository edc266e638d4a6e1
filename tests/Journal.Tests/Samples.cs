using RlActors.Actors.Persistence;

namespace RlActors.Journal.Tests;

/// <summary>Hand-made experiment events.</summary>
internal static class Samples
{
    public static readonly DateTime T0 = new(2026, 11, 28, 12, 0, 0, DateTimeKind.Utc);

    public static DateTime At(int seconds) => T0.AddSeconds(seconds).AddTicks(seconds * 7 + 3);

    public const string Config = "experiment { name = \"arith\", seed = 42 }\nruntime.checkpoint-every = 2 # ✓ ünïcode\n";

    public static ExperimentStarted Started(string name = "arith", long total = 10) =>
        new(name, Config, ExperimentState.Sha256Hex(Config), 0xFEDC_BA98_7654_3210UL, "1.2.3+abc", total, At(0));

    public static StepCompleted Step(long step, double loss = 0.5) =>
        new(step, step, new Dictionary<string, double> { ["loss"] = loss / step, ["reward_mean"] = 0.1 * step, ["accuracy"] = double.NaN }, At((int)step * 10));

    public static EvaluationRecorded Evaluation(string phase, long step) =>
        new(phase, step, new Dictionary<string, double> { ["accuracy"] = 0.01 * step, ["step_accuracy"] = 0.5, ["problems"] = 100 }, At((int)step * 10 + 2));

    public static CheckpointSaved Checkpoint(long step) =>
        new(step, $"ckpt-{step:D6}", new string((char)('a' + step % 6), 64), 1_234_567 + step, At((int)step * 10 + 1));

    /// <summary>One of every event type, in an order a real run could produce.</summary>
    public static IReadOnlyList<IExperimentEvent> OneOfEach(string name = "arith") =>
    [
        Started(name), Step(1), Step(2), Checkpoint(2), Step(3),
        new ExperimentFailed("learner crashed: out of memory", At(35)),
        new ExperimentResumed(2, "node-b:4242", At(40)),
        new TotalStepsChanged(20, At(41)),
        Step(3, loss: 9), // recomputed after the resume: ignored
        Step(4), Evaluation("step", 4), Checkpoint(4),
        new CheckpointPruned("ckpt-000002", At(44)),
        new ExperimentStopped(4, "SIGTERM", At(45)),
        new ExperimentFinished(At(50)),
    ];
}
