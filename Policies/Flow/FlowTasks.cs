using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using RlActors.Environments;
using RlActors.Environments.FashionMnist;
using RlActors.Environments.Flow2d;
using RlActors.Policies.Ccl;
using static TorchSharp.torch;

namespace RlActors.Policies.Flow;

/// <summary>The task a flow experiment trains on (config key <c>flow.task</c>).</summary>
public enum FlowTaskKind
{
    /// <summary><c>early</c>: the 2-D task whose rewarded choice (a mode) is made in the first, noisiest steps.</summary>
    EarlyDecision,
    /// <summary><c>late</c>: the 2-D control whose rewarded choice (a sub-mode) is made late, around t ≈ 0.3–0.5.</summary>
    LateDecision,
    /// <summary><c>fashion</c>: class-conditional Fashion-MNIST at 14×14, rewarded by a classifier's probability of the prompted class.</summary>
    Fashion,
}

/// <summary>Architecture of a flow policy.</summary>
public enum FlowArchitecture
{
    /// <summary>The MLP <see cref="VelocityField"/> (vectors, the 2-D tasks).</summary>
    Mlp,
    /// <summary>The conv U-Net <see cref="ConvVelocityField"/> (images).</summary>
    Conv,
}

/// <summary>
/// The shape of a flow policy, whatever its architecture: enough to build an empty model that the weights load into (it
/// travels with the weights to explorer actors). Config keys under <c>flow.model.</c>.
/// </summary>
public sealed record FlowModelSpec
{
    /// <summary>MLP or conv U-Net (decided by the task).</summary>
    public FlowArchitecture Architecture { get; init; } = FlowArchitecture.Mlp;
    /// <summary>Flattened sample size D (2, or 196 for 14×14 images).</summary>
    public int Dim { get; init; } = 2;
    /// <summary>Number of classes (prompts).</summary>
    public int Classes { get; init; } = 4;
    /// <summary>Hidden width of the MLP, or channels W of the conv net's full-resolution layers.</summary>
    public int Width { get; init; } = 128;
    /// <summary>Hidden layers of the MLP (unused by the conv net).</summary>
    public int Layers { get; init; } = 3;
    /// <summary>Sinusoidal time features (even).</summary>
    public int TimeFeatures { get; init; } = 16;
    /// <summary>Width of the class embedding.</summary>
    public int ClassEmbedding { get; init; } = 16;
    /// <summary>Image side of the conv net (0 for the MLP).</summary>
    public int Side { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid key.</summary>
    public void Validate()
    {
        if (Architecture == FlowArchitecture.Mlp) MlpConfig.Validate();
        else ConvConfig.Validate();
        if (Architecture == FlowArchitecture.Conv && Dim != Side * Side) throw new ArgumentException($"a conv flow model of side {Side} has dim {Side * Side}, not {Dim}");
    }

    /// <summary>The MLP's config.</summary>
    public VelocityFieldConfig MlpConfig => new() { Dim = Dim, Classes = Classes, Hidden = Width, Layers = Layers, TimeFeatures = TimeFeatures, ClassEmbedding = ClassEmbedding };

    /// <summary>The conv net's config.</summary>
    public ConvVelocityFieldConfig ConvConfig => new() { Side = Side, Channels = 1, Classes = Classes, Width = Width, TimeFeatures = TimeFeatures, ClassEmbedding = ClassEmbedding };

    /// <summary>A new model of this shape, initialised from <paramref name="initSeed"/>.</summary>
    public FlowVelocityModel Create(long initSeed) => Architecture == FlowArchitecture.Mlp
        ? new VelocityField(MlpConfig, initSeed)
        : new ConvVelocityField(ConvConfig, initSeed);

    /// <summary>Short description, e.g. "mlp 2-d 128x3" or "conv 14x14 w16".</summary>
    public override string ToString() => Architecture == FlowArchitecture.Mlp
        ? $"mlp {Dim}-d {Width}x{Layers} (t{TimeFeatures}, c{ClassEmbedding}), {Classes} classes"
        : $"conv {Side}x{Side} w{Width} (t{TimeFeatures}, c{ClassEmbedding}), {Classes} classes";
}

/// <summary>The classifier that rewards Fashion-MNIST samples (config keys under <c>reward-model.</c>): an MLP 196-H-10 trained
/// by backpropagation with the CCL library's trainer (<see cref="CclMethod.Backprop"/>) on the 14×14 training images.</summary>
public sealed record FashionRewardModelOptions
{
    /// <summary>Hidden width H.</summary>
    public int Hidden { get; init; } = 256;
    /// <summary>Passes over the 60k training images.</summary>
    public int Epochs { get; init; } = 3;
    /// <summary>Examples per SGD step.</summary>
    public int BatchSize { get; init; } = 128;
    /// <summary>SGD learning rate.</summary>
    public double LearningRate { get; init; } = 0.05;
    /// <summary>SGD momentum.</summary>
    public double Momentum { get; init; } = 0.9;
    /// <summary>Seed of the initialisation and data order.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid key.</summary>
    public void Validate()
    {
        if (Hidden < 1) throw new ArgumentException($"reward-model.hidden must be >= 1 (got {Hidden})");
        if (Epochs < 1) throw new ArgumentException($"reward-model.epochs must be >= 1 (got {Epochs})");
        if (BatchSize < 1) throw new ArgumentException($"reward-model.batch-size must be >= 1 (got {BatchSize})");
        if (!(LearningRate > 0)) throw new ArgumentException($"reward-model.learning-rate must be > 0 (got {LearningRate})");
        if (!(Momentum is >= 0 and < 1)) throw new ArgumentException($"reward-model.momentum must be in [0, 1) (got {Momentum})");
    }

