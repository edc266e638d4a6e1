using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace RlActors.Policies.Ccl;

/// <summary>
/// One layer of a counter-current network: a forward weight W (input → output) used by the forward network and a
/// feedback weight B (output → input) used by the feedback network that runs the other way, from the target.
/// Both directions can cut the gradient at their input (the stop-gradient sg of CCL), so a loss placed at a
/// layer's output trains only that layer's weights. Inputs are reshaped to the layer's per-example shape, so
/// convolutional and linear layers can follow each other.
/// </summary>
public abstract class CclLayer : nn.Module
{
    /// <summary>Names the layer.</summary>
    protected CclLayer(string name) : base(name) { }

    /// <summary>Per-example shape of the forward input (of the feedback output), e.g. [784] or [1, 28, 28].</summary>
    public abstract long[] InputShape { get; }
    /// <summary>Per-example shape of the forward output (of the feedback input).</summary>
    public abstract long[] OutputShape { get; }
    /// <summary>Elements of <see cref="InputShape"/>.</summary>
    public long InputWidth => InputShape.Aggregate(1L, (a, d) => a * d);
    /// <summary>Elements of <see cref="OutputShape"/>.</summary>
    public long OutputWidth => OutputShape.Aggregate(1L, (a, d) => a * d);

    /// <summary>Multiply-adds of the forward weight for one example.</summary>
    public abstract long ForwardMacs { get; }
    /// <summary>Multiply-adds of the feedback weight for one feedback row.</summary>
    public abstract long FeedbackMacs { get; }

    /// <summary>a = f(W · sg(x)); without the activation f when <paramref name="activate"/> is false (the output layer).
    /// <paramref name="detach"/> applies sg (CCL); false lets gradients flow to earlier layers (backpropagation).</summary>
    public abstract Tensor Forward(Tensor x, bool activate, bool detach);

    /// <summary>c_in = g(B · sg(c_out)); without g when <paramref name="activate"/> is false (the input layer).</summary>
    public abstract Tensor Feedback(Tensor c, bool activate, bool detach);

    /// <summary>Parameters of the forward direction (W and its bias).</summary>
    public abstract IEnumerable<Parameter> ForwardParameters();
    /// <summary>Parameters of the feedback direction (B and its bias).</summary>
    public abstract IEnumerable<Parameter> FeedbackParameters();

    /// <summary>Initialises W and B uniformly in ±1/√fan-in (PyTorch's default bound) from <paramref name="generator"/>; biases 0.</summary>
    public void Initialise(Generator generator)
    {
        using var _ = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("bias")) { p.zero_(); continue; }
            long fanIn = p.shape.Skip(1).Aggregate(1L, (a, d) => a * d);
            double bound = 1.0 / Math.Sqrt(fanIn);
            // Tensor.uniform_ rather than nn.init: the latter ignores the generator in TorchSharp 0.107.
            p.uniform_(-bound, bound, generator);
        }
    }

    /// <summary>ELU, the activation of both directions in the authors' code.</summary>
    protected static Tensor Act(Tensor x) => functional.elu(x, 1.0, false);

    /// <summary>Reshapes a batch to [rows, ..shape].</summary>
    protected static Tensor As(Tensor x, long[] shape) => x.reshape([-1, .. shape]);
}

/// <summary>How a CCL MLP standardises its hidden pre-activations (both directions, no learned parameters).</summary>
public enum CclNormalisation
{
    /// <summary>No standardisation (the classification MLP).</summary>
    None,
    /// <summary>Per example over the features (parameter-free layer normalisation). A layer-matching MSE can be met by
    /// mapping every input to one standardised pattern, so the autoencoder collapses to the mean image with it.</summary>
    Example,
    /// <summary>Per feature over the batch (parameter-free batch normalisation): every feature has zero mean and unit
    /// variance across the batch, so a layer cannot map every input to one pattern. Training uses the batch's statistics
    /// and updates running means and variances (momentum <see cref="CclLinear.RunningMomentum"/>); evaluation uses those.</summary>
    Batch,
}

/// <summary>A fully connected CCL layer: W is out × in, B is in × out (no biases by default, as in the authors' MLP).</summary>
public sealed class CclLinear : CclLayer
{
    /// <summary>Weight of the newest batch in the running statistics of <see cref="CclNormalisation.Batch"/> (PyTorch's default).</summary>
    public const double RunningMomentum = 0.1;
    /// <summary>Added to the variance before dividing.</summary>
    public const double VarianceEpsilon = 1e-5;

    private readonly Linear forwardLayer;
    private readonly Linear feedbackLayer;
    private readonly long inFeatures, outFeatures;
    private readonly CclNormalisation normalisation;
    // Running statistics of CclNormalisation.Batch (null otherwise): buffers, so they are saved and loaded with the weights.
    private readonly Tensor? forwardMean, forwardVar, feedbackMean, feedbackVar;

