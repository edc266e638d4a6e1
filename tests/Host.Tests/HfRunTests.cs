using System.Security.Cryptography;
using RlActors.Policies.Hf;

namespace RlActors.Host.Tests;

/// <summary>
/// model.type = "hf" through the command line: a Qwen2/Llama directory in the Hugging Face layout (written by
/// <c>make-hf-model</c>, with a BPE tokenizer learned from the task's rows) trains with GRPO and PPO on the actor runtime,
/// resumes exactly after SIGKILL, and exports back to the Hugging Face layout; bad model keys are exit 2 naming the key.
/// </summary>
public sealed class HfRunTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(180);
    private const int Total = 40; // steps of ~0.04 s: the victim has over a second left after step 7

    /// <summary>A folder with the JSONL rows of <see cref="JsonlTaskRunTests"/> and a model made from them in model/.</summary>
    internal static async Task<TempFolder> WithModel(params string[] shape)
    {
        var dir = new TempFolder();
        Directory.CreateDirectory(dir["data"]);
        dir.Write("data/train.jsonl", JsonlTaskRunTests.Rows(8));
        dir.Write("data/test.jsonl", JsonlTaskRunTests.Rows(1));
        string[] size = shape.Length > 0 ? shape : ["--hidden", "32", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--context", "64"];
        await using var make = await CliProcess.RunAsync(dir.Path, Timeout, ["make-hf-model", "--out", "model", "--corpus", "data/train.jsonl", "--seed", "3", .. size]);
        Experiments.AssertSucceeded(make);
        Assert.Contains("wrote model: qwen2", make.Stdout);
        return dir;
    }

    internal static string Experiment(string name, string extra = "") => $$"""
        name = {{name}}
        seed = 1
        log-every = 1
        task { type = "jsonl", train = "data/train.jsonl", test = "data/test.jsonl", prompt-field = "q", answer-field = "a", solution-field = "s", verifier = "exact" }
        model { type = "hf", path = "model" }
        sft { steps = 30, batch-size = 16, learning-rate = 1e-2 }
        grpo { steps = {{Total}}, prompts-per-step = 16, group-size = 4, max-new-tokens = 8, learning-rate = 1e-3 }
        eval { problems = 100, every = 0 }
        runtime { checkpoint-every = 3 }
        {{extra}}
        """;

    [Theory]
    [InlineData("grpo")]
    [InlineData("ppo")]
    public async Task An_hf_model_trains_resumes_exactly_after_SIGKILL_and_exports_to_the_hf_layout(string algorithm)
    {
        using var dir = await WithModel();
        dir.Write("whole.conf", Experiment("whole", $"algorithm = {algorithm}"));
        dir.Write("killed.conf", Experiment("killed", $"algorithm = {algorithm}"));

        await using (var run = await CliProcess.RunAsync(dir.Path, Timeout, "run", "whole.conf"))
        {
            Experiments.AssertSucceeded(run);
            Assert.Contains("model model (qwen2 (hidden 32, layers 2, heads 4/2 kv", run.Output);
        }
        // SFT taught the answers through the model's own tokenizer: prompts encoded by it, completions decoded by it.
        var evals = Experiments.ReadJsonLines(dir["runs/whole/eval.jsonl"]);
        Assert.True(evals[0]["accuracy"].GetDouble() >= 0.6, $"SFT did not teach the rows through the BPE tokenizer: {evals[0]["accuracy"]}");

        await Experiments.RunAndKillAfterStep7(dir, "killed.conf", "killed", Total, Timeout);
        await using (var resume = await CliProcess.RunAsync(dir.Path, Timeout, "resume", "killed"))
            Experiments.AssertSucceeded(resume);

        var a = await Experiments.Show(dir, "whole");
        var b = await Experiments.Show(dir, "killed");
        Assert.Equal(Total, b.GetProperty("step").GetInt64());
        string sha = a.GetProperty("weights_sha256").GetString()!;
        Assert.Equal(sha, b.GetProperty("weights_sha256").GetString());
        var loss = (string name) => Experiments.ReadJsonLines(dir[$"runs/{name}/metrics.jsonl"]).Select(r => r["loss"].GetDouble()).ToList();
        Assert.Equal(loss("whole"), loss("killed"));

        // Export writes a model directory that loads back with the run's final policy, bit for bit.
        await using (var export = await CliProcess.RunAsync(dir.Path, Timeout, "export", "killed", "--out", "exported"))
        {
            Experiments.AssertSucceeded(export);
            Assert.Contains("Hugging Face model directory", export.Stdout);
        }
        Assert.Equal(["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"],
            Directory.GetFiles(dir["exported"]).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        using var back = HfCheckpoint.Load(dir["exported"]);
        Assert.Equal(sha, Convert.ToHexStringLower(SHA256.HashData(back.SaveWeights())));
        Assert.Equal(File.ReadAllText(dir["model/tokenizer.json"]), File.ReadAllText(dir["exported/tokenizer.json"]));
    }

    [Fact]
    public async Task Make_hf_model_refuses_bad_input_with_exit_2_and_writes_nothing()
    {
        using var dir = new TempFolder();
        dir.Write("corpus.txt", "the counter goes up by 5");
        var cases = new (string[] Args, string Message)[]
        {
            (["--model-type", "gpt2"], "--model-type: expected llama or qwen2, got 'gpt2'"),
            (["--hidden", "30", "--heads", "4"], "num_attention_heads"),
            (["--corpus", "missing.jsonl"], "--corpus: missing.jsonl does not exist"),
            (["--merges", "-1"], "--merges -1: must be >= 0"),
        };
        foreach (var (args, message) in cases)
        {
            await using var make = await CliProcess.RunAsync(dir.Path, Timeout, ["make-hf-model", "--out", "m", .. args]);
            Assert.True(make.ExitCode == 2, $"{string.Join(' ', args)}: exit {make.ExitCode}\n{make}");
            Assert.Contains(message, make.Stderr);
            Assert.False(Directory.Exists(dir["m"]), $"{string.Join(' ', args)}: something was written");
        }
        Directory.CreateDirectory(dir["m"]);
        dir.Write("m/keep.txt", "a file of the user's");
        await using (var make = await CliProcess.RunAsync(dir.Path, Timeout, "make-hf-model", "--out", "m", "--corpus", "corpus.txt"))
        {
            Assert.Equal(2, make.ExitCode);
            Assert.Contains("--out: m is not empty", make.Stderr);
        }
        Assert.Equal(["keep.txt"], Directory.GetFiles(dir["m"]).Select(Path.GetFileName));
    }

    [Fact]
    public async Task The_library_loop_trains_an_hf_model_too()
    {
        using var dir = await WithModel();
        dir.Write("lib.conf", Experiment("lib", "grpo { steps = 3 }"));
        await using var run = await CliProcess.RunAsync(dir.Path, Timeout, "train", "lib.conf", "--out", "out");
        Experiments.AssertSucceeded(run);
        Assert.Contains("model model (qwen2 (hidden 32, layers 2", run.Output); // says what it trains
        var evals = Experiments.ReadJsonLines(dir["out/eval.jsonl"]);
        Assert.True(evals[0]["accuracy"].GetDouble() >= 0.6, $"SFT did not teach the rows: {evals[0]["accuracy"]}\n{run}");
        Assert.Equal(3, Experiments.ReadJsonLines(dir["out/metrics.jsonl"]).Count);
    }

    [Fact]
    public async Task Bad_model_keys_are_exit_2_naming_the_key_and_write_nothing()
    {
        using var dir = await WithModel();
        var cases = new (string Extra, string Message)[]
        {
            ("model { path = \"nowhere\" }", "model.path = \"nowhere\": the directory does not exist"),
            ("model { d-model = 64 }", "model.d-model is a key of model.type = \"gpt\""),
            ("model { dtype = \"int8\" }", "model.dtype 'int8' is not supported"),
            ("model { prompt-template = \"alpaca\" }", "model.prompt-template must be one of auto, plain, chatml, llama3"),
            ("model { prompt-format = \"no placeholder\" }", "prompt format must hold {prompt} exactly once"),
            ("grpo { max-new-tokens = 63 }", "the model's max_position_embeddings (64, model/config.json) is too short"),
        };
        dir.Write("good.conf", Experiment("good"));
        await using (var run = await CliProcess.RunAsync(dir.Path, Timeout, "run", "good.conf", "--weights-port", "70000"))
        {
            Assert.Equal(2, run.ExitCode);
            Assert.Contains("--weights-port 70000: must be in 1..65535", run.Stderr);
            Assert.False(Directory.Exists(dir["runs"]), "something was written");
        }
        foreach (var (extra, message) in cases)
        {
            dir.Write("bad.conf", Experiment("bad", extra));
            await using var run = await CliProcess.RunAsync(dir.Path, Timeout, "run", "bad.conf");
            Assert.True(run.ExitCode == 2, $"{extra}: exit {run.ExitCode}\n{run}");
            Assert.Contains(message, run.Stderr);
            Assert.False(Directory.Exists(dir["runs"]), $"{extra}: something was written");
        }
        // hf keys on the toy GPT, and an hf model on the arithmetic task.
        dir.Write("gpt.conf", Experiments.Tiny("gpt", "model { path = \"model\" }"));
        await using (var run = await CliProcess.RunAsync(dir.Path, Timeout, "run", "gpt.conf"))
        {
            Assert.Equal(2, run.ExitCode);
            Assert.Contains("model.path is a key of model.type = \"hf\"", run.Stderr);
        }
        dir.Write("arith.conf", """
            name = arith
            model { type = "hf", path = "model" }
            grpo { steps = 3, max-new-tokens = 8 }
            """);
        await using (var run = await CliProcess.RunAsync(dir.Path, Timeout, "run", "arith.conf"))
        {
            Assert.Equal(2, run.ExitCode);
            Assert.Contains("needs a data-set task (task.type = \"jsonl\")", run.Stderr);
        }
    }
}

/// <summary>An hf policy over 32 MiB reaches a worker node through the weight side channel and the node samples with it.</summary>
[Collection(nameof(WorkerNodeCollection))]
public sealed class HfWorkerNodeTests
{
    [Fact]
    public async Task A_worker_node_samples_with_an_hf_policy_too_large_for_a_remote_message()
    {
        // hidden 512 x 4 layers: ~11.6 M parameters, ~46 MB of float32 weights, over the 32 MiB frame.
        using var dir = await HfRunTests.WithModel("--hidden", "512", "--layers", "4", "--heads", "4", "--kv-heads", "2", "--context", "64");
        Assert.True(new FileInfo(dir["model/model.safetensors"]).Length > 40_000_000);
        dir.Write("big.conf", HfRunTests.Experiment("big", """
            sft { steps = 0 }
            grpo { steps = 400, prompts-per-step = 4, max-new-tokens = 6 }
            runtime { prompts-per-slot = 1, samplers-per-node = 1, slot-timeout = 60, checkpoint-every = 1000 }
            """));
        int port = FreePort.Next(), weightsPort = FreePort.Next();
        await using var host = CliProcess.Start(dir.Path, "run", "big.conf", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--weights-port", weightsPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await host.WaitForLineAsync(l => l.Contains($"cluster host up at 127.0.0.1:{port}"), TimeSpan.FromSeconds(90), "'cluster host up'");
        await using var node = CliProcess.Start(dir.Path, "node", "--seed", $"127.0.0.1:{port}", "--roles", "sampler");
        await node.WaitForLineAsync(l => l.Contains($"joined 127.0.0.1:{port} with roles sampler"), TimeSpan.FromSeconds(90), "'joined'");
        long shared = await Experiments.WaitForStepWithTwoSamplers(dir, "big", 0, host, TimeSpan.FromSeconds(240));
        Assert.True(shared > 0);
        // The node fetched them from the weight server on the port the command line fixed (what a firewall would open).
        using (var probe = new System.Net.Sockets.TcpClient())
            await probe.ConnectAsync("127.0.0.1", weightsPort);
        host.Signal("TERM");
        await host.WaitForExitAsync(TimeSpan.FromSeconds(90));
        Assert.False(host.Output.Contains("Serialization failed"), $"a message was too large\n{host}");
        Assert.False(node.Output.Contains("cannot sample"), $"the node could not sample\n{node}");
    }
}