    /// <summary>The classifier's shape.</summary>
    [JsonIgnore]
    public CclArchitecture Architecture => CclArchitecture.Mlp(FashionMnist14.Pixels, Hidden, FashionMnist.Classes);
}

/// <summary>
/// The task of a flow experiment: which task, its shape, and (Fashion-MNIST) where the data is and how the reward model is
/// trained. Serialised as JSON (<see cref="ToJson"/>) it travels to explorer actors, which build the reward from it
/// (<see cref="FlowTaskSetup.Reward"/>).
/// </summary>
public sealed record FlowTaskOptions
{
    /// <summary>Which task.</summary>
    public FlowTaskKind Kind { get; init; } = FlowTaskKind.EarlyDecision;
    /// <summary>Shape and reward of the 2-D tasks (the kind is taken from <see cref="Kind"/>).</summary>
    public Flow2dOptions Flow2d { get; init; } = new();
    /// <summary>Folder of the Fashion-MNIST IDX files (null: <c>$RLACTORS_FASHION_MNIST</c>, else Debian's folder).</summary>
    public string? DataDirectory { get; init; }
    /// <summary>The Fashion-MNIST reward model.</summary>
    public FashionRewardModelOptions RewardModel { get; init; } = new();

    /// <summary>True for the 2-D tasks.</summary>
    [JsonIgnore]
    public bool Is2d => Kind != FlowTaskKind.Fashion;

    /// <summary>Number of classes (prompts).</summary>
    [JsonIgnore]
    public int Classes => Is2d ? Flow2d.Classes : FashionMnist.Classes;

    /// <summary>Flattened sample size.</summary>
    [JsonIgnore]
    public int Dim => Is2d ? Flow2dTask.Dim : FashionMnist14.Pixels;

    /// <summary>The config spelling of <see cref="Kind"/>: early, late, fashion.</summary>
    [JsonIgnore]
    public string KindName => Kind switch { FlowTaskKind.EarlyDecision => "early", FlowTaskKind.LateDecision => "late", _ => "fashion" };

