using RlActors.Environments.Arithmetic;

namespace RlActors.Environments.Tests;

public class ArithmeticDatasetTests
{
    private static readonly ArithmeticOptions Options = new() { MaxOps = 4, Operators = "+-*" };

    [Fact]
    public void Restoring_a_saved_cursor_continues_with_the_same_problems()
    {
        var original = new ArithmeticDataset(Options, seed: 77);
        original.NextBatch(7);
        byte[] saved = original.SaveCursor();
        IReadOnlyList<ArithmeticProblem> expected = original.NextBatch(10);

        var resumed = new ArithmeticDataset(Options, seed: 77);
        resumed.Next();
        resumed.Restore(ArithmeticDataset.LoadCursor(saved));
        Assert.Equal(new DatasetCursor(77, 7), resumed.Cursor);
        Assert.Equal(expected, resumed.NextBatch(10));
        Assert.Equal(17, resumed.Position);
    }

    [Fact]
    public void Next_returns_the_generator_problems_in_order_from_the_start_position()
    {
        var generator = new ArithmeticGenerator(Options, 5);
        var dataset = new ArithmeticDataset(Options, 5, position: 40);
        Assert.Equal(generator.Get(40), dataset.Next());
        Assert.Equal([generator.Get(41), generator.Get(42)], dataset.NextBatch(2));
        Assert.Empty(dataset.NextBatch(0));
        Assert.Equal(43, dataset.Position);
    }

    [Fact]
    public void The_cursor_format_is_stable()
    {
        byte[] saved = new ArithmeticDataset(Options, seed: 0x0102030405060708, position: 300).SaveCursor();
        Assert.Equal("41524443010008070605040302012C0100000000000081585134", Convert.ToHexString(saved));
        Assert.Equal(new DatasetCursor(0x0102030405060708, 300), ArithmeticDataset.LoadCursor(saved));
    }

    [Fact]
    public void Every_corrupted_byte_of_a_cursor_gives_invalid_data()
    {
        byte[] saved = new ArithmeticDataset(Options, seed: 9, position: 12345).SaveCursor();
        for (int i = 0; i < saved.Length; i++)
        {
            byte[] corrupt = (byte[])saved.Clone();
            corrupt[i] ^= 0x10;
            Assert.Throws<InvalidDataException>(() => ArithmeticDataset.LoadCursor(corrupt));
        }
    }

    [Fact]
    public void A_truncated_or_padded_cursor_gives_invalid_data_with_a_clear_message()
    {
        byte[] saved = new ArithmeticDataset(Options, seed: 9, position: 3).SaveCursor();
        for (int length = 0; length < saved.Length; length++)
        {
            var error = Assert.Throws<InvalidDataException>(() => ArithmeticDataset.LoadCursor(saved[..length]));
            Assert.Contains("truncated", error.Message);
        }
        var trailing = Assert.Throws<InvalidDataException>(() => ArithmeticDataset.LoadCursor([.. saved, 0]));
        Assert.Contains("trailing", trailing.Message);
        var notCursor = Assert.Throws<InvalidDataException>(() => ArithmeticDataset.LoadCursor(new byte[26]));
        Assert.Contains("magic", notCursor.Message);
    }

    [Fact]
    public void Restoring_a_cursor_from_another_seed_is_rejected()
    {
        var dataset = new ArithmeticDataset(Options, seed: 1);
        var error = Assert.Throws<ArgumentException>(() => dataset.Restore(new DatasetCursor(2, 0)));
        Assert.Contains("seed", error.Message);
    }

    [Fact]
    public void HeldOut_is_stable_and_distinct_from_the_training_stream()
    {
        IReadOnlyList<ArithmeticProblem> first = ArithmeticDataset.HeldOut(Options, 31, 200);
        IReadOnlyList<ArithmeticProblem> second = ArithmeticDataset.HeldOut(Options, 31, 200);
        Assert.Equal(first, second);
        Assert.Equal(first.Take(50), ArithmeticDataset.HeldOut(Options, 31, 50));

        IReadOnlyList<ArithmeticProblem> training = new ArithmeticDataset(Options, 31).NextBatch(200);
        int same = first.Zip(training).Count(pair => pair.First.Expression == pair.Second.Expression);
        Assert.True(same < 20, $"{same} of 200 held-out problems equal the training problem at the same index");
    }
}
