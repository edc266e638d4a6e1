using static TorchSharp.torch;

namespace RlActors.Policies.Lm;

/// <summary>The additive attention mask of left-padded batches, shared by every model.</summary>
internal static class AttentionMask
{
    /// <summary>
    /// Bias [B, 1, Tq, Tk] for queries at the last <paramref name="tq"/> of Tk positions: 0 where key j is visible from
    /// query i (causal and a real token, or the query itself, so that a padding row never has an empty softmax),
    /// −∞ elsewhere. The caller owns the dispose scope.
    /// </summary>
    public static Tensor Bias(Tensor keyValid, long tq, ScalarType dtype)
    {
        long tk = keyValid.shape[1];
        var device = keyValid.device;
        var qIndex = arange(tk - tq, tk, device: device).unsqueeze(1);
        var kIndex = arange(tk, device: device).unsqueeze(0);
        var causal = kIndex.le(qIndex);
        var diagonal = kIndex.eq(qIndex);
        var visible = causal.unsqueeze(0).logical_and(keyValid.unsqueeze(1)).logical_or(diagonal.unsqueeze(0));
        return zeros(visible.shape, dtype: dtype, device: device)
            .masked_fill(visible.logical_not(), float.NegativeInfinity).unsqueeze(1);
    }
}
