using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RlActors.Policies.Ccl;

/// <summary>Kind of CCL network.</summary>
public enum CclNetworkKind
{
    /// <summary>Fully connected layers of the given widths.</summary>
    Mlp,
    /// <summary>Stride-2 3×3 convolutions down to 1×1, then one linear output layer.</summary>
    Cnn,
}

/// <summary>
/// The shape of a CCL network. <see cref="Mlp"/>: widths from input to output, e.g. 784-512-512-10 (or an autoencoder,
/// 784-256-64-256-784). <see cref="Cnn"/>: channels from the input's to the last convolution's on square images of
/// <see cref="Side"/>, then a linear layer to <see cref="Outputs"/>.
/// </summary>
/// <param name="Kind">MLP or CNN.</param>
/// <param name="Sizes">MLP: every width, input first, output last. CNN: channels, input channels first.</param>
/// <param name="Side">CNN: input image side (28 for Fashion-MNIST); unused for an MLP.</param>
/// <param name="Outputs">CNN: width of the linear output layer; unused for an MLP.</param>
/// <param name="Normalisation">MLP: how each hidden layer's pre-activations are standardised in both directions (no learned
/// parameters). The autoencoder uses <see cref="CclNormalisation.Batch"/>: its MSE(a_l, c_l) losses collapse to
/// input-independent activations without normalisation or with <see cref="CclNormalisation.Example"/>.</param>
public sealed record CclArchitecture(CclNetworkKind Kind, IReadOnlyList<int> Sizes, int Side = 28, int Outputs = 10,
    CclNormalisation Normalisation = CclNormalisation.None)
{
    /// <summary>An MLP with these widths, input first.</summary>
    public static CclArchitecture Mlp(params int[] widths) => new(CclNetworkKind.Mlp, widths);

    /// <summary>A CNN with these channels (input channels first) on <paramref name="side"/>² images and <paramref name="outputs"/> classes.</summary>
    public static CclArchitecture Cnn(int[] channels, int side = 28, int outputs = 10) => new(CclNetworkKind.Cnn, channels, side, outputs);

    /// <summary>The MLP of the issue's calibration: 784-512-512-10.</summary>
    public static CclArchitecture FashionMlp { get; } = Mlp(784, 512, 512, 10);

    /// <summary>Half the widths of the authors' CNN (128-128-256-256-512): 1→64→64→128→128→256 on 28×28, spatial
    /// 14, 7, 4, 2, 1, then 256 → 10.</summary>
    public static CclArchitecture FashionCnn { get; } = Cnn([1, 64, 64, 128, 128, 256]);

    /// <summary>An MLP autoencoder for 28×28 images: 784-256-64-256-784, hidden layers standardised per feature over the batch.</summary>
    public static CclArchitecture FashionAutoencoder { get; } = Mlp(784, 256, 64, 256, 784) with { Normalisation = CclNormalisation.Batch };

    /// <summary>Per-example input width.</summary>
    public int InputWidth => Kind == CclNetworkKind.Mlp ? Sizes[0] : Sizes[0] * Side * Side;

    /// <summary>Per-example output width.</summary>
    public int OutputWidth => Kind == CclNetworkKind.Mlp ? Sizes[^1] : Outputs;

    /// <summary>Throws <see cref="ArgumentException"/> for an impossible shape.</summary>
    public void Validate()
    {
        if (Sizes.Count < 2) throw new ArgumentException($"model.sizes needs at least 2 entries (got {Sizes.Count})");
        if (Sizes.Any(s => s < 1)) throw new ArgumentException($"model.sizes must all be >= 1 (got {string.Join('-', Sizes)})");
        if (Kind == CclNetworkKind.Cnn && (Side < 1 || Outputs < 1)) throw new ArgumentException($"a CNN needs side >= 1 and outputs >= 1 (got {Side}, {Outputs})");
        if (Kind == CclNetworkKind.Cnn && Normalisation != CclNormalisation.None) throw new ArgumentException("model.normalise applies to MLPs only (a CNN has none)");
    }

    /// <summary>Short text that identifies the shape, e.g. "mlp 784-512-512-10", "mlp 784-256-64-256-784 batch-normalised"
    /// or "cnn 1-64-64-128-128-256 @28 -> 10" (per-example normalisation keeps its older tag "normalised").</summary>
    public override string ToString() => Kind == CclNetworkKind.Mlp
        ? $"mlp {string.Join('-', Sizes)}{Normalisation switch { CclNormalisation.Example => " normalised", CclNormalisation.Batch => " batch-normalised", _ => "" }}"
        : $"cnn {string.Join('-', Sizes)} @{Side} -> {Outputs}";
}

