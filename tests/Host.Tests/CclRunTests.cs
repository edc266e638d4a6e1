using System.Text.Json;

namespace RlActors.Host.Tests;

/// <summary>
/// Experiments of kind "ccl" through the command line: run writes every SGD step with its metrics and the test accuracy at
/// each epoch's end; bad keys are named (exit 2); a run killed with SIGKILL and resumed ends with the weights of an
/// uninterrupted run. Small: a 784-32-10 MLP (or a 784-16-784 autoencoder) on 1,000 Fashion-MNIST training images.
/// </summary>
public class CclRunTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    /// <summary>A tiny ccl experiment: 1,000 training images in batches of 250 (4 steps per epoch), 2 epochs, 500 validation images.</summary>
    private static string Tiny(string name, string extra = "") => $$"""
        kind = "ccl"
        name = {{name}}
        seed = 1
        log-every = 1
        model { architecture = mlp, sizes = [784, 32, 10] }
        ccl { method = ccl, epochs = 2, batch-size = 250, learning-rate = 0.3 }
        data { train-limit = 1000, validation-size = 500 }
        runtime { checkpoint-every = 4 }   # one epoch of 4 steps
        {{extra}}
        """;

    [Fact]
    public async Task A_ccl_run_writes_every_step_with_loss_and_train_accuracy_and_the_test_accuracy_at_each_epoch_end()
    {
        using var dir = new TempFolder();
        dir.Write("ccl.conf", Tiny("tiny-ccl"));
        await using (var run = await CliProcess.RunAsync(dir.Path, Timeout, "run", "ccl.conf"))
        {
            Experiments.AssertSucceeded(run);
            Assert.Contains("test accuracy", run.Stdout);
        }

        var rows = Experiments.ReadJsonLines(dir["runs/tiny-ccl/metrics.jsonl"]);
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), rows.Select(r => r["step"].GetInt64()));
        foreach (var r in rows)
        {
            long step = r["step"].GetInt64();
            Assert.True(double.IsFinite(r["loss"].GetDouble()), $"step {step}: no finite loss");
            Assert.InRange(r["train_accuracy"].GetDouble(), 0, 1);
            Assert.Equal(step % 4 == 0, r.ContainsKey("test_accuracy"));
        }
        var evals = Experiments.ReadJsonLines(dir["runs/tiny-ccl/eval.jsonl"]);
        Assert.Equal([4L, 8L], evals.Select(e => e["step"].GetInt64()));
        Assert.Equal(rows[^1]["test_accuracy"].GetDouble(), evals[^1]["test_accuracy"].GetDouble());
        Assert.True(evals[^1]["test_accuracy"].GetDouble() > 0.3, $"test accuracy {evals[^1]["test_accuracy"]} after 2 epochs (chance: 0.1)");
        Assert.True(File.Exists(dir["runs/tiny-ccl/curves.png"]), "curves.png was not drawn");

        var shown = await Experiments.Show(dir, "tiny-ccl");
        Assert.Equal("finished", shown.GetProperty("status").GetString());
        Assert.Equal(8, shown.GetProperty("step").GetInt64());
        Assert.Equal(8, shown.GetProperty("total_steps").GetInt64());
        Assert.Equal(8, shown.GetProperty("checkpoint").GetProperty("step").GetInt64());
        Assert.Equal(64, shown.GetProperty("weights_sha256").GetString()!.Length);
        await using (var list = await CliProcess.RunAsync(dir.Path, Timeout, "list"))
            Assert.Matches(@"tiny-ccl\s+Finished\s+8/8", list.Stdout);

        // export writes both networks of the last checkpoint: forward W (out x in) and feedback B (in x out) per layer.
        await using (var export = await CliProcess.RunAsync(dir.Path, Timeout, "export", "tiny-ccl", "--out", "ccl.safetensors"))
        {
            Experiments.AssertSucceeded(export);
            Assert.Contains(shown.GetProperty("weights_sha256").GetString()!, export.Stdout);
        }
        var tensors = SafetensorsFile.Read(dir["ccl.safetensors"]);
        Assert.Equal([32L, 784L], tensors["layers.0.forwardLayer.weight"].Shape);
        Assert.Equal([784L, 32L], tensors["layers.0.feedbackLayer.weight"].Shape);
        Assert.Equal([10L, 32L], tensors["layers.1.forwardLayer.weight"].Shape);
        Assert.Equal([32L, 10L], tensors["layers.1.feedbackLayer.weight"].Shape);
    }

    [Fact]
    public async Task A_ccl_autoencoder_run_writes_the_reconstruction_mse_of_every_step_and_of_the_test_set()
    {
        using var dir = new TempFolder();
        dir.Write("ae.conf", Tiny("tiny-ae", "model { architecture = autoencoder, sizes = [784, 16, 784] }\nccl.epochs = 1"));
        await using (var run = await CliProcess.RunAsync(dir.Path, Timeout, "run", "ae.conf"))
            Experiments.AssertSucceeded(run);

        var rows = Experiments.ReadJsonLines(dir["runs/tiny-ae/metrics.jsonl"]);
        Assert.Equal([1L, 2L, 3L, 4L], rows.Select(r => r["step"].GetInt64()));
        Assert.All(rows, r => Assert.True(r["reconstruction_mse"].GetDouble() > 0));
        Assert.All(rows, r => Assert.False(r.ContainsKey("train_accuracy")));
        var eval = Assert.Single(Experiments.ReadJsonLines(dir["runs/tiny-ae/eval.jsonl"]));
        Assert.True(eval["test_reconstruction_mse"].GetDouble() > 0);
        Assert.Equal(eval["test_reconstruction_mse"].GetDouble(), rows[^1]["test_reconstruction_mse"].GetDouble());
    }

    [Theory]
    [InlineData("ccl.lerning-rate = 0.1", "ccl.lerning-rate")]          // a typo: named, with the key meant
    [InlineData("grpo.steps = 10", "grpo.steps")]                       // a GRPO key in a ccl file
    [InlineData("ccl.method = sgd", "ccl.method")]                      // a value that is not one of the choices
    [InlineData("ccl.method = bp\nccl.loss = class-template", "ccl.loss")] // a key that would do nothing
    [InlineData("model.sizes = [100, 32, 10]", "model.sizes")]          // a shape that does not fit the images
    [InlineData("ccl.batch-size = 0", "ccl.batch-size")]
    [InlineData("ccl.momentum = 1.5", "ccl.momentum")]
    [InlineData("model.normalise = layer", "model.normalise")]          // not none, example or batch
    [InlineData("model { architecture = cnn, sizes = [1, 8], normalise = batch }", "model.normalise")] // a CNN has no normalisation
    [InlineData("data.directory = \"/nonexistent/fashion\"", "/nonexistent/fashion")]
    public async Task A_bad_ccl_key_exits_2_naming_it_and_writes_nothing(string line, string culprit)
    {
        using var dir = new TempFolder();
        dir.Write("exp.conf", Tiny("bad", line));
        await BadInputTests.AssertBadInput(dir, [culprit], "run", "exp.conf");
    }

    [Fact]
    public async Task An_unknown_kind_is_named()
    {
        using var dir = new TempFolder();
        dir.Write("exp.conf", Experiments.Tiny("kinded", "kind = \"cll\""));
        await BadInputTests.AssertBadInput(dir, ["kind", "cll"], "run", "exp.conf");
    }

    [Fact]
    public async Task Keys_lists_the_ccl_keys_too()
    {
        using var dir = new TempFolder();
        await using var cli = await CliProcess.RunAsync(dir.Path, Timeout, "keys");
        Experiments.AssertSucceeded(cli);
        foreach (var key in new[] { "kind", "ccl.method", "ccl.loss", "ccl.epochs", "model.architecture", "model.normalise", "data.train-limit" })
            Assert.Contains(cli.Stdout.Split('\n'), l => l.StartsWith(key + " ", StringComparison.Ordinal) && l.Trim().Length > key.Length + 5);
    }

    [Fact]
    public async Task A_ccl_run_killed_with_SIGKILL_and_resumed_ends_with_the_weights_of_an_uninterrupted_run()
    {
        using var dir = new TempFolder();
        string suffix = Guid.NewGuid().ToString("N")[..8];
        string whole = $"whole-{suffix}", killed = $"killed-{suffix}";
        // 10 steps per epoch, 30 epochs: the kill after the first checkpoint leaves most of the run to the resume, and enough
        // of it (seconds) that the run cannot finish between the checkpoint line and the kill even on a loaded machine
        // (with 6 epochs it once did on CI).
        const string longer = "ccl { epochs = 30, batch-size = 100 }\nruntime.checkpoint-every = 10"; // one epoch
        dir.Write("whole.conf", Tiny(whole, longer));
        dir.Write("killed.conf", Tiny(killed, longer));

        await using (var run = await CliProcess.RunAsync(dir.Path, Timeout, "run", "whole.conf"))
            Experiments.AssertSucceeded(run);

        await using (var victim = CliProcess.Start(dir.Path, "run", "killed.conf"))
        {
            await victim.WaitForLineAsync(l => l.Contains("[ckpt] step 10:"), Timeout, "the epoch-1 checkpoint");
            victim.Kill();
            await victim.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }
        var atKill = await Experiments.Show(dir, killed);
        Assert.Equal("running", atKill.GetProperty("status").GetString());
        Assert.InRange(atKill.GetProperty("checkpoint").GetProperty("step").GetInt64(), 10, 290);

        await using (var resume = await CliProcess.RunAsync(dir.Path, Timeout, "resume", killed))
        {
            Experiments.AssertSucceeded(resume);
            Assert.Contains("resuming experiment", resume.Output);
        }

        var a = await Experiments.Show(dir, whole);
        var b = await Experiments.Show(dir, killed);
        Assert.Equal("finished", b.GetProperty("status").GetString());
        Assert.Equal(300, b.GetProperty("step").GetInt64());
        Assert.Equal(1, b.GetProperty("resumes").GetInt32());
        Assert.Equal(a.GetProperty("weights_sha256").GetString(), b.GetProperty("weights_sha256").GetString());

        var steps = Experiments.ReadJsonLines(dir[$"runs/{killed}/metrics.jsonl"]).Select(r => r["step"].GetInt64()).ToList();
        Assert.Equal(Enumerable.Range(1, 300).Select(i => (long)i), steps);
        double[] Losses(string name) => Experiments.ReadJsonLines(dir[$"runs/{name}/metrics.jsonl"]).Select(r => r["loss"].GetDouble()).ToArray();
        Assert.Equal(Losses(whole), Losses(killed));
        var evalSteps = Experiments.ReadJsonLines(dir[$"runs/{killed}/eval.jsonl"]).Select(r => r["step"].GetInt64());
        Assert.Equal(Enumerable.Range(1, 30).Select(e => 10L * e), evalSteps); // each epoch's evaluation once
    }
}
