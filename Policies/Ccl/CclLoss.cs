using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace RlActors.Policies.Ccl;

/// <summary>How a classification layer loss compares the forward activations A_l (batch rows) with the feedback signals C_l.</summary>
public enum CclSimilarity
{
    /// <summary>
    /// The paper's description: the feedback network is fed the batch's one-hot targets, so C_l has one row per
    /// example; rows of A_l and C_l are L2-normalised and the B × B cosine similarity Â·Ĉᵀ is pulled to the
    /// same-class indicator Y·Yᵀ: weight × MSE(Â·Ĉᵀ, Y·Yᵀ).
    /// </summary>
    BatchNormalised,
    /// <summary>
    /// The authors' MLP code: the feedback network is fed the K class one-hots (a class template per class), and the
    /// unnormalised B × K similarity A·Cᵀ is pulled to the one-hot labels Y: weight × MSE(A·Cᵀ, Y) × 256 / d_l.
    /// </summary>
    ClassTemplate,
    /// <summary>
    /// The authors' CNN code: class templates, L2-normalised rows, weight × MSE(Â·Ĉᵀ, Y), plus decorrelation terms
    /// decorrelation-weight × (MSE(Â·Âᵀ, I_B) + MSE(Ĉ·Ĉᵀ, I_K)).
    /// </summary>
    ClassTemplateDecorrelated,
}

/// <summary>
/// The layer-local CCL losses. Every term pairs a_l with c_l (l = 0 … L−1, the input pair a_0 = x with c_0 included),
/// and the output adds cross-entropy on a_L (classification) or a reconstruction MSE (autoencoder). Because the
/// networks cut gradients at every layer input, the term of pair l trains only W_l (through a_l) and B_{l+1}
/// (through c_l); the output term trains only W_L.
/// </summary>
public static class CclLoss
{
    /// <summary>Batch size folded into the authors' unnormalised loss (they multiply by 256 whatever the batch).</summary>
    public const double AuthorsScale = 256;

    /// <summary>Added to row norms before dividing, as in the authors' code.</summary>
    public const double NormEpsilon = 1e-8;

    /// <summary>True when the feedback network is fed the K class one-hots rather than the batch's targets.</summary>
    public static bool UsesClassTemplates(CclSimilarity kind) => kind != CclSimilarity.BatchNormalised;

    /// <summary>The feedback network's input c_L: the batch's one-hot labels (B × K) or the K × K identity.</summary>
    public static Tensor FeedbackInput(Tensor labels, int classes, CclSimilarity kind) => UsesClassTemplates(kind)
        ? eye(classes, dtype: float32, device: labels.device)
        : functional.one_hot(labels, classes).to_type(float32);

    /// <summary>The target of the similarity: same-class indicator Y·Yᵀ (B × B) or the one-hot labels Y (B × K).</summary>
    public static Tensor Indicator(Tensor labels, int classes, CclSimilarity kind)
    {
        var y = functional.one_hot(labels, classes).to_type(float32);
        return UsesClassTemplates(kind) ? y : y.matmul(y.t());
    }

    /// <summary>Rows divided by their L2 norm (+ <see cref="NormEpsilon"/>), after flattening to rows × features.</summary>
    public static Tensor NormaliseRows(Tensor x)
    {
        x = x.reshape(x.shape[0], -1);
        return x / (x.norm(1, keepdim: true) + NormEpsilon);
    }

