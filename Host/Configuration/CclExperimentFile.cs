using RlActors.Environments.FashionMnist;
using RlActors.Policies.Ccl;
using static RlActors.Host.Configuration.ConfigReader;

namespace RlActors.Host.Configuration;

/// <summary>A parsed experiment file of kind "ccl": supervised counter-current learning (or a baseline) on Fashion-MNIST.</summary>
/// <param name="Name">Experiment name.</param>
/// <param name="SourceText">The file's text.</param>
public sealed record CclExperiment(string Name, string SourceText)
{
    /// <summary>The file's text with the command line's overrides appended (what the store records).</summary>
    public string EffectiveText { get; init; } = SourceText;
    /// <summary>Trainer options, with the architecture, task and layer loss resolved by <see cref="CclExperimentFile.Parse"/>.</summary>
    public CclOptions Options { get; init; } = new();
    /// <summary><c>model.architecture</c>: mlp, cnn or autoencoder.</summary>
    public string Architecture { get; init; } = "mlp";
    /// <summary><c>model.sizes</c>, or null for the architecture's default shape.</summary>
    public IReadOnlyList<int>? Sizes { get; init; }
    /// <summary><c>model.normalise</c>, or null for the architecture's default (batch for the autoencoder, none otherwise).</summary>
    public CclNormalisation? Normalise { get; init; }
    /// <summary><c>ccl.loss</c>, or null for the architecture's default.</summary>
    public CclSimilarity? Loss { get; init; }
    /// <summary>Where the data is and how it is split.</summary>
    public FashionMnistOptions Data { get; init; } = new();
    /// <summary>Passes over the training data.</summary>
    public int Epochs { get; init; } = 10;
    /// <summary>Total SGD steps; 0 means <see cref="Epochs"/> × steps per epoch.</summary>
    public long Steps { get; init; }
    /// <summary>Print a step line every this many steps.</summary>
    public int LogEvery { get; init; } = 50;
    /// <summary>Checkpoints (<c>runtime.*</c>; learner-only, no workers): every 200 SGD steps unless set, and after the last step.</summary>
    public Actors.Experiment.RuntimeOptions Runtime { get; init; } = new() { CheckpointEvery = 200 };
}

/// <summary>
/// Reads experiment files of kind "ccl". Every key is listed in <see cref="Keys"/>; an unknown key (a GRPO key included),
/// a value of the wrong type or out of range, or a key that would do nothing for the chosen method is a
/// <see cref="ConfigError"/> naming the key.
/// </summary>
public static class CclExperimentFile
{
    private static readonly Dictionary<string, CclMethod> Methods = new()
    {
        ["ccl"] = CclMethod.Ccl, ["bp"] = CclMethod.Backprop, ["output-only"] = CclMethod.OutputOnly, ["frozen-feedback"] = CclMethod.CclFrozenFeedback,
    };

    private static readonly Dictionary<string, CclSimilarity> Losses = new()
    {
        ["batch-normalised"] = CclSimilarity.BatchNormalised, ["class-template"] = CclSimilarity.ClassTemplate,
        ["template-decorrelated"] = CclSimilarity.ClassTemplateDecorrelated,
    };

    private static readonly Dictionary<string, CclNormalisation> Normalisations = new()
    {
        ["none"] = CclNormalisation.None, ["example"] = CclNormalisation.Example, ["batch"] = CclNormalisation.Batch,
    };

    private static readonly Dictionary<string, string> Architectures = new()
    {
        ["mlp"] = "mlp", ["cnn"] = "cnn", ["autoencoder"] = "autoencoder",
    };

    private static CclExperiment O(CclExperiment e, Func<CclOptions, CclOptions> f) => e with { Options = f(e.Options) };
    private static CclExperiment D(CclExperiment e, Func<FashionMnistOptions, FashionMnistOptions> f) => e with { Data = f(e.Data) };

