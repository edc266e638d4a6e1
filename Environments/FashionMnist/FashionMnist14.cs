namespace RlActors.Environments.FashionMnist;

/// <summary>
/// Fashion-MNIST at 14×14 for flow-matching models: every 28×28 image is downsampled by averaging 2×2 blocks and scaled
/// from [0, 255] to [−1, 1] (the scale a flow model generates in; the classifier reward model sees the same scale).
/// Images of one class can be drawn from a seeded <see cref="SplitMix64"/> for pretraining.
/// Immutable after construction and thread-safe.
/// </summary>
public sealed class FashionMnist14
{
    /// <summary>Image side in pixels.</summary>
    public const int Side = FashionMnist.Side / 2;
    /// <summary>Values per image (14·14).</summary>
    public const int Pixels = Side * Side;

    private readonly int[][] byClass;

    /// <summary>Images, <see cref="Count"/> × <see cref="Pixels"/> values in [−1, 1], row-major.</summary>
    public float[] Images { get; }
    /// <summary>Labels 0–9.</summary>
    public byte[] Labels { get; }
    /// <summary>Number of images.</summary>
    public int Count => Labels.Length;

    /// <summary>Downsamples <paramref name="split"/>.</summary>
    public FashionMnist14(ImageSplit split)
    {
        Images = Downsample(split.Pixels);
        Labels = split.Labels;
        byClass = Enumerable.Range(0, FashionMnist.Classes)
            .Select(c => Enumerable.Range(0, Count).Where(i => Labels[i] == c).ToArray()).ToArray();
    }

    /// <summary>Averages each 2×2 block of 28×28 images (raw bytes, one image after another) and maps [0, 255] to [−1, 1].</summary>
    public static float[] Downsample(ReadOnlySpan<byte> pixels28)
    {
        if (pixels28.Length % FashionMnist.Pixels != 0) throw new ArgumentException($"{pixels28.Length} bytes are not whole 28×28 images");
        int n = pixels28.Length / FashionMnist.Pixels;
        var result = new float[n * Pixels];
        for (int i = 0; i < n; i++)
        {
            var img = pixels28.Slice(i * FashionMnist.Pixels, FashionMnist.Pixels);
            for (int y = 0; y < Side; y++)
                for (int x = 0; x < Side; x++)
                {
                    int r = 2 * y * FashionMnist.Side + 2 * x;
                    int sum = img[r] + img[r + 1] + img[r + FashionMnist.Side] + img[r + FashionMnist.Side + 1];
                    result[i * Pixels + y * Side + x] = sum / (4f * 255f) * 2f - 1f;
                }
        }
        return result;
    }

    /// <summary>Images of class <paramref name="cls"/> in this split.</summary>
    public int CountOf(int cls) => byClass[CheckClass(cls)].Length;

    /// <summary>One image of each requested class, drawn uniformly among that class's images with <paramref name="rng"/>:
    /// classes.Length × <see cref="Pixels"/> values.</summary>
    public float[] SampleBatch(ReadOnlySpan<int> classes, SplitMix64 rng)
    {
        var result = new float[classes.Length * Pixels];
        for (int i = 0; i < classes.Length; i++)
        {
            var rows = byClass[CheckClass(classes[i])];
            if (rows.Length == 0) throw new InvalidOperationException($"no images of class {classes[i]} in this split");
            Images.AsSpan(rows[rng.NextInt32(rows.Length)] * Pixels, Pixels).CopyTo(result.AsSpan(i * Pixels));
        }
        return result;
    }

    private static int CheckClass(int cls) =>
        (uint)cls < FashionMnist.Classes ? cls : throw new ArgumentOutOfRangeException(nameof(cls), cls, $"class must be in [0, {FashionMnist.Classes})");
}
