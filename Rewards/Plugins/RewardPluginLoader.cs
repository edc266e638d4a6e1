using System.Reflection;
using System.Reflection.Metadata;
using System.Runtime.Loader;

namespace RlActors.Rewards;

/// <summary>
/// Turns <see cref="RewardSpec"/>s into rewards: built-ins by short name, or classes from plug-in assemblies
/// loaded into their own <see cref="AssemblyLoadContext"/> that shares the framework's assemblies with the host.
/// Thread-safe. Each assembly path is loaded once per process; loading it again returns the same types.
/// </summary>
public static class RewardPluginLoader
{
    private static readonly Dictionary<string, Func<IRewardFunction>> BuiltIns = new(StringComparer.OrdinalIgnoreCase)
    {
        [OutcomeReward.RewardName] = () => new OutcomeReward(),
        [FormatReward.RewardName] = () => new FormatReward(),
        [StepCorrectnessReward.RewardName] = () => new StepCorrectnessReward(),
    };

    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, Assembly> AssembliesByPath = new(StringComparer.Ordinal);

    /// <summary>The short names of the built-in rewards: "outcome", "format", "step-correctness".</summary>
    public static IReadOnlyList<string> BuiltInNames { get; } =
        [OutcomeReward.RewardName, FormatReward.RewardName, StepCorrectnessReward.RewardName];

    /// <summary>
    /// Resolves one reward. The type is instantiated once here (a probe) so that a bad constructor or name is
    /// reported at load time, not in the middle of a run; the result's factory makes fresh instances.
    /// </summary>
    /// <param name="spec">The reward spec.</param>
    /// <param name="baseDirectory">The directory a relative <see cref="RewardSpec.Assembly"/> path is resolved against.</param>
    /// <exception cref="PluginLoadException">The spec is invalid or the reward cannot be loaded; one message naming the path or type.</exception>
    public static LoadedReward Load(RewardSpec spec, string baseDirectory)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(baseDirectory);
        CheckSpec(spec);

        string typeText = spec.Type.Trim();
        if (string.IsNullOrWhiteSpace(spec.Assembly))
        {
            if (BuiltIns.TryGetValue(typeText, out Func<IRewardFunction>? builtIn))
            {
                IRewardFunction probe = builtIn();
                return new LoadedReward(probe.Name, spec, () => RewardFunctions.AsAsync(builtIn())) { ImplementationType = probe.GetType() };
            }
            return FromType(FindHostType(typeText), spec, "the host");
        }

