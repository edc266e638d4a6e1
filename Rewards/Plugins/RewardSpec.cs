namespace RlActors.Rewards;

/// <summary>
/// One reward of an experiment, as written in the experiment file:
/// <c>{ type = "MyLab.Rewards.LengthPenalty, MyLab.Rewards", assembly = "plugins/MyLab.Rewards.dll", weight = 0.1 }</c>.
/// Turned into a reward by <see cref="RewardPluginLoader.Load"/>.
/// </summary>
/// <param name="Type">
/// A built-in short name ("outcome", "format", "step-correctness"), or the type's name qualified by its assembly's
/// simple name, e.g. "MyLab.Rewards.LengthPenalty, MyLab.Rewards" (a full name alone also works when
/// <paramref name="Assembly"/> is given).
/// </param>
/// <param name="Assembly">
/// The path of the plug-in .dll, or null for built-ins and types in assemblies the host already has. A relative path
/// is resolved against the base directory given to the loader.
/// </param>
/// <param name="Weight">The weight of this reward in the combined reward (finite; may be negative). Default 1.0.</param>
public sealed record RewardSpec(string Type, string? Assembly = null, double Weight = 1.0)
{
    /// <summary>The default of <see cref="Timeout"/>: 10 s.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long one call (one group) may take before it counts as failed with
    /// <see cref="FailureKind.TimedOut"/>; positive. Default 10 s.
    /// </summary>
    public TimeSpan Timeout { get; init; } = DefaultTimeout;
}

/// <summary>A reward resolved from a <see cref="RewardSpec"/>, ready to instantiate.</summary>
/// <param name="Name">The reward's <c>Name</c> (read from a probe instance at load time), used in metrics.</param>
/// <param name="Spec">The spec it was loaded from (weight and timeout live here).</param>
/// <param name="Factory">
/// Makes a fresh instance on each call (e.g. when an actor restarts). Synchronous rewards come wrapped by
/// <see cref="RewardFunctions.AsAsync"/>. Throws whatever the constructor throws.
/// </param>
public sealed record LoadedReward(string Name, RewardSpec Spec, Func<IAsyncRewardFunction> Factory)
{
    /// <summary>The class that implements the reward (for logs), or null when not known.</summary>
    public Type? ImplementationType { get; init; }
}

/// <summary>
/// A reward plug-in could not be loaded: a missing or invalid assembly, an unknown type, a type that is not a
/// reward, no usable constructor, or a constructor that threw. The message names the path or type and what to do.
/// </summary>
public sealed class PluginLoadException : Exception
{
    /// <summary>Creates the exception with a message naming the path or type.</summary>
    public PluginLoadException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public PluginLoadException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
