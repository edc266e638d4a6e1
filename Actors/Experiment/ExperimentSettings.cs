
namespace RlActors.Actors.Experiment;

/// <summary>How the runtime schedules work, for every kind (config keys under <c>runtime.</c>, parsed in one place; a kind names
/// its unit of work in its own words: a GRPO slot of prompts, a flow task of groups).</summary>
public sealed record RuntimeOptions
{
    /// <summary>0: synchronous on-policy (every unit of step k is worked with the weights of version k − 1, the latest).
    /// n &gt; 0: asynchronous; workers may work up to n versions ahead of the learner and results at most n versions old are
    /// trained on; older ones are dropped and counted as stale.</summary>
    public int MaxStaleness { get; init; } = 0;
    /// <summary>Items per unit of work (GRPO: prompts per slot, runtime.prompts-per-slot; flow: groups per task,
    /// runtime.groups-per-task); 0 puts a whole step in one unit. One unit per step batches work best on a single node; with
    /// several workers, smaller units spread a step over them.</summary>
    public int UnitSize { get; init; } = 0;
    /// <summary>A unit not returned within this time is handed to another worker.</summary>
    public TimeSpan UnitTimeout { get; init; } = TimeSpan.FromSeconds(120);
    /// <summary>A follow-up (e.g. a scoring request) not answered within this time is sent again.</summary>
    public TimeSpan FollowUpTimeout { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Ask the learner for a checkpoint every this many steps; the last step and a stop are always checkpointed (0: only those).</summary>
    public int CheckpointEvery { get; init; } = 0;
    /// <summary>Checkpoints kept in the store per experiment (older ones are pruned).</summary>
    public int KeepCheckpoints { get; init; } = 3;
    /// <summary>Worker actors (samplers, explorers) per node with the worker role.</summary>
    public int WorkersPerNode { get; init; } = 1;
}

/// <summary>One completed step, as written to metrics.jsonl.</summary>
public sealed record StepReport(long Step, long PolicyVersion, IReadOnlyDictionary<string, double> Metrics);

/// <summary>A held-out evaluation with named metrics, as written to eval.jsonl and journaled, for every kind of experiment.</summary>
/// <param name="Phase">The kind's name for the moment it was measured: GRPO "sft" (after the warm-up) and "final"; supervised
/// "epoch" (after an epoch's last step) and "final"; flow "pretrained" and "eval".</param>
/// <param name="Step">The step after which it was measured.</param>
/// <param name="Metrics">Metric name to value (e.g. <see cref="LmEvalMetrics"/>; test_accuracy, validation_accuracy, epoch).</param>
public sealed record EvalReport(string Phase, long Step, IReadOnlyDictionary<string, double> Metrics);

/// <summary>What the experiment tells the process that hosts it (progress display, metrics files). Called from the actor: keep it quick.</summary>
public interface IExperimentObserver
{
    /// <summary>A line for the log.</summary>
    void Log(string line);
    /// <summary>A phase of the run before its steps ended, e.g. "sft" (the supervised warm-up of a GRPO run), after
    /// <paramref name="seconds"/>.</summary>
    void PhaseDone(string phase, double seconds) { }
    /// <summary>The learner's state after a step, to be stored (every runtime.checkpoint-every steps, after the last, and on a stop).</summary>
    void CheckpointTaken(long step, Policies.Checkpoints.TrainingCheckpoint checkpoint);
    /// <summary>A step finished.</summary>
    void StepCompleted(StepReport report);
    /// <summary>A held-out evaluation finished.</summary>
    void Evaluation(EvalReport report);
    /// <summary>The experiment ran to the end.</summary>
    void Finished(byte[] finalWeights);
    /// <summary>The experiment cannot go on.</summary>
    void Failed(string reason);
    /// <summary>The experiment stopped on request (<see cref="CoordinatorActor.Stop"/>) after <paramref name="step"/>, its last completed
    /// step. Its checkpoint, when one was taken, was handed to <see cref="CheckpointTaken"/> before this call (it may still be being saved).
    /// Step 0 of a fresh run has no checkpoint: the SFT warm-up was abandoned.</summary>
    void Stopped(long step, string reason);
}

/// <summary>Fixed names of the metrics of a language-model policy's held-out evaluation (GRPO, PPO: greedy answers to
/// held-out problems), as eval.jsonl and the journal keep them.</summary>
public static class LmEvalMetrics
{
    /// <summary>Share of problems whose final answer is right.</summary>
    public const string Accuracy = "accuracy";
    /// <summary>Share of intermediate steps that are right.</summary>
    public const string StepAccuracy = "step_accuracy";
    /// <summary>Number of held-out problems.</summary>
    public const string Problems = "problems";

    /// <summary>The metrics of one evaluation, in the order eval.jsonl writes them.</summary>
    public static IReadOnlyDictionary<string, double> Of(double accuracy, double stepAccuracy, int problems) =>
        new Dictionary<string, double> { [Accuracy] = accuracy, [StepAccuracy] = stepAccuracy, [Problems] = problems };
}

/// <summary>Fixed names of the runtime's metrics (in addition to <see cref="Policies.Grpo.GrpoMetrics"/>).</summary>
public static class RuntimeMetrics
{
    /// <summary>Policy version produced by the step.</summary>
    public const string PolicyVersion = "policy_version";
    /// <summary>Completions per second of wall time over the step.</summary>
    public const string RolloutsPerSecond = "rollouts_per_s";
    /// <summary>Generated tokens per second of wall time over the step.</summary>
    public const string TokensPerSecond = "tokens_per_s";
    /// <summary>Rollouts dropped during the step because their policy version was too old.</summary>
    public const string StaleDropped = "stale_dropped";
    /// <summary>Rollouts dropped during the step because their slot had already been returned.</summary>
    public const string DuplicateDropped = "duplicate_dropped";
    /// <summary>Reward component failures (threw, timed out, NaN/∞) during the step; those rewards are missing.</summary>
    public const string RewardFailures = "reward_failures";
    /// <summary>Wall time of the step, from its first task to the new weights.</summary>
    public const string StepSeconds = "step_s";
    /// <summary>Time the learner spent on the update.</summary>
    public const string TrainSeconds = "train_s";
    /// <summary>Distinct samplers (by sampler id, <c>host:port/sampler-i</c>) whose rollouts the step trained on.</summary>
    public const string Samplers = "samplers";
}