    /// <summary>The loss of one layer pair (a_l, c_l); see <see cref="CclSimilarity"/> for the formulas.</summary>
    public static Tensor LayerTerm(Tensor a, Tensor c, Tensor indicator, CclSimilarity kind, double weight, double decorrelationWeight)
    {
        switch (kind)
        {
            case CclSimilarity.BatchNormalised:
            {
                var s = NormaliseRows(a).matmul(NormaliseRows(c).t());
                return functional.mse_loss(s, indicator) * weight;
            }
            case CclSimilarity.ClassTemplate:
            {
                var af = a.reshape(a.shape[0], -1);
                var s = af.matmul(c.reshape(c.shape[0], -1).t());
                return functional.mse_loss(s, indicator) * (weight * AuthorsScale / af.shape[1]);
            }
            case CclSimilarity.ClassTemplateDecorrelated:
            {
                var an = NormaliseRows(a);
                var cn = NormaliseRows(c);
                var term = functional.mse_loss(an.matmul(cn.t()), indicator) * weight;
                if (decorrelationWeight != 0)
                {
                    using var ib = eye(an.shape[0], dtype: float32, device: a.device);
                    using var ik = eye(cn.shape[0], dtype: float32, device: a.device);
                    term = term + (functional.mse_loss(an.matmul(an.t()), ib) + functional.mse_loss(cn.matmul(cn.t()), ik)) * decorrelationWeight;
                }
                return term;
            }
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }

    /// <summary>
    /// Classification: the terms of pairs 0 … L−1 followed by cross-entropy on the logits a_L (so L + 1 terms), and their
    /// sum. <paramref name="acts"/> and <paramref name="signals"/> come from <see cref="CclNetwork.Forward"/> and
    /// <see cref="CclNetwork.Feedback"/>; the signals must have been fed <see cref="FeedbackInput"/>.
    /// </summary>
    public static (Tensor Total, List<Tensor> Terms) Classification(IReadOnlyList<Tensor> acts, IReadOnlyList<Tensor> signals, Tensor labels,
        CclSimilarity kind, double weight, double decorrelationWeight)
    {
        int depth = acts.Count - 1;
        var logits = acts[depth].reshape(acts[depth].shape[0], -1);
        var indicator = Indicator(labels, (int)logits.shape[1], kind);
        var terms = new List<Tensor>(depth + 1);
        for (int l = 0; l < depth; l++) terms.Add(LayerTerm(acts[l], signals[l], indicator, kind, weight, decorrelationWeight));
        terms.Add(functional.cross_entropy(logits, labels));
        return (Sum(terms), terms);
    }

    /// <summary>Autoencoder: MSE(a_l, c_l) for l = 0 … L, where the feedback network was fed the input itself
    /// (c_L = x, so the last term is the reconstruction error of the forward network). With a
    /// <paramref name="decorrelationWeight"/> above 0, every hidden pair (0 &lt; l &lt; L) adds
    /// decorrelationWeight × (<see cref="FeatureDecorrelation"/>(a_l) + <see cref="FeatureDecorrelation"/>(c_l)).</summary>
    public static (Tensor Total, List<Tensor> Terms) Autoencoder(IReadOnlyList<Tensor> acts, IReadOnlyList<Tensor> signals, double decorrelationWeight = 0)
    {
        var terms = new List<Tensor>(acts.Count);
        int last = acts.Count - 1;
        for (int l = 0; l < acts.Count; l++)
        {
            var a = acts[l].reshape(acts[l].shape[0], -1);
            var c = signals[l].reshape(signals[l].shape[0], -1);
            var term = functional.mse_loss(a, c);
            if (decorrelationWeight != 0 && l > 0 && l < last)
                term = term + (FeatureDecorrelation(a) + FeatureDecorrelation(c)) * decorrelationWeight;
            terms.Add(term);
        }
        return (Sum(terms), terms);
    }

    /// <summary>Sum of the squared off-diagonal correlations between the features (columns) of <paramref name="x"/> over its
    /// rows, divided by the number of features (VICReg's covariance term on standardised features). 0 when every pair of
    /// features is uncorrelated over the batch; it grows when features copy each other (dimensional collapse).</summary>
    public static Tensor FeatureDecorrelation(Tensor x)
    {
        x = x.reshape(x.shape[0], -1);
        long d = x.shape[1];
        var centred = x - x.mean([0], keepdim: true);
        var z = centred / (centred.pow(2).mean([0], keepdim: true).add(NormEpsilon).sqrt());
        var corr = z.t().matmul(z) / x.shape[0];
        return (corr.pow(2).sum() - corr.diagonal().pow(2).sum()) / d;
    }

    private static Tensor Sum(List<Tensor> terms)
    {
        var total = terms[0];
        for (int i = 1; i < terms.Count; i++) total = total + terms[i];
        return total;
    }
}
