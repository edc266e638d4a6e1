using System.Diagnostics;
using System.Text.RegularExpressions;

namespace RlActors.Host.Tests;

/// <summary>
/// The plug-in README as a user outside the repository follows it: its out-of-tree project file (referencing the built
/// framework dlls by path) and its example class, built with <c>dotnet build</c> in a folder outside the repository, then
/// named in an experiment and run. Also checks what the README says of a framework dll copied next to the plug-in.
/// </summary>
public sealed class OutOfTreePluginTests
{
    private static string Readme => File.ReadAllText(Repo.InRepo("examples/plugins/README.md"));

    /// <summary>The README's fenced blocks of <paramref name="language"/>, in order.</summary>
    private static List<string> Blocks(string language) =>
        Regex.Matches(Readme, "```" + language + "\n(.*?)```", RegexOptions.Singleline).Select(m => m.Groups[1].Value).ToList();

    [Theory]
    [InlineData(false)] // as the README says: framework dlls referenced for compiling only
    [InlineData(true)]  // the framework dlls copied next to the plug-in: the README says this does no harm
    public async Task A_plugin_built_outside_the_repository_from_the_readme_loads_and_scores(bool copyFramework)
    {
        using var dir = new TempFolder();
        string project = Blocks("xml").Single(b => b.Contains("<RlActorsDir>"));
        project = project.Replace("/path/to/rlactors", Repo.Root).Replace("/bin/Debug/", $"/bin/{Repo.Configuration}/");
        if (copyFramework) project = project.Replace("Private=\"false\"", "Private=\"true\"");
        string code = Blocks("csharp").Single(b => b.Contains("class LengthPenalty"));
        Directory.CreateDirectory(dir["plugin"]);
        dir.Write("plugin/OutOfTree.csproj", project);
        dir.Write("plugin/LengthPenalty.cs", code);

        var build = Process.Start(new ProcessStartInfo("dotnet", ["build", dir["plugin/OutOfTree.csproj"], "-nologo", "-v", "q"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir["plugin"],
        })!;
        var output = build.StandardOutput.ReadToEndAsync();
        var errors = build.StandardError.ReadToEndAsync();
        Assert.True(build.WaitForExit(TimeSpan.FromMinutes(3)), "dotnet build of the out-of-tree plug-in did not end in 3 minutes");
        Assert.True(build.ExitCode == 0, $"the README's plug-in project did not build:\n{await output}\n{await errors}");
        string dll = dir["plugin/bin/Debug/net10.0/OutOfTree.dll"];
        Assert.True(File.Exists(dll), $"no {dll}");
        Assert.Equal(copyFramework, File.Exists(dir["plugin/bin/Debug/net10.0/RlActors.Rewards.dll"]));

        dir.Write("outside.conf", Experiments.Tiny("outside", $$"""
            rewards = [
              { type = "outcome" },
              { type = "MyLab.Rewards.LengthPenalty, OutOfTree", assembly = {{Experiments.Quote(dll)}}, weight = 0.1 }
            ]
            """));
        await using var run = await CliProcess.RunAsync(dir.Path, TimeSpan.FromSeconds(120), "run", "outside.conf");
        Experiments.AssertSucceeded(run);
        var rows = Experiments.ReadJsonLines(dir["runs/outside/metrics.jsonl"]);
        Assert.All(rows, r => Assert.Equal(0, r["reward_failures"].GetDouble()));
        // The length penalty is in [-1, 0] at weight 0.1; the tiny policy rarely answers right: a negative mean shows it scored.
        Assert.Contains(rows, r => r["reward_mean"].GetDouble() < 0);
    }

    [Fact]
    public async Task A_plugin_reading_only_the_task_row_scores_a_jsonl_task_it_has_never_seen()
    {
        using var dir = new TempFolder();
        string project = Blocks("xml").Single(b => b.Contains("<RlActorsDir>"))
            .Replace("/path/to/rlactors", Repo.Root).Replace("/bin/Debug/", $"/bin/{Repo.Configuration}/");
        Directory.CreateDirectory(dir["plugin"]);
        dir.Write("plugin/AnyTask.csproj", project);
        dir.Write("plugin/LastLineIsAnswer.cs", Blocks("csharp").Single(b => b.Contains("class LastLineIsAnswer")));
        var build = Process.Start(new ProcessStartInfo("dotnet", ["build", dir["plugin/AnyTask.csproj"], "-nologo", "-v", "q"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir["plugin"],
        })!;
        var output = build.StandardOutput.ReadToEndAsync();
        Assert.True(build.WaitForExit(TimeSpan.FromMinutes(3)), "dotnet build of the out-of-tree plug-in did not end in 3 minutes");
        Assert.True(build.ExitCode == 0, $"the README's plug-in did not build:\n{await output}");

        // A data set the plug-in knows nothing about: five prompts with their answers, and a "weight" column of 2.
        Directory.CreateDirectory(dir["data"]);
        dir.Write("data/train.jsonl", JsonlTaskRunTests.Rows(8, ", \"weight\": 2"));
        dir.Write("data/test.jsonl", JsonlTaskRunTests.Rows(1, ", \"weight\": 2"));
        dir.Write("exp.conf", JsonlTaskRunTests.Experiment("anytask",
            $"rewards = [ {{ type = \"MyLab.Rewards.LastLineIsAnswer, AnyTask\", assembly = {Experiments.Quote(dir["plugin/bin/Debug/net10.0/AnyTask.dll"])} }} ]"));
        await using var run = await CliProcess.RunAsync(dir.Path, TimeSpan.FromSeconds(180), "run", "exp.conf");
        Experiments.AssertSucceeded(run);
        var steps = Experiments.ReadJsonLines(dir["runs/anytask/metrics.jsonl"]);
        Assert.All(steps, r => Assert.Equal(0, r["reward_failures"].GetDouble()));
        // SFT teaches the answers, so most completions end in the row's answer and earn its weight of 2: a mean above 1
        // shows the plug-in read both the answer and the extra column of rows it was never written for.
        Assert.True(steps.Average(r => r["reward_mean"].GetDouble()) > 1.0, $"mean reward {steps.Average(r => r["reward_mean"].GetDouble())}\n{run}");
    }
}
