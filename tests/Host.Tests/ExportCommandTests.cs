namespace RlActors.Host.Tests;

/// <summary>
/// <c>export</c> through the command line: the latest valid checkpoint's weights as a safetensors file, for every kind of
/// experiment (GRPO here; CCL and flow in their run tests); bad input exits 2 and writes nothing.
/// </summary>
public class ExportCommandTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Export_writes_the_policy_of_the_latest_checkpoint_as_safetensors_and_refuses_bad_input()
    {
        using var dir = new TempFolder();
        await Experiments.RunTiny(dir, "x", "runtime { checkpoint-every = 1 }");
        string sha = (await Experiments.Show(dir, "x")).GetProperty("weights_sha256").GetString()!;

        await using (var export = await CliProcess.RunAsync(dir.Path, Timeout, "export", "x", "--out", "out/policy.safetensors"))
        {
            Experiments.AssertSucceeded(export);
            Assert.Contains("at step 3", export.Stdout);
            Assert.Contains(sha, export.Stdout); // the weights `show` names
        }
        var tensors = SafetensorsFile.Read(dir["out/policy.safetensors"]);
        Assert.Equal([23L, 16L], tensors["tok.weight"].Shape); // vocabulary x d-model
        Assert.Equal([48L, 16L], tensors["pos.weight"].Shape); // context x d-model
        Assert.Contains("blocks.0.attn.qkv.weight", tensors.Keys);
        Assert.All(tensors, t => Assert.All(t.Value.Values, v => Assert.True(float.IsFinite(v), $"{t.Key} has {v}")));
        Assert.Contains(tensors.Values, t => t.Values.Any(v => v != 0));

        await using (var wrongExtension = await CliProcess.RunAsync(dir.Path, Timeout, "export", "x", "--out", "policy.pt"))
        {
            Assert.Equal(2, wrongExtension.ExitCode);
            Assert.Contains("--out", wrongExtension.Stderr);
        }
        await using (var unknown = await CliProcess.RunAsync(dir.Path, Timeout, "export", "nope", "--out", "nope.safetensors"))
        {
            Assert.Equal(2, unknown.ExitCode);
            Assert.Contains("nope", unknown.Stderr);
        }
        Assert.False(File.Exists(dir["policy.pt"]));
        Assert.False(File.Exists(dir["nope.safetensors"]));
    }

    [Fact]
    public async Task Export_of_a_ppo_run_holds_the_policy_and_the_critic_with_its_value_head()
    {
        using var dir = new TempFolder();
        // The length penalty gives every completion a non-zero return, so the critic has something to fit in 3 steps.
        await Experiments.RunTiny(dir, "p", $$"""
            algorithm = ppo
            rewards = [ { type = "MyLab.Rewards.LengthPenalty, MyLab.Rewards", assembly = {{Experiments.Quote(Repo.MyLabRewardsDll)}} } ]
            """);
        await using (var export = await CliProcess.RunAsync(dir.Path, Timeout, "export", "p", "--out", "p.safetensors"))
        {
            Experiments.AssertSucceeded(export);
            Assert.Contains("ppo", export.Stdout);
        }
        var tensors = SafetensorsFile.Read(dir["p.safetensors"]);
        Assert.Equal([23L, 16L], tensors["tok.weight"].Shape); // the policy, under its own names
        Assert.Equal([1L, 16L], tensors["value_head.weight"].Shape); // the critic's value head: d-model -> 1
        Assert.Contains(tensors.Keys, k => k.StartsWith("critic.", StringComparison.Ordinal));
        // The critic trained for 3 steps: its trunk is no longer the policy's copy, and its head is no longer zero.
        Assert.Contains(tensors["value_head.weight"].Values, v => v != 0);
        Assert.All(tensors, t => Assert.All(t.Value.Values, v => Assert.True(float.IsFinite(v), $"{t.Key} has {v}")));
    }
}
