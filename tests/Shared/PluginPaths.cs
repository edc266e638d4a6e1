namespace RlActors.TestSupport;

/// <summary>
/// Finds the plug-in dlls built by the ProjectReferences (ReferenceOutputAssembly="false") of this test project:
/// the repository root is the nearest folder above the test output that holds Actors.sln, and the configuration
/// is the one this test assembly was built in (…/bin/&lt;Configuration&gt;/net10.0/).
/// </summary>
internal static class PluginPaths
{
    private static readonly Lazy<string> Root = new(FindRepositoryRoot);

    /// <summary>The repository root.</summary>
    public static string RepositoryRoot => Root.Value;

    /// <summary>The build configuration of the test assembly, e.g. "Debug".</summary>
    public static string Configuration
    {
        get
        {
            var tfmDir = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory));
            return tfmDir.Parent?.Name ?? throw new InvalidOperationException($"cannot tell the configuration from {AppContext.BaseDirectory}");
        }
    }

    /// <summary>The example plug-in, examples/plugins/MyLab.Rewards.</summary>
    public static string MyLabRewards => Built("examples/plugins/MyLab.Rewards", "MyLab.Rewards.dll");

    /// <summary>The misbehaving test plug-ins, tests/TestPlugins.</summary>
    public static string TestPlugins => Built("tests/TestPlugins", "TestPlugins.dll");

    private static string Built(string projectDir, string dll)
    {
        string path = Path.Combine(RepositoryRoot, projectDir, "bin", Configuration, "net10.0", dll);
        if (!File.Exists(path))
            throw new FileNotFoundException($"the plug-in was not built where the tests expect it: {path}", path);
        return path;
    }

    private static string FindRepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Actors.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"no folder above {AppContext.BaseDirectory} holds Actors.sln");
    }
}