        string path = Path.GetFullPath(spec.Assembly, Path.GetFullPath(baseDirectory));
        Assembly assembly = LoadAssembly(path);
        return FromType(FindPluginType(typeText, assembly, path), spec, path);
    }

    /// <summary>Loads every spec with <see cref="Load"/> and checks that the names are unique.</summary>
    /// <exception cref="PluginLoadException">A reward cannot be loaded, or two rewards have the same name.</exception>
    public static IReadOnlyList<LoadedReward> LoadAll(IEnumerable<RewardSpec> specs, string baseDirectory)
    {
        ArgumentNullException.ThrowIfNull(specs);
        var loaded = new List<LoadedReward>();
        foreach (RewardSpec spec in specs)
        {
            LoadedReward reward = Load(spec, baseDirectory);
            LoadedReward? clash = loaded.Find(r => string.Equals(r.Name, reward.Name, StringComparison.Ordinal));
            if (clash is not null)
                throw new PluginLoadException(
                    $"two rewards are named '{reward.Name}' (types '{clash.Spec.Type}' and '{spec.Type}'); reward names must be unique because metrics are keyed by them");
            loaded.Add(reward);
        }
        return loaded.AsReadOnly();
    }

    private static void CheckSpec(RewardSpec spec)
    {
        if (string.IsNullOrWhiteSpace(spec.Type))
            throw new PluginLoadException(
                $"reward type is empty; name a built-in ({string.Join(", ", BuiltInNames)}) or a type such as \"MyLab.Rewards.LengthPenalty, MyLab.Rewards\"");
        if (!double.IsFinite(spec.Weight))
            throw new PluginLoadException($"reward '{spec.Type}' has weight {spec.Weight}; the weight must be a finite number");
        if (spec.Timeout <= TimeSpan.Zero)
            throw new PluginLoadException($"reward '{spec.Type}' has timeout {spec.Timeout}; the timeout must be positive");
    }

    private static Assembly LoadAssembly(string path)
    {
        lock (Gate)
        {
            if (AssembliesByPath.TryGetValue(path, out Assembly? cached))
                return cached;

            if (!File.Exists(path))
                throw new PluginLoadException(Directory.Exists(path)
                    ? $"reward plug-in assembly path is a directory, not a .dll: {path}"
                    : $"reward plug-in assembly not found: {path}");

            AssemblyName name;
            try
            {
                name = AssemblyName.GetAssemblyName(path);
            }
            catch (BadImageFormatException)
            {
                throw new PluginLoadException($"reward plug-in file is not a .NET assembly: {path}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
            {
                throw new PluginLoadException($"reward plug-in assembly could not be read: {path} ({e.Message})", e);
            }

            Assembly assembly;
            try
            {
                // An assembly the host already has (e.g. RlActors.Rewards.dll itself named as a plug-in) is used as the
                // host's copy; otherwise its reward types would implement a second copy of the interfaces.
                assembly = PluginLoadContext.HostHas(name)
                    ? AssemblyLoadContext.Default.LoadFromAssemblyName(name)
                    : new PluginLoadContext(path).LoadFromAssemblyPath(path);
            }
            catch (Exception e) when (e is BadImageFormatException or FileLoadException or FileNotFoundException)
            {
                throw new PluginLoadException($"reward plug-in assembly could not be loaded: {path} ({e.Message})", e);
            }
            AssembliesByPath[path] = assembly;
            return assembly;
        }
    }

    private static Type FindHostType(string typeText)
    {
        Type? type = null;
        try
        {
            type = Type.GetType(typeText, throwOnError: false);
        }
        catch (Exception e) when (e is ArgumentException or IOException or BadImageFormatException or TypeLoadException)
        {
            // reported below
        }
        return type ?? throw new PluginLoadException(
            $"reward type '{typeText}' is not a built-in ({string.Join(", ", BuiltInNames)}) and the host has no such type; "
            + "for a plug-in, give the path of its .dll as well (assembly = \"path/to/Plugin.dll\")");
    }

    private static Type FindPluginType(string typeText, Assembly assembly, string path)
    {
        if (!TypeName.TryParse(typeText.AsSpan(), out TypeName? parsed))
            throw new PluginLoadException(
                $"reward type '{typeText}' is not a valid type name; write it as \"Namespace.Type, AssemblyName\"");
        string? wantedAssembly = parsed.AssemblyName?.Name;
        string? actualAssembly = assembly.GetName().Name;
        if (wantedAssembly is not null && !string.Equals(wantedAssembly, actualAssembly, StringComparison.OrdinalIgnoreCase))
            throw new PluginLoadException(
                $"reward type '{parsed.FullName}' names assembly '{wantedAssembly}', but {path} is assembly '{actualAssembly}'");

        Type? type;
        try
        {
            type = assembly.GetType(parsed.FullName, throwOnError: false);
        }
        catch (Exception e) when (e is IOException or BadImageFormatException or TypeLoadException)
        {
            throw new PluginLoadException($"reward type '{parsed.FullName}' in {path} could not be loaded: {e.Message}", e);
        }
        if (type is not null)
            return type;

        IReadOnlyList<string> candidates = RewardTypesIn(assembly);
        string hint = candidates.Count == 0
            ? "it has no public types that implement RlActors.Rewards.IRewardFunction or IAsyncRewardFunction"
            : "public reward types there: " + string.Join(", ", candidates);
        throw new PluginLoadException($"reward type '{parsed.FullName}' not found in {path}; {hint}");
    }

    private static IReadOnlyList<string> RewardTypesIn(Assembly assembly)
    {
        Type?[] types;
        try
        {
            types = assembly.GetExportedTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            types = e.Types;
        }
        catch (Exception e) when (e is IOException or TypeLoadException)
        {
            return [];
        }
        return types
            .Where(t => t is { IsClass: true, IsAbstract: false } && IsReward(t))
            .Select(t => t!.FullName ?? t.Name)
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    private static void DisposeQuietly(object probe)
    {
        try
        {
            (probe as IDisposable)?.Dispose();
        }
        catch (Exception)
        {
            // The probe only served to check the constructor and the name.
        }
    }

    private static bool IsReward(Type type) =>
        typeof(IAsyncRewardFunction).IsAssignableFrom(type) || typeof(IRewardFunction).IsAssignableFrom(type);

    private static LoadedReward FromType(Type type, RewardSpec spec, string where)
    {
        string typeName = type.FullName ?? type.Name;
        if (!IsReward(type))
        {
            Type? lookalike = type.GetInterfaces().FirstOrDefault(i =>
                i.FullName == typeof(IRewardFunction).FullName || i.FullName == typeof(IAsyncRewardFunction).FullName);
            throw new PluginLoadException(lookalike is null
                ? $"type '{typeName}' in {where} implements neither RlActors.Rewards.IRewardFunction nor RlActors.Rewards.IAsyncRewardFunction"
                : $"type '{typeName}' in {where} implements {lookalike.FullName} from another copy of RlActors.Rewards "
                  + $"({lookalike.Assembly.Location}); reference the host's RlActors.Rewards without copying it next to the plug-in");
        }
        if (type.IsAbstract || type.IsInterface || type.ContainsGenericParameters)
            throw new PluginLoadException(
                $"type '{typeName}' in {where} is abstract or an open generic type and cannot be instantiated; name a concrete class");

        ConstructorInfo ctor = type.GetConstructor(BindingFlags.Public | BindingFlags.Instance, Type.EmptyTypes)
            ?? throw new PluginLoadException(
                $"type '{typeName}' in {where} has no public parameterless constructor; the runtime creates rewards with `new {type.Name}()`, so add one");

        object CreateRaw() => ctor.Invoke(BindingFlags.DoNotWrapExceptions, binder: null, parameters: null, culture: null);
        IAsyncRewardFunction Wrap(object instance) =>
            instance as IAsyncRewardFunction ?? RewardFunctions.AsAsync((IRewardFunction)instance);

        object probe;
        try
        {
            probe = CreateRaw();
        }
        catch (Exception e)
        {
            throw new PluginLoadException($"constructor of reward type '{typeName}' in {where} threw {e.GetType().Name}: {e.Message}", e);
        }
        string name;
        try
        {
            name = Wrap(probe).Name;
        }
        catch (Exception e)
        {
            throw new PluginLoadException($"Name of reward type '{typeName}' in {where} threw {e.GetType().Name}: {e.Message}", e);
        }
        finally
        {
            DisposeQuietly(probe);
        }
        if (string.IsNullOrWhiteSpace(name))
            throw new PluginLoadException($"reward type '{typeName}' in {where} has an empty Name; give it a short stable name");
        return new LoadedReward(name, spec, () => Wrap(CreateRaw())) { ImplementationType = type };
    }
}
