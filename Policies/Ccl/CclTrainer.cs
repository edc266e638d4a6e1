using System.Diagnostics;
using System.Text;
using RlActors.Environments;
using RlActors.Environments.FashionMnist;
using RlActors.Policies.Checkpoints;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace RlActors.Policies.Ccl;

/// <summary>Metric names of <see cref="CclTrainer"/> (metrics.jsonl keys).</summary>
public static class CclMetrics
{
    /// <summary>Total training objective of the step (for CCL the sum of every layer's term and the output loss).</summary>
    public const string Loss = "loss";
    /// <summary>Output loss of the step: cross-entropy (classification) or reconstruction MSE (autoencoder).</summary>
    public const string OutputLoss = "output_loss";
    /// <summary>Accuracy on the step's batch (classification).</summary>
    public const string TrainAccuracy = "train_accuracy";
    /// <summary>Reconstruction MSE per element on the step's batch (autoencoder).</summary>
    public const string ReconstructionMse = "reconstruction_mse";
    /// <summary>Gradient norm of the trained forward weights, before clipping.</summary>
    public const string ForwardGradNorm = "forward_grad_norm";
    /// <summary>Gradient norm of the trained feedback weights, before clipping (0 when they are not trained).</summary>
    public const string FeedbackGradNorm = "feedback_grad_norm";
    /// <summary>Prefix of the per-layer terms: layer_loss_0 … layer_loss_L (the last is the output loss).</summary>
    public const string LayerLossPrefix = "layer_loss_";
}

/// <summary>What one training step measured.</summary>
/// <param name="Step">Steps completed, this one included.</param>
/// <param name="Epoch">Epoch of the batch (the trainer's current epoch for a batch given by the caller).</param>
/// <param name="EndsEpoch">The batch was the last of its epoch.</param>
/// <param name="Loss">Total objective.</param>
/// <param name="OutputLoss">Cross-entropy or reconstruction MSE of the output.</param>
/// <param name="TrainAccuracy">Batch accuracy (NaN for an autoencoder).</param>
/// <param name="LayerLosses">Terms of the objective: CCL pairs 0 … L−1 then the output term; one entry for the baselines.</param>
/// <param name="ForwardGradNorm">Forward gradient norm before clipping.</param>
/// <param name="FeedbackGradNorm">Feedback gradient norm before clipping (0 when not trained).</param>
/// <param name="Rows">Examples in the batch.</param>
public sealed record CclStepMetrics(long Step, long Epoch, bool EndsEpoch, double Loss, double OutputLoss, double TrainAccuracy,
    double[] LayerLosses, double ForwardGradNorm, double FeedbackGradNorm, int Rows)
{
    /// <summary>The metrics under their <see cref="CclMetrics"/> names.</summary>
    public Dictionary<string, double> ToDictionary(CclTask task)
    {
        var d = new Dictionary<string, double>
        {
            [CclMetrics.Loss] = Loss,
            [CclMetrics.OutputLoss] = OutputLoss,
            [CclMetrics.ForwardGradNorm] = ForwardGradNorm,
            [CclMetrics.FeedbackGradNorm] = FeedbackGradNorm,
        };
        if (task == CclTask.Classification) d[CclMetrics.TrainAccuracy] = TrainAccuracy;
        else d[CclMetrics.ReconstructionMse] = OutputLoss;
        for (int i = 0; i < LayerLosses.Length; i++) d[CclMetrics.LayerLossPrefix + i] = LayerLosses[i];
        return d;
    }
}

/// <summary>One pass over the training split.</summary>
/// <param name="Epoch">Epoch number (0-based).</param>
/// <param name="Steps">Steps taken in it.</param>
/// <param name="Loss">Mean total objective over its steps.</param>
/// <param name="OutputLoss">Example-weighted mean output loss.</param>
/// <param name="TrainAccuracy">Example-weighted accuracy on the batches as they were trained (NaN for an autoencoder).</param>
/// <param name="Seconds">Wall time of the training steps (no evaluation).</param>
/// <param name="Flops">Estimated floating-point operations of those steps (<see cref="CclTrainer.FlopsPerStep"/>).</param>
public sealed record CclEpochResult(long Epoch, int Steps, double Loss, double OutputLoss, double TrainAccuracy, double Seconds, double Flops);

