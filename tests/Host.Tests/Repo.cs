namespace RlActors.Host.Tests;

/// <summary>
/// Paths the tests need: the command line (rlactors.dll, copied next to the tests by the Host ProjectReference),
/// the repository root (the nearest folder above the test output holding Actors.sln), and the plug-ins built by
/// the ProjectReferences with ReferenceOutputAssembly="false", under bin/&lt;our Configuration&gt;/net10.0/.
/// </summary>
internal static class Repo
{
    private static readonly Lazy<string> RootDir = new(FindRoot);

    /// <summary>The repository root.</summary>
    public static string Root => RootDir.Value;

    /// <summary>The build configuration of the test assembly, e.g. "Debug" (…/bin/&lt;Configuration&gt;/net10.0/).</summary>
    public static string Configuration =>
        new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent?.Name
        ?? throw new InvalidOperationException($"cannot tell the configuration from {AppContext.BaseDirectory}");

    /// <summary>The command line's entry assembly.</summary>
    public static string RlactorsDll
    {
        get
        {
            string copied = Path.Combine(AppContext.BaseDirectory, "rlactors.dll");
            if (File.Exists(copied)) return copied;
            return Built("Host", "rlactors.dll");
        }
    }

    /// <summary>The example plug-in, examples/plugins/MyLab.Rewards.</summary>
    public static string MyLabRewardsDll => Built("examples/plugins/MyLab.Rewards", "MyLab.Rewards.dll");

    /// <summary>The misbehaving test plug-ins, tests/TestPlugins.</summary>
    public static string TestPluginsDll => Built("tests/TestPlugins", "TestPlugins.dll");

    /// <summary>A file of the repository, by its path relative to the root.</summary>
    public static string InRepo(string relative) => Path.Combine(Root, relative);

    private static string Built(string projectDir, string dll)
    {
        string path = Path.Combine(Root, projectDir, "bin", Configuration, "net10.0", dll);
        if (!File.Exists(path)) throw new FileNotFoundException($"not built where the tests expect it: {path}", path);
        return path;
    }

    private static string FindRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Actors.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no folder above {AppContext.BaseDirectory} holds Actors.sln");
    }
}