    private static readonly ConfigKey<CclExperiment>[] KeyTable =
    [
        new("kind", "\"ccl\": this section's keys", (e, v, k) => e),
        new("name", "experiment name; output goes to runs/<name>/", (e, v, k) => e with { Name = Str(v, k) }),
        new("seed", "seed of the weight initialisation and of the data order (independent streams)", (e, v, k) => O(e, o => o with { Seed = (ulong)Long(v, k, 0) })),
        new("log-every", "print a step line every N SGD steps (an evaluation line follows every epoch)", (e, v, k) => e with { LogEvery = Int(v, k, 1) }),
        new("model.architecture", "mlp (classifier, default 784-512-512-10), cnn (stride-2 3x3 convolutions, default channels 1-64-64-128-128-256, then a linear layer to 10) or autoencoder (MLP with normalised hidden layers, default 784-256-64-256-784)",
            (e, v, k) => e with { Architecture = OneOf(v, k, Architectures) }),
        new("model.normalise", "MLP and autoencoder: parameter-free standardisation of every hidden layer's pre-activations in both directions: none (default for mlp), example (per example over the features; the autoencoder collapses to the mean image with it) or batch (per feature over the batch, running statistics for evaluation; default for autoencoder)",
            (e, v, k) => e with { Normalise = OneOf(v, k, Normalisations) }),
        new("model.sizes", "widths of the MLP or autoencoder, input first (e.g. [784, 128, 10]); channels of the CNN, input channels first (e.g. [1, 32, 64])",
            (e, v, k) => e with { Sizes = IntList(v, k, 1) }),
        new("ccl.method", "ccl (counter-current learning), bp (backpropagation baseline), output-only (hidden layers frozen at init) or frozen-feedback (CCL with the feedback weights fixed)",
            (e, v, k) => O(e, o => o with { Method = OneOf(v, k, Methods) })),
        new("ccl.loss", "layer loss of CCL classification: batch-normalised (the paper's, default for mlp), class-template (the authors' MLP code) or template-decorrelated (the authors' CNN code, default for cnn)",
            (e, v, k) => e with { Loss = OneOf(v, k, Losses) }),
        new("ccl.similarity-weight", "weight of each layer's similarity term", (e, v, k) => O(e, o => o with { SimilarityWeight = Dbl(v, k) })),
        new("ccl.decorrelation-weight", "weight of each decorrelation term: template-decorrelated classification (default 0.5), or the autoencoder's feature decorrelation of every hidden layer pair (default 0.05; 0 turns it off)", (e, v, k) => O(e, o => o with { DecorrelationWeight = Dbl(v, k) })),
        new("ccl.epochs", "passes over the training data; the run's total steps are epochs x ceil(training images / batch-size) SGD steps", (e, v, k) => e with { Epochs = Int(v, k, 1) }),
        new("ccl.steps", "total SGD steps instead of whole epochs (0: ccl.epochs x steps per epoch); --steps of run and resume sets it", (e, v, k) => e with { Steps = Long(v, k, 0) }),
        new("ccl.batch-size", "examples per SGD step", (e, v, k) => O(e, o => o with { BatchSize = Int(v, k, 1) })),
        new("ccl.learning-rate", "SGD learning rate of both networks (sets ccl.forward-lr and ccl.feedback-lr)", (e, v, k) => O(e, o => o with { ForwardLearningRate = Dbl(v, k), FeedbackLearningRate = Dbl(v, k) })),
        new("ccl.forward-lr", "SGD learning rate of the forward weights", (e, v, k) => O(e, o => o with { ForwardLearningRate = Dbl(v, k) })),
        new("ccl.feedback-lr", "SGD learning rate of the feedback weights", (e, v, k) => O(e, o => o with { FeedbackLearningRate = Dbl(v, k) })),
        new("ccl.momentum", "SGD momentum of both optimisers, in [0, 1)", (e, v, k) => O(e, o => o with { Momentum = Dbl(v, k) })),
        new("ccl.max-grad-norm", "clip the gradient norm of each network to this (0 disables)", (e, v, k) => O(e, o => o with { MaxGradNorm = Dbl(v, k) })),
        new("ccl.warmup-steps", "steps of linear learning-rate warm-up from 0", (e, v, k) => O(e, o => o with { WarmupSteps = Int(v, k, 0) })),
        new("ccl.eval-batch-size", "rows per forward pass when evaluating (memory only)", (e, v, k) => O(e, o => o with { EvalBatchSize = Int(v, k, 1) })),
        new("data.directory", $"folder of the Fashion-MNIST IDX files (default ${FashionMnistOptions.DirectoryVariable}, else {FashionMnistOptions.DefaultDirectory} from Debian's dataset-fashion-mnist)",
            (e, v, k) => D(e, d => d with { Directory = Str(v, k) })),
        new("data.validation-size", "images of the 60k training file held out for validation (0: none)", (e, v, k) => D(e, d => d with { ValidationSize = Int(v, k, 0) })),
        new("data.split-seed", "seed of the train/validation split (kept apart from the run's seed)", (e, v, k) => D(e, d => d with { SplitSeed = (ulong)Long(v, k, 0) })),
        new("data.train-limit", "train on only the first N (shuffled) training images, for quick runs", (e, v, k) => D(e, d => d with { TrainLimit = Int(v, k, 1) })),
        .. RuntimeKeys.For<CclExperiment>(e => e.Runtime, (e, r) => e with { Runtime = r }, work: null),
    ];