    /// <summary>A layer from <paramref name="inFeatures"/> to <paramref name="outFeatures"/>; <paramref name="normalisation"/>
    /// standardises the activated outputs of both directions before the activation (see <see cref="CclNormalisation"/>).</summary>
    public CclLinear(long inFeatures, long outFeatures, bool bias = false, string name = "linear", CclNormalisation normalisation = CclNormalisation.None) : base(name)
    {
        this.normalisation = normalisation;
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        forwardLayer = Linear(inFeatures, outFeatures, hasBias: bias);
        feedbackLayer = Linear(outFeatures, inFeatures, hasBias: bias);
        RegisterComponents();
        if (normalisation == CclNormalisation.Batch)
        {
            forwardMean = zeros(outFeatures); forwardVar = ones(outFeatures);
            feedbackMean = zeros(inFeatures); feedbackVar = ones(inFeatures);
            register_buffer("forward_mean", forwardMean);
            register_buffer("forward_var", forwardVar);
            register_buffer("feedback_mean", feedbackMean);
            register_buffer("feedback_var", feedbackVar);
        }
    }

    /// <inheritdoc />
    public override long[] InputShape => [inFeatures];
    /// <inheritdoc />
    public override long[] OutputShape => [outFeatures];
    /// <inheritdoc />
    public override long ForwardMacs => inFeatures * outFeatures;
    /// <inheritdoc />
    public override long FeedbackMacs => inFeatures * outFeatures;

    /// <summary>The forward weight W (out × in).</summary>
    public Parameter ForwardWeight => forwardLayer.weight!;
    /// <summary>The feedback weight B (in × out).</summary>
    public Parameter FeedbackWeight => feedbackLayer.weight!;

    /// <inheritdoc />
    public override Tensor Forward(Tensor x, bool activate, bool detach)
    {
        x = As(x, InputShape);
        if (detach) x = x.detach();
        var y = forwardLayer.call(x);
        return activate ? Act(Standardise(y, forwardMean, forwardVar)) : y;
    }

    /// <inheritdoc />
    public override Tensor Feedback(Tensor c, bool activate, bool detach)
    {
        c = As(c, OutputShape);
        if (detach) c = c.detach();
        var y = feedbackLayer.call(c);
        return activate ? Act(Standardise(y, feedbackMean, feedbackVar)) : y;
    }

    private Tensor Standardise(Tensor y, Tensor? runningMean, Tensor? runningVar) => normalisation switch
    {
        CclNormalisation.None => y,
        CclNormalisation.Example => functional.layer_norm(y, [y.shape[^1]]),
        // In training mode batch_norm also updates the running statistics in place (unbiased variance, as PyTorch).
        _ => functional.batch_norm(y, runningMean!, runningVar!, training: training, momentum: RunningMomentum, eps: VarianceEpsilon),
    };

    /// <inheritdoc />
    public override IEnumerable<Parameter> ForwardParameters() => forwardLayer.parameters();
    /// <inheritdoc />
    public override IEnumerable<Parameter> FeedbackParameters() => feedbackLayer.parameters();
}

/// <summary>
/// A convolutional CCL layer (the authors' C2Conv): forward a 3×3 convolution with stride 2 and padding 1 (halves the
/// side, rounding up); feedback nearest-neighbour upsampling back to the input's side, then a 3×3 stride-1
/// convolution from the output channels to the input channels. Both with biases (initialised to 0).
/// </summary>
public sealed class CclConv : CclLayer
{
    private readonly Conv2d forwardLayer;
    private readonly Conv2d feedbackLayer;
    private readonly long inChannels, outChannels, side, outSide;

    /// <summary>Kernel side.</summary>
    public const int Kernel = 3;

    /// <summary>A layer on <paramref name="inChannels"/> × <paramref name="side"/> × <paramref name="side"/> inputs.</summary>
    public CclConv(long inChannels, long outChannels, long side, string name = "conv") : base(name)
    {
        this.inChannels = inChannels;
        this.outChannels = outChannels;
        this.side = side;
        outSide = (side - 1) / 2 + 1;
        forwardLayer = Conv2d(inChannels, outChannels, Kernel, stride: 2, padding: Kernel / 2, bias: true);
        feedbackLayer = Conv2d(outChannels, inChannels, Kernel, stride: 1, padding: Kernel / 2, bias: true);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override long[] InputShape => [inChannels, side, side];
    /// <inheritdoc />
    public override long[] OutputShape => [outChannels, outSide, outSide];
    /// <inheritdoc />
    public override long ForwardMacs => outChannels * outSide * outSide * inChannels * Kernel * Kernel;
    /// <inheritdoc />
    public override long FeedbackMacs => inChannels * side * side * outChannels * Kernel * Kernel;

    /// <inheritdoc />
    public override Tensor Forward(Tensor x, bool activate, bool detach)
    {
        x = As(x, InputShape);
        if (detach) x = x.detach();
        var y = forwardLayer.call(x);
        return activate ? Act(y) : y;
    }

    /// <inheritdoc />
    public override Tensor Feedback(Tensor c, bool activate, bool detach)
    {
        c = As(c, OutputShape);
        if (detach) c = c.detach();
        var up = functional.interpolate(c, size: [side, side], mode: InterpolationMode.Nearest);
        var y = feedbackLayer.call(up);
        return activate ? Act(y) : y;
    }

    /// <inheritdoc />
    public override IEnumerable<Parameter> ForwardParameters() => forwardLayer.parameters();
    /// <inheritdoc />
    public override IEnumerable<Parameter> FeedbackParameters() => feedbackLayer.parameters();
}
