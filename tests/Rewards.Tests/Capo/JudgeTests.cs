using RlActors.Rewards.Capo;
using static RlActors.Rewards.Tests.Capo.CapoTestData;

namespace RlActors.Rewards.Tests.Capo;

public class CapoJudgeTests
{
    [Theory]
    [InlineData("7+5=12\n12-3=9\n9*2=18\nA:18", new int[0])]
    [InlineData("7+5=13\n13-3=10\n10*2=20\nA:20", new[] { 1 })]       // the error is flagged where it was made
    [InlineData("7+5=12\n12-4=8\n8*2=16\nA:16", new[] { 2 })]         // wrong operand
    [InlineData("7+5=12\nQ:\n9*2=18\nA:18", new[] { 2 })]             // malformed line
    [InlineData("7+5=12\n12-3=9\n9*2=18\n18+1=19\nA:19", new[] { 4 })] // a step beyond the problem
    public async Task Oracle_flags_exactly_the_steps_the_rule_checker_rejects(string text, int[] wrong)
    {
        IReadOnlyList<Critique> critiques = await new OracleJudge().CritiqueAsync(Request(ThreeOps, text), 3, 0, default);
        Assert.Equal(3, critiques.Count);
        Assert.All(critiques, c =>
        {
            Assert.Equal(CritiqueStatus.Valid, c.Status);
            Assert.Equal(wrong, c.WrongSteps);
        });
        Assert.Equal("oracle", new OracleJudge().Name);
    }

    [Fact]
    public async Task Noisy_oracle_without_noise_is_the_oracle_and_with_certain_flips_is_its_opposite()
    {
        CritiqueRequest r = Request(ThreeOps, "7+5=13\n13-3=10\n10*2=20\nA:20"); // step 1 wrong
        Assert.All(await new NoisyOracleJudge(0, 0, 0.5, 1).CritiqueAsync(r, 5, 0, default), c => Assert.Equal([1], c.WrongSteps));
        Assert.All(await new NoisyOracleJudge(1, 1, 0.5, 1).CritiqueAsync(r, 5, 0, default), c => Assert.Equal([2, 3], c.WrongSteps));
        Assert.All(await new NoisyOracleJudge(1, 0, 0, 1).CritiqueAsync(r, 5, 0, default), c => Assert.Equal([1, 2, 3], c.WrongSteps));
        Assert.All(await new NoisyOracleJudge(0, 1, 0, 1).CritiqueAsync(r, 5, 0, default), c => Assert.Empty(c.WrongSteps));
        Assert.Equal("noisy-oracle", new NoisyOracleJudge(0, 0, 0, 1).Name);
    }

    [Fact]
    public async Task Noisy_oracle_gives_each_critique_the_same_verdict_whatever_the_call_order_or_thread()
    {
        var judge = new NoisyOracleJudge(0.3, 0.3, 0.25, seed: 42);
        var requests = Enumerable.Range(0, 50)
            .Select(i => Request(ThreeOps, "7+5=12\n12-4=8\n8*2=16\nA:16", key: $"g/{i}")).ToArray();

        // All 8 critiques in one call, in request order ...
        var together = new List<int[][]>();
        foreach (CritiqueRequest r in requests)
            together.Add([.. (await judge.CritiqueAsync(r, 8, 0, default)).Select(c => c.WrongSteps)]);
        // ... equal one critique per call, in reverse order, on pool threads, from a new judge with the same seed.
        var again = new NoisyOracleJudge(0.3, 0.3, 0.25, seed: 42);
        var single = new int[50][][];
        await Task.WhenAll(Enumerable.Range(0, 50).Reverse().Select(i => Task.Run(async () =>
        {
            single[i] = new int[8][];
            for (int c = 7; c >= 0; c--)
                single[i][c] = (await again.CritiqueAsync(requests[i], 1, c, default))[0].WrongSteps;
        })));
        for (int i = 0; i < 50; i++)
            for (int c = 0; c < 8; c++)
                Assert.Equal(together[i][c], single[i][c]);

        // Another seed or another key gives other critiques somewhere.
        var otherSeed = new NoisyOracleJudge(0.3, 0.3, 0.25, seed: 43);
        bool differs = false;
        foreach (CritiqueRequest r in requests)
            differs |= !(await otherSeed.CritiqueAsync(r, 1, 0, default))[0].WrongSteps.SequenceEqual(together[requests.ToList().IndexOf(r)][0]);
        Assert.True(differs);
    }

    [Fact]
    public void Noisy_oracle_draws_are_stable_across_runs()
    {
        // Pinned: a change here means every recorded noisy-oracle experiment would change too.
        var judge = new NoisyOracleJudge(0.5, 0.5, 0.0, seed: 7);
        int[][] flagged = [.. Enumerable.Range(0, 4).Select(c => judge.Flagged("synthetic/3", [2], 6, c))];
        Assert.Equal(
            new[] { "2,3", "1,3,6", "1,3", "1,4,5,6" },
            flagged.Select(f => string.Join(",", f)).ToArray());
    }

    [Fact]
    public void Noisy_oracle_error_rates_match_the_settings_and_correlation_makes_critiques_err_together()
    {
        const int responses = 2000, steps = 4;
        int[] truth = [2, 4];
        foreach (double correlation in new[] { 0.0, 0.5, 1.0 })
        {
            var judge = new NoisyOracleJudge(0.2, 0.1, correlation, seed: 5);
            int falsePositives = 0, falseNegatives = 0, sameAsFirst = 0, pairs = 0;
            for (int i = 0; i < responses; i++)
            {
                int[] first = judge.Flagged($"r/{i}", truth, steps, 0);
                int[] second = judge.Flagged($"r/{i}", truth, steps, 1);
                falsePositives += first.Count(s => !truth.Contains(s));
                falseNegatives += truth.Count(s => !first.Contains(s));
                for (int s = 1; s <= steps; s++, pairs++)
                    if (first.Contains(s) == second.Contains(s))
                        sameAsFirst++;
            }
            Assert.InRange(falsePositives / (2.0 * responses), 0.17, 0.23);
            Assert.InRange(falseNegatives / (2.0 * responses), 0.08, 0.12);
            double agreement = (double)sameAsFirst / pairs;
            // Two critiques disagree on a step only when at least one draws its own flip.
            if (correlation == 0.0)
                Assert.InRange(agreement, 0.70, 0.78); // 1 - 2·0.15·0.85 on average
            if (correlation == 1.0)
                Assert.Equal(1.0, agreement);
        }
    }

    [Fact]
    public void Noisy_oracle_rejects_rates_outside_zero_to_one()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new NoisyOracleJudge(-0.1, 0, 0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NoisyOracleJudge(0, 1.5, 0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NoisyOracleJudge(0, 0, double.NaN, 1));
    }
}
