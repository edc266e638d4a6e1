using RlActors.Environments.FashionMnist;

namespace RlActors.Environments.Tests.FashionMnist;

public class EpochBatcherTests
{
    [Fact]
    public void Every_epoch_visits_each_row_once_in_a_new_order_and_the_last_batch_is_short()
    {
        var b = new EpochBatcher(count: 10, batchSize: 4, seed: 5);
        Assert.Equal(3, b.BatchesPerEpoch);
        var epochs = new List<int[]>();
        for (int e = 0; e < 3; e++)
        {
            var batches = Enumerable.Range(0, 3).Select(_ => b.Next()).ToList();
            Assert.Equal([4, 4, 2], batches.Select(x => x.Rows.Length));
            Assert.Equal([false, false, true], batches.Select(x => x.EndsEpoch));
            Assert.All(batches, x => Assert.Equal(e, x.Epoch));
            var rows = batches.SelectMany(x => x.Rows).ToArray();
            Assert.Equal(Enumerable.Range(0, 10), rows.Order());
            Assert.Equal(b.OrderOf(e), rows);
            epochs.Add(rows);
        }
        Assert.NotEqual(epochs[0], epochs[1]);
        Assert.Equal(new BatchCursor(5, 3, 0), b.Cursor);
    }

    [Fact]
    public void A_restored_cursor_continues_with_the_same_batches()
    {
        var a = new EpochBatcher(100, 32, seed: 9);
        for (int i = 0; i < 6; i++) a.Next();
        var saved = a.SaveCursor();
        var expected = Enumerable.Range(0, 9).Select(_ => a.Next()).ToList();

        var b = new EpochBatcher(100, 32, seed: 9);
        b.Next();
        b.LoadCursor(saved);
        var got = Enumerable.Range(0, 9).Select(_ => b.Next()).ToList();
        Assert.Equal(expected.Select(x => x.Rows), got.Select(x => x.Rows));
        Assert.Equal(expected.Select(x => (x.Epoch, x.IndexInEpoch, x.EndsEpoch)), got.Select(x => (x.Epoch, x.IndexInEpoch, x.EndsEpoch)));
    }

    [Fact]
    public void A_cursor_of_another_split_seed_or_a_corrupt_one_is_refused()
    {
        var saved = new EpochBatcher(100, 32, seed: 9).SaveCursor();
        Assert.Throws<InvalidDataException>(() => new EpochBatcher(101, 32, seed: 9).LoadCursor(saved));
        Assert.Throws<InvalidDataException>(() => new EpochBatcher(100, 16, seed: 9).LoadCursor(saved));
        Assert.Throws<InvalidDataException>(() => new EpochBatcher(100, 32, seed: 8).LoadCursor(saved));
        for (int i = 0; i < saved.Length; i++)
        {
            var corrupt = (byte[])saved.Clone();
            corrupt[i] ^= 0x04;
            Assert.Throws<InvalidDataException>(() => new EpochBatcher(100, 32, seed: 9).LoadCursor(corrupt));
        }
        Assert.Throws<InvalidDataException>(() => new EpochBatcher(100, 32, seed: 9).LoadCursor(saved[..^1]));
    }
}
