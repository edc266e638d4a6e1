namespace RlActors.Environments.FashionMnist;

/// <summary>Where to find Fashion-MNIST and how to split it (config keys under <c>data.</c>).</summary>
public sealed record FashionMnistOptions
{
    /// <summary>Where Debian's <c>dataset-fashion-mnist</c> package puts the IDX files.</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";
    /// <summary>Environment variable that overrides <see cref="DefaultDirectory"/> when <see cref="Directory"/> is not set.</summary>
    public const string DirectoryVariable = "RLACTORS_FASHION_MNIST";

    /// <summary>Folder holding the four IDX files (gzip or plain). Null: <c>$RLACTORS_FASHION_MNIST</c>, else <see cref="DefaultDirectory"/>.</summary>
    public string? Directory { get; init; }
    /// <summary>Images of the 60k training file held out for validation (model selection). Default 5000 (55k train / 5k validation).</summary>
    public int ValidationSize { get; init; } = 5000;
    /// <summary>Seed of the train/validation split. Kept apart from the run seed so every run and method sees the same validation set.</summary>
    public ulong SplitSeed { get; init; } = 0;
    /// <summary>Keep only the first N images of the (shuffled) training part, for quick runs; null keeps all.</summary>
    public int? TrainLimit { get; init; }

    /// <summary>The folder actually used.</summary>
    public string ResolvedDirectory =>
        Directory ?? (Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } env ? env : DefaultDirectory);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid key.</summary>
    public void Validate()
    {
        if (ValidationSize is < 0 or >= FashionMnist.TrainFileSize)
            throw new ArgumentException($"data.validation-size must be in [0, {FashionMnist.TrainFileSize}) (got {ValidationSize})");
        if (TrainLimit is < 1) throw new ArgumentException($"data.train-limit must be >= 1 (got {TrainLimit})");
    }
}

/// <summary>A set of labelled 28×28 grey images: raw pixels (0–255, row-major, one image after another) and labels 0–9.</summary>
/// <param name="Name">"train", "validation" or "test".</param>
/// <param name="Pixels">Count × 784 bytes.</param>
/// <param name="Labels">Count labels in 0–9.</param>
public sealed record ImageSplit(string Name, byte[] Pixels, byte[] Labels)
{
    /// <summary>Number of images.</summary>
    public int Count => Labels.Length;

    /// <summary>Pixels scaled to [0, 1] and standardised with the training set's mean and standard deviation
    /// (<see cref="FashionMnist.PixelMean"/>, <see cref="FashionMnist.PixelStd"/>): Count × 784 floats.</summary>
    public float[] Normalised()
    {
        var result = new float[Pixels.Length];
        for (int i = 0; i < Pixels.Length; i++) result[i] = FashionMnist.Normalise(Pixels[i]);
        return result;
    }

    /// <summary>The first <paramref name="n"/> images (all when there are fewer).</summary>
    public ImageSplit Take(int n)
    {
        n = Math.Min(n, Count);
        return new ImageSplit(Name, Pixels[..(n * FashionMnist.Pixels)], Labels[..n]);
    }
}

/// <summary>
/// Fashion-MNIST (Zalando; 10 classes of clothing, 28×28 grey) read from the IDX files of Debian's
/// <c>dataset-fashion-mnist</c> package. The 60k training file is split by a seeded shuffle into train and
/// validation; the 10k test file is the test set.
/// </summary>
public sealed class FashionMnist
{
    /// <summary>Image side in pixels.</summary>
    public const int Side = 28;
    /// <summary>Pixels per image.</summary>
    public const int Pixels = Side * Side;
    /// <summary>Number of classes.</summary>
    public const int Classes = 10;
    /// <summary>Images in the training file.</summary>
    public const int TrainFileSize = 60000;
    /// <summary>Images in the test file.</summary>
    public const int TestFileSize = 10000;
    /// <summary>Mean pixel value (in [0, 1]) of the 60k training images.</summary>
    public const float PixelMean = 0.2860f;
    /// <summary>Standard deviation of the pixel values (in [0, 1]) of the 60k training images.</summary>
    public const float PixelStd = 0.3530f;

    /// <summary>Class names, by label.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Training part of the training file (after the validation hold-out and the optional limit).</summary>
    public ImageSplit Train { get; }
    /// <summary>Held-out part of the training file, for model selection.</summary>
    public ImageSplit Validation { get; }
    /// <summary>The 10k test file.</summary>
    public ImageSplit Test { get; }
    /// <summary>The options it was loaded with.</summary>
    public FashionMnistOptions Options { get; }

    private FashionMnist(FashionMnistOptions options, ImageSplit train, ImageSplit validation, ImageSplit test)
    {
        Options = options; Train = train; Validation = validation; Test = test;
    }

