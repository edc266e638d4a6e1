using System.Net;
using System.Net.Sockets;

namespace RlActors.Host.Tests;

/// <summary>
/// Bad input on the command line: the process exits with 2 and one line <c>error: ...</c> on standard error that
/// names the key, path or value at fault, prints nothing else, and writes nothing (no runs/ folder, no file).
/// </summary>
public sealed class BadInputTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task An_unknown_key_in_the_file_is_named()
    {
        using var dir = new TempFolder();
        dir.Write("exp.conf", Experiments.Tiny("typo", "grpo.lerning-rate = 1"));
        await AssertBadInput(dir, ["grpo.lerning-rate", "exp.conf"], "run", "exp.conf");
    }

    [Fact]
    public async Task A_missing_or_unreadable_cluster_certificate_is_named_before_anything_starts()
    {
        using var dir = new TempFolder();
        dir.Write("exp.conf", Experiments.Tiny("tls"));
        await AssertBadInput(dir, ["--tls-certificate", "nope.pfx", "no such file"], "run", "exp.conf", "--tls-certificate", "nope.pfx");
        dir.Write("garbage.pfx", "not a certificate");
        await AssertBadInput(dir, ["--tls-certificate", "garbage.pfx", "PKCS#12"], "run", "exp.conf", "--tls-certificate", "garbage.pfx");
        await AssertBadInput(dir, ["--tls-certificate", "nope.pfx"], "node", "--seed", "127.0.0.1:1", "--tls-certificate", "nope.pfx");
    }

    [Fact]
    public async Task A_value_of_the_wrong_type_is_named()
    {
        using var dir = new TempFolder();
        dir.Write("exp.conf", Experiments.Tiny("typed", "grpo.steps = \"many\""));
        await AssertBadInput(dir, ["grpo.steps", "many"], "run", "exp.conf");
    }

    [Theory]
    [InlineData("algorithm = reinforce", "algorithm", "reinforce")]         // not an algorithm of the registry
    [InlineData("ppo.gae-lambda = 0.9", "ppo.* keys", "algorithm = \"ppo\"")] // PPO keys would do nothing under GRPO
    [InlineData("algorithm = ppo\nppo.gae-lambda = 1.5", "ppo.gae-lambda", "1.5")]
    [InlineData("algorithm = ppo\nppo.mini-batches = 0", "ppo.mini-batches", "0")]
    public async Task A_bad_algorithm_or_ppo_key_is_named(string extra, string key, string value)
    {
        using var dir = new TempFolder();
        dir.Write("exp.conf", Experiments.Tiny("algo", extra));
        await AssertBadInput(dir, [key, value], "run", "exp.conf");
    }

    [Fact]
    public async Task A_missing_experiment_file_is_named()
    {
        using var dir = new TempFolder();
        await AssertBadInput(dir, ["nowhere.conf"], "run", "nowhere.conf");
    }

    [Fact]
    public async Task An_invalid_name_is_named()
    {
        using var dir = new TempFolder();
        dir.Write("exp.conf", Experiments.Tiny("fine"));
        await AssertBadInput(dir, ["'a b'"], "run", "exp.conf", "--name", "a b");
    }

    [Fact]
    public async Task An_unknown_key_given_with_set_is_named()
    {
        using var dir = new TempFolder();
        dir.Write("exp.conf", Experiments.Tiny("set"));
        await AssertBadInput(dir, ["grpo.bogus"], "run", "exp.conf", "--set", "grpo.bogus=3");
    }

    [Theory]
    [InlineData("resume", "x")]
    [InlineData("show", "x")]
    [InlineData("export", "x", "--out", "x.safetensors")]
    public async Task Reading_from_a_store_that_does_not_exist_names_it_and_creates_nothing(params string[] args)
    {
        using var dir = new TempFolder();
        await AssertBadInput(dir, ["--store", "mistyped/experiments.db"], [.. args, "--store", "sqlite:mistyped/experiments.db"]);
        Assert.False(Directory.Exists(dir["mistyped"]));
    }

    [Fact]
    public async Task Listing_a_store_that_does_not_exist_says_so_and_creates_nothing()
    {
        using var dir = new TempFolder();
        await using var cli = await CliProcess.RunAsync(dir.Path, Timeout, "list");
        Experiments.AssertSucceeded(cli);
        Assert.Contains("does not exist yet", cli.Stdout);
        Assert.Empty(dir.Entries());
    }

    [Fact]
    public async Task An_unknown_role_of_a_node_is_named()
    {
        using var dir = new TempFolder();
        await AssertBadInput(dir, ["banana"], "node", "--seed", "127.0.0.1:1", "--roles", "banana");
    }

    [Fact]
    public async Task A_port_in_use_is_named()
    {
        using var dir = new TempFolder();
        dir.Write("exp.conf", Experiments.Tiny("busy"));
        var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        try
        {
            int port = ((IPEndPoint)occupant.LocalEndpoint).Port;
            await AssertBadInput(dir, [$"--port {port}"], "run", "exp.conf", "--port", port.ToString());
        }
        finally { occupant.Stop(); }
    }

    [Theory]
    [InlineData("run", "0")]
    [InlineData("run", "70000")]
    [InlineData("node", "-5")]
    public async Task A_port_out_of_range_is_named(string command, string port)
    {
        using var dir = new TempFolder();
        dir.Write("exp.conf", Experiments.Tiny("range"));
        string[] args = command == "run"
            ? ["run", "exp.conf", "--port", port]
            : ["node", "--seed", "127.0.0.1:1", "--port", port];
        await AssertBadInput(dir, [$"--port {port}"], args);
    }

    [Fact]
    public async Task An_unknown_device_of_a_node_is_named()
    {
        using var dir = new TempFolder();
        await AssertBadInput(dir, ["--device", "tpu"], "node", "--seed", "127.0.0.1:1", "--device", "tpu");
    }

    [Fact]
    public async Task A_host_name_that_does_not_resolve_is_named()
    {
        using var dir = new TempFolder();
        dir.Write("exp.conf", Experiments.Tiny("unresolved"));
        await AssertBadInput(dir, ["no-such-host.invalid"], "run", "exp.conf", "--hostname", "no-such-host.invalid");
    }

    [Fact]
    public async Task A_reward_plugin_that_cannot_be_loaded_is_named()
    {
        using var dir = new TempFolder();
        dir.Write("exp.conf", Experiments.Tiny("plugin", """rewards = [{ type = "X.Y, X", assembly = "missing.dll" }]"""));
        await AssertBadInput(dir, ["missing.dll"], "run", "exp.conf");
    }

    [Fact]
    public async Task A_reward_type_missing_from_its_plugin_is_named()
    {
        using var dir = new TempFolder();
        dir.Write("exp.conf", Experiments.Tiny("plugin",
            $"rewards = [{{ type = \"MyLab.Rewards.NoSuchReward, MyLab.Rewards\", assembly = {Experiments.Quote(Repo.MyLabRewardsDll)} }}]"));
        await AssertBadInput(dir, ["MyLab.Rewards.NoSuchReward"], "run", "exp.conf");
    }

    [Theory]
    [InlineData("run")]
    [InlineData("node")]
    [InlineData("train")]
    [InlineData("sweep")]
    [InlineData("keys")]
    public async Task Help_on_every_command_exits_0_and_prints_usage(string command)
    {
        using var dir = new TempFolder();
        await using var cli = await CliProcess.RunAsync(dir.Path, Timeout, command, "--help");
        Experiments.AssertSucceeded(cli);
        Assert.Contains("Usage:", cli.Stdout);
        Assert.Contains($"rlactors {command}", cli.Stdout);
        Assert.Empty(dir.Entries());
    }

    [Fact]
    public async Task Help_at_the_top_lists_every_command()
    {
        using var dir = new TempFolder();
        await using var cli = await CliProcess.RunAsync(dir.Path, Timeout, "--help");
        Experiments.AssertSucceeded(cli);
        foreach (var command in new[] { "run", "node", "train", "sweep", "keys" })
            Assert.Contains(command, cli.Stdout);
    }

    [Fact]
    public async Task Keys_lists_every_key_with_its_meaning()
    {
        using var dir = new TempFolder();
        await using var cli = await CliProcess.RunAsync(dir.Path, Timeout, "keys");
        Experiments.AssertSucceeded(cli);
        foreach (var key in new[] { "grpo.steps", "grpo.learning-rate", "runtime.prompts-per-slot", "rewards", "eval.problems" })
            Assert.Contains(cli.Stdout.Split('\n'), l => l.StartsWith(key + " ", StringComparison.Ordinal) && l.Trim().Length > key.Length + 5);
    }

    /// <summary>Runs the command; asserts exit code 2, a single <c>error:</c> line containing every culprit, nothing
    /// on standard output and no change in <paramref name="dir"/>.</summary>
    internal static async Task AssertBadInput(TempFolder dir, string[] culprits, params string[] args)
    {
        var before = dir.Entries();
        await using var cli = await CliProcess.RunAsync(dir.Path, Timeout, args);
        Assert.True(cli.ExitCode == 2, $"exit code {cli.ExitCode}, expected 2\n{cli}");
        var lines = cli.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length == 1 && lines[0].StartsWith("error: ", StringComparison.Ordinal), $"expected one 'error: ' line\n{cli}");
        foreach (var c in culprits) Assert.True(lines[0].Contains(c, StringComparison.Ordinal), $"the error does not name '{c}'\n{cli}");
        Assert.True(cli.Stdout.Trim().Length == 0, $"expected nothing on standard output\n{cli}");
        Assert.False(Directory.Exists(dir["runs"]), "a runs/ folder was created");
        Assert.Equal(before, dir.Entries());
    }
}