/// <summary>Loss and accuracy of the forward network on a set of examples.</summary>
/// <param name="Count">Examples evaluated.</param>
/// <param name="Loss">Mean cross-entropy (classification) or reconstruction MSE per element (autoencoder).</param>
/// <param name="Accuracy">Fraction classified correctly (NaN for an autoencoder).</param>
public sealed record CclEvaluation(int Count, double Loss, double Accuracy);

/// <summary>
/// Trains a <see cref="CclNetwork"/> by counter-current learning, by backpropagation (the baseline), or as one of the
/// two controls (output layer only; CCL with frozen feedback). Reads top to bottom: <see cref="Step(Tensor, Tensor?)"/>
/// is one SGD update of both networks. With data attached, <see cref="Step()"/> draws the next shuffled batch and
/// <see cref="SaveState"/> / <see cref="LoadState"/> capture everything needed to continue bitwise-identically: both
/// networks' weights, both optimisers, the step count and the data cursor. (The only randomness after construction is
/// the data order, a SplitMix64 stream; no torch generator is used once the weights are initialised.)
/// Not thread-safe: in the runtime, call it from <c>TorchThread.Shared</c>.
/// </summary>
public sealed class CclTrainer : IDisposable
{
    private const string FingerprintPart = "ccl.fingerprint";
    private const string FeedbackOptimizerPart = "ccl.feedback-optimizer";
    private const string CursorPart = "ccl.data-cursor";

    private readonly CclData? data;
    private readonly EpochBatcher? batcher;
    private readonly List<Parameter> forwardTrained;
    private readonly List<Parameter> feedbackTrained;
    private readonly SGD forwardOptimizer;
    private readonly SGD feedbackOptimizer;

    /// <summary>Hyperparameters.</summary>
    public CclOptions Options { get; }
    /// <summary>The forward and feedback networks.</summary>
    public CclNetwork Network { get; }
    /// <summary>Optimizer steps taken.</summary>
    public long Steps { get; private set; }
    /// <summary>Epoch of the next batch from the data (0 without data).</summary>
    public long Epoch => batcher?.Epoch ?? 0;
    /// <summary>Number of classes (output width).</summary>
    public int Classes => Options.Architecture.OutputWidth;
    /// <summary>Batches per epoch of the attached training data (0 without data).</summary>
    public int StepsPerEpoch => batcher?.BatchesPerEpoch ?? 0;

    /// <summary>
    /// Builds the network (initialised from a stream of <see cref="CclOptions.Seed"/>) and the two SGD optimisers.
    /// <paramref name="data"/> is optional: without it only <see cref="Step(Tensor, Tensor?)"/> and
    /// <see cref="Evaluate(LabelledTensors)"/> work. The data is not disposed by the trainer.
    /// </summary>
    public CclTrainer(CclOptions options, CclData? data = null)
    {
        options.Validate();
        Options = options;
        this.data = data;
        Network = new CclNetwork(options.Architecture, SplitMix64.Stream(options.Seed, 1));
        if (data is not null)
        {
            if (data.Train.Inputs.shape[1] != options.Architecture.InputWidth)
                throw new ArgumentException($"data rows have {data.Train.Inputs.shape[1]} values but the model {options.Architecture} takes {options.Architecture.InputWidth}");
            batcher = new EpochBatcher(data.Train.Count, options.BatchSize, SplitMix64.Stream(options.Seed, 2));
        }

        var forwardAll = Network.ForwardParameters();
        forwardTrained = options.Method == CclMethod.OutputOnly ? Network.OutputParameters() : forwardAll;
        feedbackTrained = options.Method == CclMethod.Ccl ? Network.FeedbackParameters() : [];
        var trained = new HashSet<Parameter>(forwardTrained.Concat(feedbackTrained), ReferenceEqualityComparer.Instance);
        // Weights nobody trains get no gradient at all: no graph is built through them.
        foreach (var p in Network.parameters()) p.requires_grad = trained.Contains(p);
        forwardOptimizer = optim.SGD(forwardAll, options.ForwardLearningRate, options.Momentum);
        feedbackOptimizer = optim.SGD(Network.FeedbackParameters(), options.FeedbackLearningRate, options.Momentum);
    }

