namespace RlActors.Policies.Ccl;

/// <summary>How the network is trained.</summary>
public enum CclMethod
{
    /// <summary>Counter-current learning: layer-local losses, stop-gradient at every layer input, forward and feedback weights learned.</summary>
    Ccl,
    /// <summary>Control: CCL with the feedback weights frozen at their random initialisation.</summary>
    CclFrozenFeedback,
    /// <summary>Baseline: the same forward network trained end to end by backpropagation of the output loss.</summary>
    Backprop,
    /// <summary>Control: hidden layers frozen at initialisation, only the output layer trained on the output loss.</summary>
    OutputOnly,
}

/// <summary>What the network learns.</summary>
public enum CclTask
{
    /// <summary>Class labels; output loss cross-entropy; metrics accuracy and loss.</summary>
    Classification,
    /// <summary>Reconstruct the input; output loss MSE; metric reconstruction MSE.</summary>
    Autoencoder,
}

/// <summary>Hyperparameters of a CCL (or baseline) training run (config keys under <c>ccl.</c>). Defaults follow the
/// authors' Fashion-MNIST setup: batch 256, plain SGD, gradient-norm clipping 1 per network.</summary>
public sealed record CclOptions
{
    /// <summary>Seed of the weight initialisation and of the data order (independent streams).</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>Network shape. Default 784-512-512-10.</summary>
    public CclArchitecture Architecture { get; init; } = CclArchitecture.FashionMlp;
    /// <summary>CCL, a control, or the backpropagation baseline.</summary>
    public CclMethod Method { get; init; } = CclMethod.Ccl;
    /// <summary>Classification or autoencoder.</summary>
    public CclTask Task { get; init; } = CclTask.Classification;
    /// <summary>Layer loss of CCL classification. Default the paper's normalised batch × batch similarity.</summary>
    public CclSimilarity Similarity { get; init; } = CclSimilarity.BatchNormalised;
    /// <summary>Weight of each layer's similarity term (the authors' loss_scale_C).</summary>
    public double SimilarityWeight { get; init; } = 0.5;
    /// <summary>Weight of each decorrelation term, or null for the task's default (<see cref="EffectiveDecorrelationWeight"/>).
    /// Classification: <see cref="CclSimilarity.ClassTemplateDecorrelated"/> only (the authors' loss_scale_ssl).
    /// Autoencoder: the feature decorrelation of every hidden pair (<see cref="CclLoss.Autoencoder"/>).</summary>
    public double? DecorrelationWeight { get; init; }
    /// <summary>Default decorrelation weight of classification (the authors' CNN setting).</summary>
    public const double ClassificationDecorrelationWeight = 0.5;
    /// <summary>Default decorrelation weight of the autoencoder: with it the CCL autoencoder learns; without it its hidden
    /// features copy each other and the reconstruction stays near the mean image (docs/ccl.md).</summary>
    public const double AutoencoderDecorrelationWeight = 0.05;
    /// <summary><see cref="DecorrelationWeight"/>, or the task's default when it is null.</summary>
    public double EffectiveDecorrelationWeight =>
        DecorrelationWeight ?? (Task == CclTask.Autoencoder ? AutoencoderDecorrelationWeight : ClassificationDecorrelationWeight);
    /// <summary>Examples per step.</summary>
    public int BatchSize { get; init; } = 256;
    /// <summary>SGD learning rate of the forward weights.</summary>
    public double ForwardLearningRate { get; init; } = 1.0;
    /// <summary>SGD learning rate of the feedback weights.</summary>
    public double FeedbackLearningRate { get; init; } = 1.0;
    /// <summary>SGD momentum of both optimisers (the authors' Fashion-MNIST setting is 0).</summary>
    public double Momentum { get; init; } = 0;
    /// <summary>Clip the gradient norm of each network (forward, feedback) to this; 0 disables.</summary>
    public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>Steps of linear learning-rate warm-up from 0 (0: none).</summary>
    public int WarmupSteps { get; init; } = 0;
    /// <summary>Rows per forward pass in <see cref="CclTrainer.Evaluate(CclSplit)"/> (memory only; results do not depend on it).</summary>
    public int EvalBatchSize { get; init; } = 1000;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid key.</summary>
    public void Validate()
    {
        Architecture.Validate();
        if (BatchSize < 1) throw new ArgumentException($"ccl.batch-size must be >= 1 (got {BatchSize})");
        if (!(ForwardLearningRate > 0)) throw new ArgumentException($"ccl.forward-lr must be > 0 (got {ForwardLearningRate})");
        if (!(FeedbackLearningRate > 0)) throw new ArgumentException($"ccl.feedback-lr must be > 0 (got {FeedbackLearningRate})");
        if (!(Momentum is >= 0 and < 1)) throw new ArgumentException($"ccl.momentum must be in [0, 1) (got {Momentum})");
        if (!(MaxGradNorm >= 0)) throw new ArgumentException($"ccl.max-grad-norm must be >= 0 (got {MaxGradNorm})");
        if (WarmupSteps < 0) throw new ArgumentException($"ccl.warmup-steps must be >= 0 (got {WarmupSteps})");
        if (EvalBatchSize < 1) throw new ArgumentException($"ccl.eval-batch-size must be >= 1 (got {EvalBatchSize})");
        if (!(SimilarityWeight >= 0)) throw new ArgumentException($"ccl.similarity-weight must be >= 0 (got {SimilarityWeight})");
        if (!(EffectiveDecorrelationWeight >= 0)) throw new ArgumentException($"ccl.decorrelation-weight must be >= 0 (got {EffectiveDecorrelationWeight})");
        if (Task == CclTask.Autoencoder && Architecture.InputWidth != Architecture.OutputWidth)
            throw new ArgumentException($"an autoencoder needs output width = input width (model {Architecture})");
    }

    /// <summary>Everything that must match for a saved state to be loaded into a trainer: shape, method, task, loss,
    /// seed and batch size. (Learning rates and warm-up may differ, so a run can be resumed with new ones.)</summary>
    public string Fingerprint =>
        $"{Architecture}; method {Method}; task {Task}; similarity {Similarity}; seed {Seed}; batch {BatchSize}; momentum {Momentum}";
}