/// <summary>
/// A counter-current network: a stack of <see cref="CclLayer"/>s, each holding a forward weight and a feedback weight.
/// The forward network maps the input x = a_0 to a_1 … a_L (a_L without activation: logits or a reconstruction). The
/// feedback network maps a target c_L back to c_{L−1} … c_0 (c_0 without activation, in the input's space). With the
/// stop-gradient on, each a_l depends on trainable weights only through W_l, and each c_l only through B_{l+1}.
/// Field order is part of the checkpoint format.
/// </summary>
public sealed class CclNetwork : nn.Module
{
    private readonly ModuleList<CclLayer> layers;

    /// <summary>The shape.</summary>
    public CclArchitecture Architecture { get; }

    /// <summary>Builds the layers and initialises every weight from <paramref name="initSeed"/> with a private generator.</summary>
    public CclNetwork(CclArchitecture architecture, ulong initSeed) : base(nameof(CclNetwork))
    {
        architecture.Validate();
        Architecture = architecture;
        var list = new List<CclLayer>();
        var s = architecture.Sizes;
        if (architecture.Kind == CclNetworkKind.Mlp)
        {
            for (int i = 0; i + 1 < s.Count; i++) list.Add(new CclLinear(s[i], s[i + 1], name: $"layer{i + 1}", normalisation: architecture.Normalisation));
        }
        else
        {
            long side = architecture.Side;
            for (int i = 0; i + 1 < s.Count; i++)
            {
                list.Add(new CclConv(s[i], s[i + 1], side, name: $"layer{i + 1}"));
                side = (side - 1) / 2 + 1;
            }
            list.Add(new CclLinear(s[^1] * side * side, architecture.Outputs, name: $"layer{s.Count}"));
        }
        layers = new ModuleList<CclLayer>(list.ToArray());
        RegisterComponents();
        using var gen = new Generator(initSeed);
        foreach (var layer in layers) layer.Initialise(gen);
    }

    /// <summary>The layers, input side first.</summary>
    public IReadOnlyList<CclLayer> Layers => layers.ToList();

    /// <summary>Number of layers L.</summary>
    public int Depth => layers.Count;

    /// <summary>Per-example width of a_l (= width of c_l), l = 0 … L.</summary>
    public long Width(int l) => l == 0 ? layers[0].InputWidth : layers[l - 1].OutputWidth;

    /// <summary>a_0 … a_L for a batch of inputs (any shape with the input's elements per row). <paramref name="detach"/>
    /// puts the stop-gradient at every layer input (CCL); false is the ordinary, backpropagated network.</summary>
    public List<Tensor> Forward(Tensor x, bool detach)
    {
        var acts = new List<Tensor>(Depth + 1) { x.reshape([-1, .. layers[0].InputShape]) };
        for (int l = 0; l < Depth; l++) acts.Add(layers[l].Forward(acts[l], activate: l < Depth - 1, detach));
        return acts;
    }

    /// <summary>c_0 … c_L from the target c_L (rows × output width): c_{l−1} = g(B_l · sg(c_l)).</summary>
    public List<Tensor> Feedback(Tensor target, bool detach = true)
    {
        var sig = new Tensor[Depth + 1];
        sig[Depth] = target.reshape([-1, .. layers[^1].OutputShape]);
        for (int l = Depth; l >= 1; l--) sig[l - 1] = layers[l - 1].Feedback(sig[l], activate: l > 1, detach);
        return [.. sig];
    }

    /// <summary>The forward network's output a_L (logits or reconstruction) as rows × output width.</summary>
    public Tensor Predict(Tensor x)
    {
        var h = x;
        for (int l = 0; l < Depth; l++) h = layers[l].Forward(h, activate: l < Depth - 1, detach: false);
        return h.reshape(h.shape[0], -1);
    }

    /// <summary>All forward weights (W_1 … W_L and biases).</summary>
    public List<Parameter> ForwardParameters() => layers.SelectMany(l => l.ForwardParameters()).ToList();
    /// <summary>All feedback weights (B_1 … B_L and biases).</summary>
    public List<Parameter> FeedbackParameters() => layers.SelectMany(l => l.FeedbackParameters()).ToList();
    /// <summary>Forward weights of the output layer only.</summary>
    public List<Parameter> OutputParameters() => layers[^1].ForwardParameters().ToList();

    /// <summary>Serialises both networks' weights (TorchSharp's format).</summary>
    public byte[] SaveWeights()
    {
        using var ms = new MemoryStream();
        save(ms);
        return ms.ToArray();
    }

    /// <summary>Loads weights saved by <see cref="SaveWeights"/>; another shape throws <see cref="InvalidDataException"/> naming this one.</summary>
    public void LoadWeights(byte[] bytes)
    {
        using var ms = new MemoryStream(bytes, writable: false);
        try { load(ms); }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or EndOfStreamException or IOException)
        {
            throw new InvalidDataException($"CCL weights do not fit a network of shape {Architecture}: {e.Message}", e);
        }
    }
}
