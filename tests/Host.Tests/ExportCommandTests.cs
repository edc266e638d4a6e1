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

}
