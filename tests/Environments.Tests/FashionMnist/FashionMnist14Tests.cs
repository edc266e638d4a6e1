using RlActors.Environments.FashionMnist;

namespace RlActors.Environments.Tests.FashionMnist;

public class FashionMnist14Tests
{
    [Fact]
    public void Each_pixel_is_the_average_of_its_2x2_block_scaled_to_minus_one_to_one()
    {
        var img = new byte[RlActors.Environments.FashionMnist.FashionMnist.Pixels];
        // Block (row 0, column 0) averages 0, 255, 255, 255 -> 191.25; block (13, 13) is all 255; the rest 0.
        img[1] = img[28] = img[29] = 255;
        for (int y = 26; y < 28; y++) for (int x = 26; x < 28; x++) img[y * 28 + x] = 255;
        var small = FashionMnist14.Downsample(img);
        Assert.Equal(196, small.Length);
        Assert.Equal(191.25f / 255f * 2f - 1f, small[0], 5);
        Assert.Equal(1f, small[195]);
        Assert.Equal(-1f, small[1]);
        Assert.All(small.Skip(1).SkipLast(1), v => Assert.Equal(-1f, v));
    }

    [Fact]
    public void A_batch_draws_an_image_of_each_requested_class_from_the_seed_alone()
    {
        var pixels = new byte[3 * 784];
        for (int i = 0; i < 3; i++) pixels.AsSpan(i * 784, 784).Fill((byte)(100 * i)); // image i is flat at 100·i
        var data = new FashionMnist14(new ImageSplit("train", pixels, [4, 7, 4]));
        Assert.Equal((2, 1, 0), (data.CountOf(4), data.CountOf(7), data.CountOf(0)));
        var a = data.SampleBatch([7, 4, 4, 7], new SplitMix64(5));
        Assert.Equal(a, data.SampleBatch([7, 4, 4, 7], new SplitMix64(5)));
        float Value(int row) => a[row * 196];
        Assert.Equal(100f / 255f * 2f - 1f, Value(0), 5);           // class 7: image 1 only
        Assert.Contains(Value(1), new[] { -1f, 200f / 255f * 2f - 1f }); // class 4: image 0 or 2
        Assert.Throws<InvalidOperationException>(() => data.SampleBatch([0], new SplitMix64(1)));
    }
}