    /// <summary>The 2-D task's options with the kind applied.</summary>
    [JsonIgnore]
    public Flow2dOptions Flow2dWithKind => Flow2d with { Kind = Kind == FlowTaskKind.LateDecision ? Flow2dKind.LateDecision : Flow2dKind.EarlyDecision };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid key.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Kind)) throw new ArgumentException($"flow.task is not a known task ({(int)Kind})");
        if (Is2d) Flow2dWithKind.Validate();
        else RewardModel.Validate();
    }

    /// <summary>The options as JSON (what explorer actors receive).</summary>
    public string ToJson() => JsonSerializer.Serialize(this);

    /// <summary>Options from <see cref="ToJson"/>.</summary>
    public static FlowTaskOptions FromJson(string json) =>
        JsonSerializer.Deserialize<FlowTaskOptions>(json) ?? throw new InvalidDataException("flow task options: empty JSON");
}

/// <summary>
/// A flow task ready to use on the torch thread: its reward, its pretraining data and (Fashion-MNIST) its classifier.
/// Built by <see cref="FlowTaskSetup.Open"/>; dispose it after the models that use its reward.
/// </summary>
public sealed class FlowTaskEnvironment : IDisposable
{
    private readonly FashionClassifierReward? classifier;
    private readonly FashionMnist14? train;
    private readonly Flow2dTask? task2d;

    internal FlowTaskEnvironment(FlowTaskOptions options, Flow2dTask? task2d, FashionMnist14? train, FashionClassifierReward? classifier, byte[]? rewardModel)
    {
        Options = options;
        this.task2d = task2d;
        this.train = train;
        this.classifier = classifier;
        RewardModel = rewardModel;
        Reward = task2d is not null ? FlowEvidence.RewardOf(task2d) : classifier!.Reward;
    }

    /// <summary>The task.</summary>
    public FlowTaskOptions Options { get; }
    /// <summary>The terminal reward.</summary>
    public FlowReward Reward { get; }
    /// <summary>The reward model's weights (Fashion-MNIST), null for the 2-D tasks.</summary>
    public byte[]? RewardModel { get; }
    /// <summary>The 2-D task, or null.</summary>
    public Flow2dTask? Task2d => task2d;
    /// <summary>Test accuracy of the reward model (Fashion-MNIST), or null.</summary>
    public double? RewardModelAccuracy { get; internal init; }

    /// <summary>Draws pretraining data (one sample per class entry).</summary>
    public FlowDataSampler Data => task2d is not null
        ? (classes, rng) => task2d.SampleBatch(classes, rng)
        : (classes, rng) => train!.SampleBatch(classes, rng);

    /// <inheritdoc />
    public void Dispose() => classifier?.Dispose();
}

