namespace RlActors.Policies.Lm;

/// <summary>Shape of a <see cref="TransformerLm"/>. Part of the checkpoint: a checkpoint only loads into a model of the same shape.</summary>
public sealed record LmConfig
{
    /// <summary>Number of token ids (the tokenizer's vocabulary size).</summary>
    public int VocabSize { get; init; } = 23;
    /// <summary>Width of the residual stream.</summary>
    public int DModel { get; init; } = 64;
    /// <summary>Number of transformer blocks.</summary>
    public int Layers { get; init; } = 2;
    /// <summary>Attention heads per block; must divide <see cref="DModel"/>.</summary>
    public int Heads { get; init; } = 4;
    /// <summary>Longest sequence (prompt + completion) the model accepts: the size of the position table.</summary>
    public int Context { get; init; } = 64;
    /// <summary>Hidden width of each MLP as a multiple of <see cref="DModel"/>.</summary>
    public int MlpRatio { get; init; } = 4;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid key.</summary>
    public void Validate()
    {
        if (VocabSize < 2) throw new ArgumentException($"model.vocab-size must be >= 2 (got {VocabSize})");
        if (DModel < 1) throw new ArgumentException($"model.d-model must be >= 1 (got {DModel})");
        if (Layers < 1) throw new ArgumentException($"model.layers must be >= 1 (got {Layers})");
        if (Heads < 1 || DModel % Heads != 0) throw new ArgumentException($"model.heads must divide model.d-model (got heads {Heads}, d-model {DModel})");
        if (Context < 2) throw new ArgumentException($"model.context must be >= 2 (got {Context})");
        if (MlpRatio < 1) throw new ArgumentException($"model.mlp-ratio must be >= 1 (got {MlpRatio})");
    }

    /// <summary>Parameters in the model (embeddings included).</summary>
    public long ParameterCount()
    {
        long d = DModel, h = (long)DModel * MlpRatio;
        long block = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * h + h) + (h * d + d);
        return VocabSize * d + Context * d + Layers * block + 2 * d + d * VocabSize;
    }

    /// <summary>Multiply-adds ×2 (FLOPs) of one forward pass per token at sequence length <paramref name="t"/>, the
    /// usual 2·N (matmuls) plus attention scores and weighted sums.</summary>
    public double ForwardFlopsPerToken(int t)
    {
        double d = DModel, h = DModel * MlpRatio;
        double matmulParams = Layers * (d * 3 * d + d * d + 2 * d * h) + d * VocabSize;
        double attention = Layers * 2.0 * t * d; // QK^T and AV, per token, averaged causal ~ t/2 each
        return 2 * matmulParams + 2 * attention;
    }
}