    /// <summary>Learning-rate multiplier of step <paramref name="t"/> (0-based): linear warm-up, then 1.</summary>
    public double WarmupFactor(long t) => Options.WarmupSteps > 0 ? Math.Min(1.0, (t + 1.0) / Options.WarmupSteps) : 1.0;

    /// <summary>One update on the next batch of the training data (advances the data cursor).</summary>
    /// <exception cref="InvalidOperationException">No data attached.</exception>
    public CclStepMetrics Step()
    {
        if (batcher is null || data is null) throw new InvalidOperationException("this trainer has no data attached: use Step(inputs, labels)");
        var batch = batcher.Next();
        using var scope = NewDisposeScope();
        var (x, y) = data.Train.Gather(batch.Rows);
        return Step(x, y) with { Epoch = batch.Epoch, EndsEpoch = batch.EndsEpoch };
    }

    /// <summary>
    /// One update on a batch: <paramref name="inputs"/> [B, input width] (or any shape with that many values per row) and
    /// <paramref name="labels"/> [B] int64 (required for classification; an autoencoder ignores them). Does not move the data cursor.
    /// </summary>
    /// <exception cref="ArgumentException">Classification without labels.</exception>
    public CclStepMetrics Step(Tensor inputs, Tensor? labels)
    {
        if (Options.Task == CclTask.Classification && labels is null) throw new ArgumentException("classification needs labels", nameof(labels));
        using var scope = NewDisposeScope();
        Network.train();
        var x = inputs.reshape(inputs.shape[0], -1);
        int rows = (int)x.shape[0];
        bool classify = Options.Task == CclTask.Classification;

        Tensor total, output;
        List<Tensor> terms;
        if (Options.Method is CclMethod.Ccl or CclMethod.CclFrozenFeedback)
        {
            var acts = Network.Forward(x, detach: true);
            var feedbackInput = classify ? CclLoss.FeedbackInput(labels!, Classes, Options.Similarity) : x;
            var signals = Network.Feedback(feedbackInput, detach: true);
            (total, terms) = classify
                ? CclLoss.Classification(acts, signals, labels!, Options.Similarity, Options.SimilarityWeight, Options.EffectiveDecorrelationWeight)
                : CclLoss.Autoencoder(acts, signals, Options.EffectiveDecorrelationWeight);
            output = acts[^1].reshape(rows, -1);
        }
        else
        {
            // Backprop: gradients flow through every layer. OutputOnly: hidden weights do not require grad, so the
            // same call trains the output layer alone.
            output = Network.Predict(x);
            total = classify ? functional.cross_entropy(output, labels!) : functional.mse_loss(output, x);
            terms = [total];
        }

        forwardOptimizer.zero_grad();
        feedbackOptimizer.zero_grad();
        total.backward();
        double forwardNorm = ClipOrMeasure(forwardTrained);
        double feedbackNorm = ClipOrMeasure(feedbackTrained);
        double factor = WarmupFactor(Steps);
        foreach (var g in forwardOptimizer.ParamGroups) g.LearningRate = Options.ForwardLearningRate * factor;
        foreach (var g in feedbackOptimizer.ParamGroups) g.LearningRate = Options.FeedbackLearningRate * factor;
        forwardOptimizer.step();
        if (feedbackTrained.Count > 0) feedbackOptimizer.step();
        Steps++;

        double accuracy = double.NaN, outputLoss;
        using (no_grad())
        {
            if (classify)
            {
                accuracy = output.argmax(1).eq(labels!).to_type(float64).mean().item<double>();
                outputLoss = terms[^1].item<float>();
            }
            else outputLoss = functional.mse_loss(output, x).item<float>();
        }
        return new CclStepMetrics(Steps, Epoch, false, total.item<float>(), outputLoss, accuracy,
            terms.Select(t => (double)t.item<float>()).ToArray(), forwardNorm, feedbackNorm, rows);
    }

