using System.Diagnostics;
using RlActors.Actors.Experiment;
using RlActors.Actors.Learning;
using RlActors.Actors.Protocol;
using RlActors.Policies.Ccl;
using RlActors.Policies.Checkpoints;

namespace RlActors.Actors.Ccl;

/// <summary>
/// The learner of supervised objectives trained by counter-current learning (or its baselines): it owns a <see cref="CclTrainer"/>
/// and the data it trains on. One SGD step per train request, followed at an epoch's end by an evaluation on the validation and
/// test splits (phase "epoch"); the end of the run evaluates once more unless the last step ended an epoch. Its checkpoint is the
/// trainer's state (both networks, both optimisers, the step count and the data cursor), so a resumed run continues bitwise.
/// </summary>
public sealed class CclLearnerCore(CclOptions options, Func<CclData> loadData) : ILearnerCore
{
    private CclData? data;
    private CclTrainer? trainer;
    private long evaluatedAt = -1;

    private CclTrainer Trainer => trainer ?? throw new InvalidOperationException("learner not initialised");

    /// <inheritdoc />
    public (long Step, LearnerSetup? Setup) Initialize(TrainingCheckpoint? resume, Action<string> log)
    {
        data = loadData();
        trainer = new CclTrainer(options, data);
        if (resume is not null) trainer.LoadState(resume.Encode());
        return (trainer.Steps, null);
    }

    /// <summary>One SGD step on the next batch (the batch is the learner's own).</summary>
    public IReadOnlyDictionary<string, double> Train(long step, object batch)
    {
        var watch = Stopwatch.StartNew();
        var m = Trainer.Step();
        var metrics = m.ToDictionary(options.Task);
        metrics[RuntimeMetrics.TrainSeconds] = watch.Elapsed.TotalSeconds;
        metrics[SupervisedMetrics.Epoch] = EpochsDone;
        return metrics;
    }

    /// <summary>At an epoch's end: the held-out metrics.</summary>
    public EvalReport? EvaluateOnItsOwn(long step) => step % Trainer.StepsPerEpoch == 0 ? Evaluate("epoch", step) : null;

    /// <summary>The forward network on the test split and (when there is one) the validation split.</summary>
    public EvalReport Evaluate(string phase, long step)
    {
        bool classify = options.Task == CclTask.Classification;
        var result = new Dictionary<string, double> { [SupervisedMetrics.Epoch] = EpochsDone };
        void Add(CclSplit split, string accuracy, string loss, string mse)
        {
            var e = Trainer.Evaluate(split);
            if (classify) { result[accuracy] = e.Accuracy; result[loss] = e.Loss; }
            else result[mse] = e.Loss;
        }
        Add(CclSplit.Test, SupervisedMetrics.TestAccuracy, SupervisedMetrics.TestLoss, SupervisedMetrics.TestReconstructionMse);
        if (data!.Validation.Count > 0)
            Add(CclSplit.Validation, SupervisedMetrics.ValidationAccuracy, SupervisedMetrics.ValidationLoss, SupervisedMetrics.ValidationReconstructionMse);
        evaluatedAt = step;
        return new EvalReport(phase, step, result);
    }

    /// <summary>None: no workers.</summary>
    public IVersionedWeights? Weights(long version) => null;

    /// <inheritdoc />
    public TrainingCheckpoint SaveCheckpoint() => TrainingCheckpoint.Decode(Trainer.SaveState());

    /// <summary>The final weights, with an evaluation unless this step was just evaluated (an epoch's end).</summary>
    public (byte[] Weights, EvalReport? Evaluation, object? Extra) Conclude(long step) =>
        (Trainer.Network.SaveWeights(), evaluatedAt == step ? null : Evaluate("final", step), null);

    private double EpochsDone => (double)Trainer.Steps / Trainer.StepsPerEpoch;

    /// <inheritdoc />
    public void Dispose()
    {
        trainer?.Dispose();
        data?.Dispose();
    }
}
