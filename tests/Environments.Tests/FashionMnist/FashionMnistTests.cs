using RlActors.Environments.FashionMnist;
using Data = RlActors.Environments.FashionMnist.FashionMnist;

namespace RlActors.Environments.Tests.FashionMnist;

/// <summary>
/// The real data set from Debian's dataset-fashion-mnist package (installed by .ci/run). These tests do not skip when it
/// is missing: they fail with the message that says how to install it.
/// </summary>
public class FashionMnistTests
{
    private static readonly Lazy<Data> Loaded = new(() => Data.Load());

    [Fact]
    public void The_installed_data_set_has_the_documented_shapes_and_a_55k_5k_10k_split()
    {
        var d = Loaded.Value;
        Assert.Equal(55000, d.Train.Count);
        Assert.Equal(5000, d.Validation.Count);
        Assert.Equal(10000, d.Test.Count);
        Assert.Equal(55000 * 784, d.Train.Pixels.Length);
        Assert.Equal(10000 * 784, d.Test.Pixels.Length);
        // The test file is balanced: 1000 images per class.
        Assert.All(Enumerable.Range(0, 10), k => Assert.Equal(1000, d.Test.Labels.Count(y => y == k)));
        // Train + validation are the 60k training file: 6000 per class.
        Assert.All(Enumerable.Range(0, 10), k =>
            Assert.Equal(6000, d.Train.Labels.Count(y => y == k) + d.Validation.Labels.Count(y => y == k)));
    }

    [Fact]
    public void The_normalisation_constants_are_the_training_files_pixel_mean_and_std()
    {
        var d = Loaded.Value;
        double sum = 0, sq = 0;
        long n = 0;
        foreach (var split in new[] { d.Train, d.Validation })
            foreach (var p in split.Pixels) { double v = p / 255.0; sum += v; sq += v * v; n++; }
        double mean = sum / n, std = Math.Sqrt(sq / n - mean * mean);
        Assert.Equal(Data.PixelMean, mean, 3);
        Assert.Equal(Data.PixelStd, std, 3);
        var normalised = d.Validation.Take(100).Normalised();
        Assert.Equal((d.Validation.Pixels[5] / 255f - Data.PixelMean) / Data.PixelStd, normalised[5]);
    }

    [Fact]
    public void The_split_is_a_seeded_partition_of_the_training_file()
    {
        var d = Loaded.Value;
        var all = new ImageSplit("train", [.. d.Train.Pixels, .. d.Validation.Pixels], [.. d.Train.Labels, .. d.Validation.Labels]);
        var (a1, v1) = Data.Split(all, 1000, seed: 3);
        var (a2, v2) = Data.Split(all, 1000, seed: 3);
        var (_, v3) = Data.Split(all, 1000, seed: 4);
        Assert.Equal(v1.Pixels, v2.Pixels);
        Assert.Equal(a1.Labels, a2.Labels);
        Assert.NotEqual(v1.Pixels, v3.Pixels);
        Assert.Equal(59000, a1.Count);
        // A partition: the multiset of images is unchanged (compare sorted per-image hashes).
        static IEnumerable<long> Hashes(ImageSplit s) => Enumerable.Range(0, s.Count)
            .Select(i => s.Pixels.AsSpan(i * 784, 784).ToArray().Aggregate(17L, (h, b) => h * 31 + b));
        Assert.Equal(Hashes(all).Order(), Hashes(a1).Concat(Hashes(v1)).Order());
    }

    [Fact]
    public void Train_limit_keeps_a_prefix_of_the_shuffled_training_part_and_the_same_validation_set()
    {
        var limited = Data.Load(new FashionMnistOptions { TrainLimit = 2000 });
        Assert.Equal(2000, limited.Train.Count);
        Assert.Equal(Loaded.Value.Train.Labels[..2000], limited.Train.Labels);
        Assert.Equal(Loaded.Value.Validation.Labels, limited.Validation.Labels);
    }

    [Fact]
    public void A_missing_folder_fails_with_the_install_command_and_the_path_looked_at()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"no-fashion-{Guid.NewGuid():N}");
        var e = Assert.Throws<FileNotFoundException>(() => Data.Load(new FashionMnistOptions { Directory = dir }));
        Assert.Contains("apt-get install dataset-fashion-mnist", e.Message);
        Assert.Contains(Path.Combine(dir, "train-images-idx3-ubyte.gz"), e.Message);
    }

    [Fact]
    public void Invalid_options_name_the_key()
    {
        Assert.Contains("data.validation-size", Assert.Throws<ArgumentException>(() => Data.Load(new FashionMnistOptions { ValidationSize = 60000 })).Message);
        Assert.Contains("data.train-limit", Assert.Throws<ArgumentException>(() => Data.Load(new FashionMnistOptions { TrainLimit = 0 })).Message);
    }
}
