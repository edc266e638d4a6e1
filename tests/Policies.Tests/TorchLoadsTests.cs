using TorchSharp;
using static TorchSharp.torch;

namespace RlActors.Policies.Tests;

/// <summary>TorchSharp's native library loads in the test host (the build-time libstdc++ patch works) and computes.</summary>
public class TorchLoadsTests
{
    [Fact]
    public void Sum_of_three_ones_is_three()
    {
        using var t = ones(3);
        using var s = t.sum();
        Assert.Equal(3f, s.item<float>());
    }

    [Fact]
    public void A_64_by_64_matmul_matches_a_hand_computation()
    {
        const int n = 64;
        // Small integers: every product and sum is exact in float32, so the comparison can be exact.
        var a = new float[n * n];
        var b = new float[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                a[i * n + j] = (i * 3 + j * 5) % 7 - 3;
                b[i * n + j] = (i * 2 + j * 11) % 5 - 2;
            }
        var expected = new float[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                float s = 0;
                for (int k = 0; k < n; k++) s += a[i * n + k] * b[k * n + j];
                expected[i * n + j] = s;
            }

        using var ta = tensor(a, new long[] { n, n });
        using var tb = tensor(b, new long[] { n, n });
        using var tc = ta.matmul(tb);
        Assert.Equal(new long[] { n, n }, tc.shape);
        var actual = tc.data<float>().ToArray();
        Assert.Contains(actual, v => v != 0); // a non-trivial product
        Assert.Equal(expected, actual);
    }
}
