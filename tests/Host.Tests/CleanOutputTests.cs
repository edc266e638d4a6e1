using System.Text.Json;

namespace RlActors.Host.Tests;

/// <summary>
/// What a command prints on standard output is its output only, so that a pipe such as
/// <c>dotnet run --project Host -- show NAME --json | python3 -m json.tool</c> gets JSON. <c>dotnet run</c> prints the
/// warnings of the restore (replayed from obj/project.assets.json at every run, also when nothing is restored) on standard
/// output before the program's own: the restore of the command line and of what it references must log none.
/// </summary>
public sealed class CleanOutputTests
{
    [Theory]
    [InlineData("Host")]
    [InlineData("Actors")]
    public void Restore_logs_no_warning(string project)
    {
        string assets = Path.Combine(Repo.Root, project, "obj", "project.assets.json");
        Assert.True(File.Exists(assets), $"{assets} is missing: the projects are restored before the tests are built");
        using var json = JsonDocument.Parse(File.ReadAllText(assets));
        var logs = json.RootElement.TryGetProperty("logs", out var l) ? l.EnumerateArray().ToList() : [];
        Assert.True(logs.Count == 0, $"the restore of {project} logs what 'dotnet run' prints before the program's output:\n" +
                                     string.Join('\n', logs.Select(e => $"{e.GetProperty("code")}: {e.GetProperty("message")}")));
    }

    [Fact]
    public async Task Show_json_prints_json_and_nothing_else()
    {
        using var dir = new TempFolder();
        await Experiments.RunTiny(dir, "piped");
        await using var show = await CliProcess.RunAsync(dir.Path, TimeSpan.FromSeconds(60), "show", "piped", "--json");
        Experiments.AssertSucceeded(show);
        using var json = JsonDocument.Parse(show.Stdout); // the whole of standard output is one JSON document
        Assert.Equal("piped", json.RootElement.GetProperty("name").GetString());
        Assert.True(show.Stderr.Trim().Length == 0, $"show --json printed on standard error\n{show}");
    }
}
