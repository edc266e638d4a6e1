using RlActors.Environments.FashionMnist;
using static TorchSharp.torch;

namespace RlActors.Policies.Ccl;

/// <summary>A split of the data set.</summary>
public enum CclSplit
{
    /// <summary>The training part.</summary>
    Train,
    /// <summary>The held-out part of the training file, for model selection.</summary>
    Validation,
    /// <summary>The test file.</summary>
    Test,
}

/// <summary>Labelled images as tensors: inputs [N, 784] normalised floats and labels [N] int64.</summary>
public sealed class LabelledTensors : IDisposable
{
    /// <summary>Inputs, one row per example.</summary>
    public Tensor Inputs { get; }
    /// <summary>Labels 0 … K−1.</summary>
    public Tensor Labels { get; }
    /// <summary>Number of examples.</summary>
    public int Count => (int)Labels.shape[0];

    /// <summary>Wraps the tensors (owned from now on).</summary>
    public LabelledTensors(Tensor inputs, Tensor labels)
    {
        if (inputs.shape[0] != labels.shape[0]) throw new ArgumentException($"{inputs.shape[0]} inputs but {labels.shape[0]} labels");
        Inputs = inputs.DetachFromDisposeScope();
        Labels = labels.DetachFromDisposeScope();
    }

    /// <summary>Normalised pixels and labels of an <see cref="ImageSplit"/>.</summary>
    public static LabelledTensors From(ImageSplit split) => new(
        tensor(split.Normalised(), [split.Count, FashionMnist.Pixels]),
        tensor(split.Labels.Select(b => (long)b).ToArray(), [split.Count]));

    /// <summary>Rows <paramref name="rows"/> as a new pair of tensors (in the current dispose scope).</summary>
    public (Tensor Inputs, Tensor Labels) Gather(int[] rows)
    {
        using var index = tensor(rows.Select(r => (long)r).ToArray(), [rows.Length]);
        return (Inputs.index_select(0, index), Labels.index_select(0, index));
    }

    /// <inheritdoc />
    public void Dispose() { Inputs.Dispose(); Labels.Dispose(); }
}

/// <summary>The three splits as tensors. Shared read-only by any number of trainers; dispose it after them.</summary>
public sealed class CclData : IDisposable
{
    /// <summary>Training examples.</summary>
    public LabelledTensors Train { get; }
    /// <summary>Validation examples.</summary>
    public LabelledTensors Validation { get; }
    /// <summary>Test examples.</summary>
    public LabelledTensors Test { get; }

    /// <summary>Wraps three splits (owned from now on).</summary>
    public CclData(LabelledTensors train, LabelledTensors validation, LabelledTensors test)
    {
        Train = train; Validation = validation; Test = test;
    }

    /// <summary>Fashion-MNIST as tensors.</summary>
    public static CclData From(FashionMnist data) =>
        new(LabelledTensors.From(data.Train), LabelledTensors.From(data.Validation), LabelledTensors.From(data.Test));

    /// <summary>The tensors of <paramref name="split"/>.</summary>
    public LabelledTensors this[CclSplit split] => split switch
    {
        CclSplit.Train => Train,
        CclSplit.Validation => Validation,
        CclSplit.Test => Test,
        _ => throw new ArgumentOutOfRangeException(nameof(split), split, null),
    };

    /// <inheritdoc />
    public void Dispose() { Train.Dispose(); Validation.Dispose(); Test.Dispose(); }
}
