namespace RlActors.Environments.Tests;

public class SplitMix64Tests
{
    [Fact]
    public void SplitMix64_matches_the_reference_implementation()
    {
        // First outputs of splitmix64.c (Vigna) seeded with 1234567.
        var random = new SplitMix64(1234567);
        ulong[] expected =
        [
            6457827717110365317UL, 3203168211198807973UL, 9817491932198370423UL,
            4593380528125082431UL, 16408922859458223821UL,
        ];
        foreach (ulong value in expected)
            Assert.Equal(value, random.NextUInt64());
    }

    [Fact]
    public void Bounded_draws_stay_in_range_and_cover_it()
    {
        var random = new SplitMix64(7);
        var seen = new bool[7];
        for (int i = 0; i < 1000; i++)
        {
            long x = random.NextInt64(7);
            Assert.InRange(x, 0, 6);
            seen[x] = true;
        }
        Assert.All(seen, Assert.True);
    }

    [Fact]
    public void Derived_streams_depend_only_on_seed_and_index()
    {
        Assert.Equal(SplitMix64.Derive(5, 3).NextUInt64(), SplitMix64.Derive(5, 3).NextUInt64());
        Assert.NotEqual(SplitMix64.Derive(5, 3).NextUInt64(), SplitMix64.Derive(5, 4).NextUInt64());
        Assert.NotEqual(SplitMix64.Derive(5, 3).NextUInt64(), SplitMix64.Derive(6, 3).NextUInt64());
    }
}