    private double ClipOrMeasure(List<Parameter> parameters)
    {
        if (parameters.Count == 0) return 0;
        if (Options.MaxGradNorm > 0) return nn.utils.clip_grad_norm_(parameters, Options.MaxGradNorm);
        double ss = 0;
        foreach (var p in parameters)
            if (p.grad is { } g) ss += g.pow(2).sum().item<float>();
        return Math.Sqrt(ss);
    }

    /// <summary>Trains to the end of the current epoch (a whole epoch from a fresh cursor) and times it.</summary>
    public CclEpochResult TrainEpoch(CancellationToken ct = default)
    {
        if (batcher is null) throw new InvalidOperationException("this trainer has no data attached");
        long epoch = batcher.Epoch;
        double lossSum = 0, outputSum = 0, correct = 0, flops = 0;
        int steps = 0, rows = 0;
        var clock = Stopwatch.StartNew();
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            var m = Step();
            steps++;
            rows += m.Rows;
            lossSum += m.Loss;
            outputSum += m.OutputLoss * m.Rows;
            correct += m.TrainAccuracy * m.Rows;
            flops += FlopsPerStep(m.Rows);
            if (m.EndsEpoch) break;
        }
        clock.Stop();
        return new CclEpochResult(epoch, steps, lossSum / steps, outputSum / rows, correct / rows, clock.Elapsed.TotalSeconds, flops);
    }

    /// <summary>Forward network's loss and accuracy on a split of the attached data.</summary>
    public CclEvaluation Evaluate(CclSplit split)
    {
        if (data is null) throw new InvalidOperationException("this trainer has no data attached: use Evaluate(examples)");
        return Evaluate(data[split]);
    }

    /// <summary>Forward network's loss and accuracy on <paramref name="examples"/>, in chunks of <see cref="CclOptions.EvalBatchSize"/>.</summary>
    public CclEvaluation Evaluate(LabelledTensors examples)
    {
        Network.eval();
        using var _ = no_grad();
        bool classify = Options.Task == CclTask.Classification;
        double lossSum = 0, correct = 0;
        int n = examples.Count;
        for (int start = 0; start < n; start += Options.EvalBatchSize)
        {
            using var scope = NewDisposeScope();
            int len = Math.Min(Options.EvalBatchSize, n - start);
            var x = examples.Inputs.narrow(0, start, len);
            var output = Network.Predict(x);
            if (classify)
            {
                var y = examples.Labels.narrow(0, start, len);
                lossSum += functional.cross_entropy(output, y, reduction: Reduction.Sum).item<float>();
                correct += output.argmax(1).eq(y).sum().item<long>();
            }
            else lossSum += functional.mse_loss(output, x.reshape(len, -1), Reduction.Sum).item<float>() / output.shape[1];
        }
        return new CclEvaluation(n, lossSum / n, classify ? correct / n : double.NaN);
    }

    /// <summary>
    /// Estimated floating-point operations of one training step on <paramref name="rows"/> examples: 2 per multiply-add
    /// of every matrix product and convolution (forward, weight gradients, and the input gradients backpropagation
    /// needs; the feedback network on its B or K rows; the similarity products and their gradients). Elementwise work
    /// (activations, normalisation, losses, the SGD update) is left out.
    /// </summary>
    public double FlopsPerStep(int rows)
    {
        var layers = Network.Layers;
        double b = rows, fwd = layers.Sum(l => 2.0 * l.ForwardMacs) * b;
        switch (Options.Method)
        {
            case CclMethod.Backprop:
                return fwd + fwd + layers.Skip(1).Sum(l => 2.0 * l.ForwardMacs) * b;
            case CclMethod.OutputOnly:
                return fwd + 2.0 * layers[^1].ForwardMacs * b;
        }
        bool learnB = Options.Method == CclMethod.Ccl;
        bool classify = Options.Task == CclTask.Classification;
        double r = classify && CclLoss.UsesClassTemplates(Options.Similarity) ? Classes : b;
        double feedback = layers.Sum(l => 2.0 * l.FeedbackMacs) * r;
        double total = fwd + fwd /* weight grads, no input grads */ + feedback * (learnB ? 2 : 1);
        if (!classify)
        {
            // Feature decorrelation of every hidden pair: the d × d correlation of a_l and of c_l, and their gradients.
            if (Options.EffectiveDecorrelationWeight != 0)
                for (int l = 1; l < Network.Depth; l++)
                {
                    double d = Network.Width(l), corr = 2.0 * b * d * d;
                    total += corr * 2 + corr * (learnB ? 2 : 1);
                }
            return total;
        }
        for (int l = 0; l < Network.Depth; l++)
        {
            double d = Network.Width(l), sim = 2.0 * b * r * d;
            total += sim + (l > 0 ? sim : 0) + (learnB ? sim : 0);
            if (Options.Similarity == CclSimilarity.ClassTemplateDecorrelated && Options.EffectiveDecorrelationWeight != 0)
                total += 2.0 * b * b * d * (l > 0 ? 2 : 1) + 2.0 * r * r * d * (learnB ? 2 : 1);
        }
        return total;
    }

    /// <summary>Estimated FLOPs of one epoch over the attached training data (<see cref="FlopsPerStep"/> summed over its batches).</summary>
    public double FlopsPerEpoch
    {
        get
        {
            if (batcher is null) return 0;
            int full = batcher.Count / batcher.BatchSize, rest = batcher.Count % batcher.BatchSize;
            return full * FlopsPerStep(batcher.BatchSize) + (rest > 0 ? FlopsPerStep(rest) : 0);
        }
    }

    /// <summary>
    /// Everything needed to continue exactly: both networks' weights, both optimisers' states, the step count, the data
    /// cursor, and the options' fingerprint, as a self-checking <see cref="TrainingCheckpoint"/>.
    /// </summary>
    public byte[] SaveState()
    {
        var parts = new Dictionary<string, byte[]>
        {
            [FingerprintPart] = Encoding.UTF8.GetBytes(Options.Fingerprint),
            [FeedbackOptimizerPart] = SaveOptimizer(feedbackOptimizer),
        };
        if (batcher is not null) parts[CursorPart] = batcher.SaveCursor();
        return new TrainingCheckpoint
        {
            Step = Steps,
            PolicyVersion = Steps,
            PolicyWeights = Network.SaveWeights(),
            OptimizerState = SaveOptimizer(forwardOptimizer),
            Parts = parts,
        }.Encode();
    }

    /// <summary>Restores a state saved by <see cref="SaveState"/> of a trainer with the same fingerprint.</summary>
    /// <exception cref="InvalidDataException">Corrupt bytes, or a state of another shape, method, loss, seed or batch size (both named).</exception>
    public void LoadState(byte[] state)
    {
        var ck = TrainingCheckpoint.Decode(state);
        if (!ck.Parts.TryGetValue(FingerprintPart, out var fp)) throw new InvalidDataException("not a CCL trainer state (no fingerprint)");
        var saved = Encoding.UTF8.GetString(fp);
        if (saved != Options.Fingerprint)
            throw new InvalidDataException($"the state is of another run: saved [{saved}], this trainer [{Options.Fingerprint}]");
        if (batcher is not null && !ck.Parts.ContainsKey(CursorPart))
            throw new InvalidDataException("the state has no data cursor (saved by a trainer without data)");
        Network.LoadWeights(ck.PolicyWeights);
        LoadOptimizer(forwardOptimizer, ck.OptimizerState);
        LoadOptimizer(feedbackOptimizer, ck.Parts[FeedbackOptimizerPart]);
        if (batcher is not null) batcher.LoadCursor(ck.Parts[CursorPart]);
        Steps = ck.Step;
    }

    private static byte[] SaveOptimizer(SGD optimizer)
    {
        int sizeHint = 0;
        return Runtime.TorchBytes.SaveOptimizer(optimizer, ref sizeHint);
    }

    private static void LoadOptimizer(SGD optimizer, byte[] bytes) => Runtime.TorchBytes.LoadOptimizer(optimizer, bytes);

    /// <inheritdoc />
    public void Dispose()
    {
        forwardOptimizer.Dispose();
        feedbackOptimizer.Dispose();
        Network.Dispose();
    }
}
