using RlActors.Actors.Experiment;
using RlActors.Actors.Learning;
using RlActors.Actors.Protocol;
using RlActors.Policies.Checkpoints;
using RlActors.Policies.Grpo;
using RlActors.Policies.Training;

namespace RlActors.Actors.Grpo;

/// <summary>The learner of a language-model RL experiment: the policy, SFT warm-up and the LM algorithm (GRPO, PPO, ...)
/// of <see cref="GrpoTrainer"/>; its batch is the step's scored groups in slot order.</summary>
public sealed class GrpoLearnerCore(GrpoRunOptions options) : ILearnerCore
{
    private GrpoTrainer? core;

    private GrpoTrainer Core => core ?? throw new InvalidOperationException("learner not initialised");

    /// <inheritdoc />
    public (long Step, LearnerSetup? Setup) Initialize(TrainingCheckpoint? resume, Action<string> log)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        core = new GrpoTrainer(options);
        if (resume is not null)
        {
            core.LoadCheckpoint(resume);
            return (resume.PolicyVersion, null);
        }
        int steps = options.Sft.Steps;
        core.RunSft((s, loss) =>
        {
            // A line every ~10 % of SFT (at least every 50 steps' worth on long runs), so a long warm-up shows it is moving.
            if (s == steps || s % Math.Max(1, Math.Min(50, steps / 10)) == 0)
                log(SftTrainer.ProgressLine(s, steps, loss, watch.Elapsed.TotalSeconds));
        });
        double seconds = watch.Elapsed.TotalSeconds;
        return (0, new LearnerSetup(("sft", seconds), Evaluate("sft", 0)));
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, double> Train(long step, object batch) => Core.TrainOn((IReadOnlyList<ScoredGroup>)batch);

    /// <inheritdoc />
    public EvalReport Evaluate(string phase, long step)
    {
        var r = Core.Evaluate();
        return new EvalReport(phase, step, LmEvalMetrics.Of(r.Accuracy, r.StepAccuracy, r.Problems));
    }

    /// <inheritdoc />
    public IVersionedWeights Weights(long version)
    {
        return new WeightsProtocol.PolicyWeights(version, Policies.Lm.CausalLms.SpecOf(Core.Policy), Core.Policy.SaveWeights());
    }

    /// <inheritdoc />
    public TrainingCheckpoint SaveCheckpoint() => Core.SaveCheckpoint();

    /// <summary>The final greedy evaluation and the policy's weights.</summary>
    public (byte[] Weights, EvalReport? Evaluation, object? Extra) Conclude(long step) => (Core.Policy.SaveWeights(), Evaluate("final", step), null);

    /// <inheritdoc />
    public void Dispose() => core?.Dispose();
}
