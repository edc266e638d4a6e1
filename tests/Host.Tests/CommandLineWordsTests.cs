namespace RlActors.Host.Tests;

/// <summary>
/// Bad values on the command line of every command are answered in the user's words: one <c>error:</c> line naming the
/// option and the value as written (<c>--port abc: expected a whole number</c>), never a C# type name
/// (<c>System.Nullable`1[System.Int32]</c>), exit code 2, nothing written. An unknown command is named, with the commands
/// there are and the closest one.
/// </summary>
public sealed class CommandLineWordsTests
{
    /// <summary>A bad value of each number option of each command, and what its message must name.</summary>
    public static TheoryData<string[], string[]> BadValues => new()
    {
        { ["run", "exp.conf", "--port", "abc"], ["--port abc", "whole number"] },
        { ["run", "exp.conf", "--port", "99999999999"], ["--port 99999999999", "out of range"] },
        { ["run", "exp.conf", "--steps", "1.5"], ["--steps 1.5", "whole number"] },
        { ["train", "exp.conf", "--steps", "many"], ["--steps many", "whole number"] },
        { ["resume", "x", "--steps", "abc"], ["--steps abc", "whole number"] },
        { ["resume", "x", "--port", "p"], ["--port p", "whole number"] },
        { ["node", "--seed", "127.0.0.1:1", "--port", "abc"], ["--port abc", "whole number"] },
        { ["node", "--seed", "127.0.0.1:1", "--samplers", "two"], ["--samplers two", "whole number"] },
        { ["node", "--seed", "127.0.0.1:1", "--voters", "1.5"], ["--voters 1.5", "whole number"] },
        { ["node", "--seed", "127.0.0.1:1", "--explorers", "x"], ["--explorers x", "whole number"] },
        { ["ccl-compare", "--epochs", "x"], ["--epochs x", "whole number"] },
        { ["ccl-compare", "--train-limit", "1e3"], ["--train-limit 1e3", "whole number"] },
        { ["ccl-compare", "--validation-size", "5k"], ["--validation-size 5k", "whole number"] },
        { ["ccl-compare", "--batch-size", "big"], ["--batch-size big", "whole number"] },
        { ["flow-compare", "exp.conf", "--steps", "x"], ["--steps x", "whole number"] },
        { ["flow-compare", "exp.conf", "--eval-every", "often"], ["--eval-every often", "whole number"] },
        { ["flow-compare", "exp.conf", "--threshold", "high"], ["--threshold high", "number"] },
        { ["capo-voting", "--responses", "x"], ["--responses x", "whole number"] },
        { ["capo-voting", "--wrong-rate", "half"], ["--wrong-rate half", "number"] },
        { ["capo-voting", "--flip", "0,2"], ["--flip 0,2", "number"] },
        { ["capo-voting", "--seed", "-1"], ["--seed -1", ">= 0"] },
        { ["capo-voting", "--ns", "1,x"], ["--ns 1,x", "'x'", "whole number"] },
        { ["capo-voting", "--correlations", "q"], ["--correlations q", "'q'", "number"] },
        { ["sweep", "exp.conf", "--seeds", "a"], ["--seeds", "'a'"] },
        { ["list", "--store"], ["--store"] },
        { ["show"], ["'name'"] },
        { ["export", "x"], ["--out"] },
        { ["keys", "--json"], ["'--json'"] },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public async Task A_bad_value_is_named_as_the_user_wrote_it(string[] args, string[] culprits)
    {
        using var dir = new TempFolder();
        dir.Write("exp.conf", Experiments.Tiny("words"));
        await BadInputTests.AssertBadInput(dir, culprits, args);
        await AssertNoCSharp(dir, args);
    }

    [Theory]
    [InlineData("frobnicate", null)]
    [InlineData("runn", "run")]
    [InlineData("exprot", "export")]
    [InlineData("lst", "list")]
    public async Task An_unknown_command_is_named_with_the_commands_there_are(string command, string? closest)
    {
        using var dir = new TempFolder();
        string[] culprits = ["unknown command", $"'{command}'", "run", "resume", "node", "list", "show", "export", "keys"];
        await BadInputTests.AssertBadInput(dir, closest is null ? culprits : [.. culprits, $"did you mean '{closest}'"], command, "x.conf");
        await AssertNoCSharp(dir, [command]);
    }

    [Fact]
    public async Task No_command_lists_the_commands()
    {
        using var dir = new TempFolder();
        await BadInputTests.AssertBadInput(dir, ["no command", "run", "resume", "node"]);
    }

    [Theory]
    [InlineData("run")]
    [InlineData("train")]
    [InlineData("sweep")]
    [InlineData("flow-compare")]
    public async Task A_folder_given_as_the_experiment_file_is_called_a_folder(string command)
    {
        using var dir = new TempFolder();
        Directory.CreateDirectory(dir["experiments"]);
        await BadInputTests.AssertBadInput(dir, ["experiments", "is a folder"], command, "experiments");
    }

    [Fact]
    public async Task A_folder_given_as_a_plugin_is_called_a_folder()
    {
        using var dir = new TempFolder();
        Directory.CreateDirectory(dir["plugins"]);
        await BadInputTests.AssertBadInput(dir, ["--plugin plugins", "is a folder"], "node", "--seed", "127.0.0.1:1", "--plugin", "plugins");
    }

    /// <summary>Runs the command again and asserts that its message has no C# type name and no library phrasing.</summary>
    private static async Task AssertNoCSharp(TempFolder dir, string[] args)
    {
        await using var cli = await CliProcess.RunAsync(dir.Path, TimeSpan.FromSeconds(60), args);
        foreach (var csharp in new[] { "System.", "`1", "Int32", "Required command was not provided" })
            Assert.False(cli.Stderr.Contains(csharp, StringComparison.Ordinal), $"the message speaks C# ('{csharp}')\n{cli}");
    }
}