    /// <summary>Maps a raw pixel to the network's input scale: (p / 255 − mean) / std.</summary>
    public static float Normalise(byte pixel) => (pixel / 255f - PixelMean) / PixelStd;

    /// <summary>The message given when the files are missing: names the folder and the Debian package.</summary>
    public static string MissingMessage(string directory, string file) =>
        $"Fashion-MNIST not found: {Path.Combine(directory, file)} does not exist. Install it with `apt-get install dataset-fashion-mnist` " +
        $"(files go to {FashionMnistOptions.DefaultDirectory}), or point data.directory / ${FashionMnistOptions.DirectoryVariable} " +
        "at the folder holding train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz.";

    /// <summary>Reads the four IDX files and splits the training file.</summary>
    /// <exception cref="ArgumentException">Invalid options.</exception>
    /// <exception cref="FileNotFoundException">A file is missing; the message says how to install the package and names the path looked at.</exception>
    /// <exception cref="InvalidDataException">A file is corrupt or has an unexpected shape.</exception>
    public static FashionMnist Load(FashionMnistOptions? options = null)
    {
        options ??= new FashionMnistOptions();
        options.Validate();
        string dir = options.ResolvedDirectory;
        var (trainX, trainY) = ReadPair(dir, "train", TrainFileSize);
        var (testX, testY) = ReadPair(dir, "t10k", TestFileSize);
        var all = new ImageSplit("train", trainX, trainY);
        var (train, validation) = Split(all, options.ValidationSize, options.SplitSeed);
        if (options.TrainLimit is int limit) train = train.Take(limit);
        return new FashionMnist(options, train, validation, new ImageSplit("test", testX, testY));
    }

    /// <summary>
    /// Splits <paramref name="all"/> by a seeded Fisher–Yates shuffle (SplitMix64 from <paramref name="seed"/>): the first
    /// Count − <paramref name="validationSize"/> shuffled images are the training part, the rest validation. The shuffled
    /// order is kept, so taking a prefix of the training part is itself a random subset.
    /// </summary>
    public static (ImageSplit Train, ImageSplit Validation) Split(ImageSplit all, int validationSize, ulong seed)
    {
        if (validationSize < 0 || validationSize >= all.Count)
            throw new ArgumentOutOfRangeException(nameof(validationSize), $"validation size {validationSize} must be in [0, {all.Count})");
        var order = Permutation(all.Count, new SplitMix64(SplitMix64.Stream(seed, 0x5350_4C49_54UL /* "SPLIT" */)));
        int nTrain = all.Count - validationSize;
        return (Gather(all, order.AsSpan(0, nTrain), "train"), Gather(all, order.AsSpan(nTrain), "validation"));
    }

    /// <summary>A uniformly random permutation of 0..n−1 (Fisher–Yates) drawn from <paramref name="rng"/>.</summary>
    public static int[] Permutation(int n, SplitMix64 rng)
    {
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        for (int i = n - 1; i > 0; i--)
        {
            int j = rng.NextInt32(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    private static ImageSplit Gather(ImageSplit source, ReadOnlySpan<int> rows, string name)
    {
        var pixels = new byte[rows.Length * Pixels];
        var labels = new byte[rows.Length];
        for (int i = 0; i < rows.Length; i++)
        {
            source.Pixels.AsSpan(rows[i] * Pixels, Pixels).CopyTo(pixels.AsSpan(i * Pixels));
            labels[i] = source.Labels[rows[i]];
        }
        return new ImageSplit(name, pixels, labels);
    }

    private static (byte[] Images, byte[] Labels) ReadPair(string dir, string prefix, int expected)
    {
        var images = Idx.Read(Locate(dir, $"{prefix}-images-idx3-ubyte"));
        var labels = Idx.Read(Locate(dir, $"{prefix}-labels-idx1-ubyte"));
        if (images.Shape is not [var n, Side, Side])
            throw new InvalidDataException($"{prefix} images have shape [{string.Join(", ", images.Shape)}], expected [N, 28, 28]");
        if (labels.Shape is not [var m] || m != n)
            throw new InvalidDataException($"{prefix} labels have shape [{string.Join(", ", labels.Shape)}], expected [{n}]");
        if (n != expected) throw new InvalidDataException($"{prefix} files hold {n} images, expected {expected}");
        foreach (var y in labels.Data)
            if (y >= Classes) throw new InvalidDataException($"{prefix} labels contain {y}, outside 0–9");
        return (images.Data, labels.Data);
    }

    private static string Locate(string dir, string stem)
    {
        foreach (var name in new[] { stem + ".gz", stem })
        {
            var path = Path.Combine(dir, name);
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException(MissingMessage(dir, stem + ".gz"), Path.Combine(dir, stem + ".gz"));
    }
}
