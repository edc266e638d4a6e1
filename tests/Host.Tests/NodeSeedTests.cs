using System.Diagnostics;

namespace RlActors.Host.Tests;

/// <summary>
/// <c>node --seed</c> is checked before the node starts: a seed that is not HOST:PORT, whose port is no TCP port, or whose
/// host name does not resolve is bad input (exit 2 within seconds, one line naming --seed and the value) instead of a
/// 30 s join attempt that logs a DNS stack trace at every retry.
/// </summary>
public sealed class NodeSeedTests
{
    [Theory]
    [InlineData("no-such-host.invalid:2551", "cannot resolve")]
    [InlineData("notahost.invalid:1", "cannot resolve")]
    [InlineData("127.0.0.1", "HOST:PORT")]
    [InlineData(":2551", "HOST:PORT")]
    [InlineData("127.0.0.1:", "HOST:PORT")]
    [InlineData("127.0.0.1:0", "1..65535")]
    [InlineData("127.0.0.1:70000", "1..65535")]
    [InlineData("127.0.0.1:abc", "1..65535")]
    public async Task A_bad_seed_is_named_at_once(string seed, string why)
    {
        using var dir = new TempFolder();
        var clock = Stopwatch.StartNew();
        await BadInputTests.AssertBadInput(dir, [$"--seed {seed}", why], "node", "--seed", seed);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"node took {clock.Elapsed.TotalSeconds:F1} s to refuse --seed {seed}");
    }
}
