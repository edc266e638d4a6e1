using System.Reflection;
using System.Runtime.Loader;

namespace RlActors.Rewards;

/// <summary>
/// The load context of one plug-in assembly. Assemblies the host has are taken from the default context, so the
/// plug-in sees the host's <see cref="IRewardFunction"/> and <c>ArithmeticProblem</c> types; its other
/// dependencies come from its own folder, as listed in its .deps.json.
/// </summary>
/// <remarks>
/// Shared from the default context: RlActors.Rewards and RlActors.Environments (always), and any assembly that is loaded
/// in the default context or listed in the host's trusted platform assemblies, provided the host's version is at
/// least the one the plug-in asks for. Everything else resolves from the plug-in's folder
/// (<see cref="AssemblyDependencyResolver"/>), falling back to "&lt;folder&gt;/&lt;name&gt;.dll".
/// </remarks>
internal sealed class PluginLoadContext : AssemblyLoadContext
{
    private static readonly Lazy<Dictionary<string, string>> HostPlatformAssemblies = new(ReadTrustedPlatformAssemblies);

    private readonly AssemblyDependencyResolver? _resolver;
    private readonly string _directory;

    public PluginLoadContext(string mainAssemblyPath)
        : base($"reward plug-in {Path.GetFileName(mainAssemblyPath)}", isCollectible: false)
    {
        _directory = Path.GetDirectoryName(mainAssemblyPath)!;
        try
        {
            _resolver = new AssemblyDependencyResolver(mainAssemblyPath);
        }
        catch (InvalidOperationException)
        {
            _resolver = null; // no host resolver available (unusual hosts): probe the folder instead
        }
    }

    /// <summary>The framework assemblies a plug-in compiles against; always the host's copy.</summary>
    private static readonly string[] FrameworkAssemblies = ["RlActors.Rewards", "RlActors.Environments"];

    /// <summary>Whether <paramref name="name"/> is taken from the default context instead of the plug-in's folder.</summary>
    internal static bool IsSharedWithHost(AssemblyName name) =>
        name.Name is not null
        && (FrameworkAssemblies.Contains(name.Name, StringComparer.OrdinalIgnoreCase) || HostHas(name));

    /// <summary>
    /// Whether the host has <paramref name="name"/> in at least the requested version: loaded in the default
    /// context, or listed in its trusted platform assemblies (its own dependencies and the shared framework).
    /// </summary>
    internal static bool HostHas(AssemblyName name)
    {
        if (name.Name is null)
            return false;
        foreach (Assembly loaded in Default.Assemblies)
        {
            AssemblyName hostName = loaded.GetName();
            if (string.Equals(hostName.Name, name.Name, StringComparison.OrdinalIgnoreCase))
                return IsAtLeast(hostName.Version, name.Version);
        }
        if (HostPlatformAssemblies.Value.TryGetValue(name.Name, out string? path))
        {
            try
            {
                return IsAtLeast(AssemblyName.GetAssemblyName(path).Version, name.Version);
            }
            catch (Exception e) when (e is IOException or BadImageFormatException or UnauthorizedAccessException)
            {
                return false;
            }
        }
        return false;
    }

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        if (IsSharedWithHost(assemblyName))
            return null; // null means: ask the default context
        string? path = _resolver?.ResolveAssemblyToPath(assemblyName);
        if (path is null && assemblyName.Name is not null)
        {
            string candidate = Path.Combine(_directory, assemblyName.Name + ".dll");
            if (File.Exists(candidate))
                path = candidate;
        }
        return path is null ? null : LoadFromAssemblyPath(path);
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        string? path = _resolver?.ResolveUnmanagedDllToPath(unmanagedDllName);
        return path is null ? IntPtr.Zero : LoadUnmanagedDllFromPath(path);
    }

    private static bool IsAtLeast(Version? host, Version? wanted) => wanted is null || (host is not null && host >= wanted);

    private static Dictionary<string, string> ReadTrustedPlatformAssemblies()
    {
        var byName = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") is string list)
            foreach (string path in list.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
                byName.TryAdd(Path.GetFileNameWithoutExtension(path), path);
        return byName;
    }
}