/// <summary>
/// Everything a flow experiment needs before RL starts, shared by the actor runtime (the learner), the evidence command and
/// the tests: the task's reward (for Fashion-MNIST a classifier trained on the 14×14 images), and the flow-matching
/// pretrained model. Both are cached in a folder, in files named by the SHA-256 of everything they depend on (settings,
/// seeds, torch's thread count), so every run and method of a comparison starts from the very same bytes.
/// Call on the torch thread.
/// </summary>
public static class FlowTaskSetup
{
    /// <summary>Loads the task: the 2-D task, or Fashion-MNIST and its reward model (trained, or read from the cache).</summary>
    /// <exception cref="FileNotFoundException">Fashion-MNIST is missing (the message names the install command).</exception>
    public static FlowTaskEnvironment Open(FlowTaskOptions options, string? cacheDir, Action<string>? log = null)
    {
        options.Validate();
        if (options.Is2d) return new FlowTaskEnvironment(options, new Flow2dTask(options.Flow2dWithKind), null, null, null);

        var data = FashionMnist.Load(new FashionMnistOptions { Directory = options.DataDirectory, ValidationSize = 0 });
        var train = new FashionMnist14(data.Train);
        var test = new FashionMnist14(data.Test);
        var rm = options.RewardModel;
        string key = Key($"fashion14-classifier;{rm.Architecture};epochs={rm.Epochs};batch={rm.BatchSize};lr={rm.LearningRate:R};momentum={rm.Momentum:R};seed={rm.Seed}");
        string? path = cacheDir is null ? null : Path.Combine(cacheDir, $"fashion14-classifier-{key}.weights");
        byte[] weights;
        if (path is not null && File.Exists(path))
        {
            weights = File.ReadAllBytes(path);
            log?.Invoke($"[reward-model] loaded from the cache: {path}");
        }
        else
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            weights = FashionClassifierReward.Train(rm, train, epoch => log?.Invoke($"[reward-model] epoch {epoch}/{rm.Epochs} done ({clock.Elapsed.TotalSeconds:F0} s)"));
            if (path is not null) WriteAtomically(path, weights);
            log?.Invoke($"[reward-model] trained in {clock.Elapsed.TotalSeconds:F1} s" + (path is null ? "" : $"; cached in {path}"));
        }
        var classifier = new FashionClassifierReward(rm, weights);
        double accuracy = classifier.Accuracy(test);
        log?.Invoke($"[reward-model] {rm.Architecture}: test accuracy {accuracy:P1} on 14x14 Fashion-MNIST");
        return new FlowTaskEnvironment(options, null, train, classifier, weights) { RewardModelAccuracy = accuracy };
    }

    /// <summary>The reward of <paramref name="options"/>'s task for an explorer: a pure function for the 2-D tasks, the classifier
    /// built from <paramref name="rewardModel"/> for Fashion-MNIST. The returned object owns torch state (dispose it).</summary>
    public static (FlowReward Reward, IDisposable? Owner) Reward(FlowTaskOptions options, byte[]? rewardModel)
    {
        options.Validate();
        if (options.Is2d) return (FlowEvidence.RewardOf(new Flow2dTask(options.Flow2dWithKind)), null);
        if (rewardModel is null) throw new InvalidOperationException("the Fashion-MNIST reward needs the reward model's weights");
        var classifier = new FashionClassifierReward(options.RewardModel, rewardModel);
        return (classifier.Reward, classifier);
    }

    /// <summary>
    /// The flow-matching pretrained weights of a <paramref name="model"/>-shaped policy initialised from <paramref name="initSeed"/>
    /// and trained on <paramref name="env"/>'s data with <paramref name="options"/>: from the cache when it has them, else trained
    /// (and cached).
    /// </summary>
    public static byte[] Pretrained(FlowTaskEnvironment env, FlowModelSpec model, FlowPretrainOptions options, long initSeed, string? cacheDir,
        Action<string>? log = null)
    {
        model.Validate();
        options.Validate();
        if (model.Dim != env.Options.Dim || model.Classes != env.Options.Classes)
            throw new ArgumentException($"the model ({model}) does not fit the task (dim {env.Options.Dim}, {env.Options.Classes} classes)");
        string task = env.Options.Is2d ? JsonSerializer.Serialize(env.Options.Flow2dWithKind) : "fashion14";
        string key = Key($"flow-pretrain;{task};{model};init={initSeed};steps={options.Steps};batch={options.BatchSize};lr={options.LearningRate:R};seed={options.Seed}");
        string? path = cacheDir is null ? null : Path.Combine(cacheDir, $"{env.Options.KindName}-pretrained-{key}.weights");
        if (path is not null && File.Exists(path))
        {
            log?.Invoke($"[pretrain] loaded from the cache: {path}");
            return File.ReadAllBytes(path);
        }
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var m = model.Create(initSeed);
        int every = Math.Max(1, options.Steps / 10);
        var losses = FlowPretraining.Train(m, env.Data, options, (step, loss) =>
        {
            if ((step + 1) % every == 0) log?.Invoke($"[pretrain] step {step + 1}/{options.Steps}  flow-matching loss {loss:F4}  ({clock.Elapsed.TotalSeconds:F0} s)");
        });
        var weights = m.SaveWeights();
        if (path is not null) WriteAtomically(path, weights);
        log?.Invoke($"[pretrain] {model}: {options.Steps} steps in {clock.Elapsed.TotalSeconds:F1} s, last loss {losses[^1]:F4}" + (path is null ? "" : $"; cached in {path}"));
        return weights;
    }

    /// <summary>A cache key: the first 16 hex digits of the SHA-256 of <paramref name="settings"/> and torch's thread count
    /// (results can differ in the last bits with another thread count).</summary>
    private static string Key(string settings) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{settings};threads={get_num_threads()}")))[..16].ToLowerInvariant();

    private static void WriteAtomically(string path, byte[] bytes)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string tmp = $"{path}.{Environment.ProcessId}.tmp";
        File.WriteAllBytes(tmp, bytes);
        File.Move(tmp, path, overwrite: true);
    }
}

