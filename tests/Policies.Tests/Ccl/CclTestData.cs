using RlActors.Environments.FashionMnist;
using RlActors.Policies.Ccl;
using static TorchSharp.torch;

namespace RlActors.Policies.Tests.Ccl;

/// <summary>Data for the CCL tests: random tensors from private generators, and the real Fashion-MNIST (loaded once).</summary>
internal static class CclTestData
{
    private static readonly Lazy<FashionMnist> Fashion = new(() => FashionMnist.Load(new FashionMnistOptions { TrainLimit = 2000 }));

    /// <summary>Fashion-MNIST with a 2,000-image training slice (validation 5k, test 10k). Fails with the install message when the package is missing.</summary>
    public static FashionMnist FashionSlice => Fashion.Value;

    /// <summary><paramref name="n"/> random rows of <paramref name="width"/> values and labels in 0 … classes−1.</summary>
    public static LabelledTensors Random(int n, int width, int classes, ulong seed)
    {
        using var gen = new Generator(seed);
        var x = randn([n, width], generator: gen);
        var y = randint(classes, [n], generator: gen);
        return new LabelledTensors(x, y);
    }

    /// <summary>Three random splits.</summary>
    public static CclData RandomData(int n, int width = 784, int classes = 10, ulong seed = 1) =>
        new(Random(n, width, classes, seed), Random(50, width, classes, seed + 1), Random(50, width, classes, seed + 2));

    /// <summary>Rows z·M of rank <paramref name="rank"/> (z, M standard normal, scaled to unit variance), labels 0.</summary>
    public static CclData LowRankData(int n, int width, int rank, ulong seed = 1)
    {
        using var gen = new Generator(seed);
        using var m = randn([rank, width], generator: gen) / Math.Sqrt(rank);
        LabelledTensors Split(int rows) => new(randn([rows, rank], generator: gen).matmul(m), zeros([rows], dtype: int64));
        return new CclData(Split(n), Split(50), Split(50));
    }

    /// <summary>Every parameter (both networks) flattened, in registration order.</summary>
    public static float[] Weights(CclNetwork net) => net.parameters().SelectMany(p => p.detach().data<float>().ToArray()).ToArray();

    /// <summary>A copy of one tensor's values.</summary>
    public static float[] Values(Tensor t) => t.detach().data<float>().ToArray();
}