    /// <summary>Every key a ccl experiment file may set, with its meaning.</summary>
    public static IEnumerable<(string Name, string Doc)> Keys => KeyTable.Select(k => (k.Name, k.Doc));

    /// <summary>Parses ccl experiment text; <paramref name="origin"/> names it in error messages.</summary>
    public static CclExperiment Parse(string text, string origin, IReadOnlyList<string> overrides)
    {
        var read = ConfigReader.Apply(text, origin, overrides, KeyTable, source => new CclExperiment(Path.GetFileNameWithoutExtension(origin), source),
            kindNote: " for kind = \"ccl\"");
        var blame = read.Blame;
        var exp = read.Value with { EffectiveText = read.EffectiveText };
        CheckName(exp.Name, origin);
        var (architecture, task) = Shape(exp, blame);
        var method = exp.Options.Method;
        if (exp.Loss is not null && (task == CclTask.Autoencoder || method is CclMethod.Backprop or CclMethod.OutputOnly))
            throw blame.Error($"ccl.loss is a layer loss of CCL classification; it does nothing for " +
                                  (task == CclTask.Autoencoder ? "an autoencoder (its layer loss is MSE(a_l, c_l))" : $"ccl.method = {Methods.First(m => m.Value == method).Key}"));
        var loss = exp.Loss ?? (architecture.Kind == CclNetworkKind.Cnn ? CclSimilarity.ClassTemplateDecorrelated : CclSimilarity.BatchNormalised);
        exp = exp with { Options = exp.Options with { Architecture = architecture, Task = task, Similarity = loss } };
        try { exp.Options.Validate(); exp.Data.Validate(); }
        catch (ArgumentException e) { throw blame.Invalid(e); }
        return exp;
    }

    /// <summary>The network shape and task of <c>model.architecture</c> and <c>model.sizes</c>, checked against Fashion-MNIST
    /// (28×28 grey images, 10 classes).</summary>
    private static (CclArchitecture Architecture, CclTask Task) Shape(CclExperiment exp, ConfigBlame blame)
    {
        var sizes = exp.Sizes?.ToArray();
        if (sizes is { Length: < 2 }) throw blame.Error($"model.sizes: needs at least 2 entries (got {sizes.Length})");
        void Expect(int index, int value, string what)
        {
            if (sizes is not null && sizes[index < 0 ? sizes.Length + index : index] != value)
                throw blame.Error($"model.sizes: the {(index == 0 ? "first" : "last")} entry must be {value} ({what}), got [{string.Join(", ", sizes)}]");
        }
        const int pixels = FashionMnist.Pixels, classes = FashionMnist.Classes;
        switch (exp.Architecture)
        {
            case "cnn":
                if (exp.Normalise is not null) throw blame.Error($"model.normalise applies to mlp and autoencoder only; a cnn has no normalisation");
                Expect(0, 1, "one input channel: grey images");
                return (sizes is null ? CclArchitecture.FashionCnn : CclArchitecture.Cnn(sizes, FashionMnist.Side, classes), CclTask.Classification);
            case "autoencoder":
                Expect(0, pixels, "a 28x28 image"); Expect(-1, pixels, "the reconstructed image");
                return ((sizes is null ? CclArchitecture.FashionAutoencoder : CclArchitecture.Mlp(sizes))
                    with { Normalisation = exp.Normalise ?? CclArchitecture.FashionAutoencoder.Normalisation }, CclTask.Autoencoder);
            default:
                Expect(0, pixels, "a 28x28 image"); Expect(-1, classes, "the 10 classes");
                return ((sizes is null ? CclArchitecture.FashionMlp : CclArchitecture.Mlp(sizes))
                    with { Normalisation = exp.Normalise ?? CclNormalisation.None }, CclTask.Classification);
        }
    }
}
