using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using RlActors.Actors.Experiment;
using RlActors.Actors.Learning;
using RlActors.Policies.Ccl;
using RlActors.Policies.Checkpoints;
using static RlActors.Actors.Supervised.SupervisedProtocol;

namespace RlActors.Actors.Supervised;

/// <summary>
/// A learner for supervised objectives trained by counter-current learning (or its baselines): it owns a
/// <see cref="CclTrainer"/> and the data it trains on, and answers <see cref="SupervisedProtocol"/>. All torch work runs on
/// the torch thread (<see cref="TorchWorkActor"/>): one SGD step per <see cref="TrainStep"/>, followed at an epoch's end by
/// an evaluation on the validation and test splits. Its checkpoint is the trainer's state (both networks, both optimisers,
/// the step count and the data cursor), so a resumed run continues bitwise-identically.
/// </summary>
public sealed class CclLearnerActor : TorchWorkActor
{
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly CclOptions options;
    private CclData? data;
    private CclTrainer? trainer;

    /// <summary>Props of a learner of <paramref name="options"/> on the data <paramref name="loadData"/> builds (called on the
    /// torch thread when the learner initialises; the learner disposes that data when it stops).</summary>
    public static Props Props(CclOptions options, Func<CclData> loadData) => Akka.Actor.Props.Create(() => new CclLearnerActor(options, loadData));

    /// <summary>A learner of <paramref name="options"/>; see <see cref="Props"/>.</summary>
    public CclLearnerActor(CclOptions options, Func<CclData> loadData)
    {
        this.options = options;
        Receive<Initialize>(init => Run(() =>
        {
            var watch = Stopwatch.StartNew();
            data = loadData();
            trainer = new CclTrainer(options, data);
            if (init.Resume is { } checkpoint) trainer.LoadState(checkpoint.Encode());
            return new Ready(trainer.Steps, trainer.StepsPerEpoch, watch.Elapsed.TotalSeconds);
        }));
        Receive<TrainStep>(t => Run(() =>
        {
            var tr = Trainer;
            if (t.Step != tr.Steps + 1) throw new InvalidOperationException($"asked for step {t.Step}, but the learner is after step {tr.Steps}");
            var watch = Stopwatch.StartNew();
            var m = tr.Step();
            var metrics = m.ToDictionary(options.Task);
            metrics[RuntimeMetrics.TrainSeconds] = watch.Elapsed.TotalSeconds;
            metrics[SupervisedMetrics.Epoch] = EpochsDone;
            return new StepTrained(m.Step, metrics, m.EndsEpoch ? Evaluate() : null);
        }));
        Receive<TakeCheckpoint>(t => Run(() => new CheckpointTaken(t.Step, TrainingCheckpoint.Decode(Trainer.SaveState()))));
        Receive<Conclude>(c => Run(() => new Concluded(c.Step, c.Evaluate ? Evaluate() : null, Trainer.Network.SaveWeights())));
    }

    private CclTrainer Trainer => trainer ?? throw new InvalidOperationException("learner not initialised");

    private double EpochsDone => (double)Trainer.Steps / Trainer.StepsPerEpoch;

    /// <summary>The forward network on the test split and (when there is one) the validation split.</summary>
    private Dictionary<string, double> Evaluate()
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
        return result;
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        base.PostStop();
        var (t, d) = (trainer, data);
        ReleaseOnTorchThread(() => { t?.Dispose(); d?.Dispose(); });
        log.Debug("CCL learner stopped after step {0}", t?.Steps ?? 0);
    }
}