/// <summary>
/// The Fashion-MNIST reward model: a 196-H-10 MLP classifier of 14×14 images in [−1, 1]; the reward of a sample of class c is
/// the classifier's softmax probability of c, computed on the sample clamped to [−1, 1] (as an image would be shown).
/// Not thread-safe: use it on the torch thread.
/// </summary>
public sealed class FashionClassifierReward : IDisposable
{
    private readonly CclNetwork network;

    /// <summary>Loads a classifier of <paramref name="options"/>'s shape from <paramref name="weights"/>.</summary>
    public FashionClassifierReward(FashionRewardModelOptions options, byte[] weights)
    {
        network = new CclNetwork(options.Architecture, 0);
        network.LoadWeights(weights);
        network.eval();
    }

    /// <summary>Trains a classifier with the CCL library's trainer in backpropagation mode; returns its weights.</summary>
    public static byte[] Train(FashionRewardModelOptions options, FashionMnist14 train, Action<int>? epochDone = null)
    {
        options.Validate();
        var ccl = new CclOptions
        {
            Seed = options.Seed, Architecture = options.Architecture, Method = CclMethod.Backprop, Task = CclTask.Classification,
            BatchSize = options.BatchSize, ForwardLearningRate = options.LearningRate, FeedbackLearningRate = options.LearningRate,
            Momentum = options.Momentum, MaxGradNorm = 0,
        };
        using var data = new CclData(
            new LabelledTensors(tensor(train.Images, [train.Count, FashionMnist14.Pixels]), tensor(train.Labels.Select(b => (long)b).ToArray(), [train.Count])),
            new LabelledTensors(zeros(0, FashionMnist14.Pixels), zeros(0, dtype: int64)),
            new LabelledTensors(zeros(0, FashionMnist14.Pixels), zeros(0, dtype: int64)));
        using var trainer = new CclTrainer(ccl, data);
        for (int e = 1; e <= options.Epochs; e++)
        {
            trainer.TrainEpoch();
            epochDone?.Invoke(e);
        }
        return trainer.Network.SaveWeights();
    }

    /// <summary>The reward: for each of the n samples in <paramref name="finals"/> (n × 196), the probability of class <paramref name="cls"/>.</summary>
    public float[] Reward(int cls, float[] finals)
    {
        if ((uint)cls >= FashionMnist.Classes) throw new ArgumentOutOfRangeException(nameof(cls), cls, "class must be in [0, 10)");
        if (finals.Length % FashionMnist14.Pixels != 0) throw new ArgumentException($"{finals.Length} values are not whole 14x14 images");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var x = tensor(finals, [finals.Length / FashionMnist14.Pixels, FashionMnist14.Pixels]).clamp(-1, 1);
        return nn.functional.softmax(network.Predict(x), 1)[.., cls].contiguous().data<float>().ToArray();
    }

    /// <summary>Classification accuracy on <paramref name="test"/>.</summary>
    public double Accuracy(FashionMnist14 test)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        int correct = 0;
        for (int start = 0; start < test.Count; start += 1000)
        {
            int n = Math.Min(1000, test.Count - start);
            var x = tensor(test.Images.AsSpan(start * FashionMnist14.Pixels, n * FashionMnist14.Pixels).ToArray(), [n, FashionMnist14.Pixels]);
            var predicted = network.Predict(x).argmax(1).data<long>().ToArray();
            for (int i = 0; i < n; i++) if (predicted[i] == test.Labels[start + i]) correct++;
        }
        return (double)correct / Math.Max(1, test.Count);
    }

    /// <inheritdoc />
    public void Dispose() => network.Dispose();
}
