using System.Reflection;
using RlActors.Actors.Persistence;
using RlActors.Host.Configuration;

namespace RlActors.Host;

/// <summary>Opening the experiment store from a <c>--store</c> value: parse (bad value: exit 2), check it before Akka
/// touches it (a corrupt SQLite file would hang Akka's journal; a locked one would wait 30 s), create the tables.</summary>
public static class StoreSupport
{
    /// <summary>Version of this build, recorded with every experiment.</summary>
    public static string CodeVersion =>
        typeof(StoreSupport).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>The checkpoint store at <paramref name="value"/> (default sqlite:runs/experiments.db), checked and ready.
    /// With <paramref name="existing"/> (commands that read experiments back), a SQLite file that is not there is a
    /// <see cref="ConfigError"/> naming it, instead of a new empty store created at a mistyped path.</summary>
    public static CheckpointStore Open(string? value, bool existing = false)
    {
        StoreLocation location = Locate(value);
        if (existing && IsMissing(location))
            throw new ConfigError($"--store: {location}: no such store here (nothing has run with it; a run creates it, " +
                                  $"default {StoreLocation.DefaultValue} under the current folder)");
        StorePreflight.Check(location, TimeSpan.FromSeconds(5));
        var store = new CheckpointStore(location);
        store.EnsureSchema();
        return store;
    }

    /// <summary>The parsed <c>--store</c> value (default sqlite:runs/experiments.db); a bad value is a <see cref="ConfigError"/>.</summary>
    public static StoreLocation Locate(string? value)
    {
        try { return StoreLocation.Parse(value ?? StoreLocation.DefaultValue, Directory.GetCurrentDirectory()); }
        catch (StoreLocationException e) { throw new ConfigError($"--store: {e.Message}"); }
    }

    /// <summary>True for a SQLite store whose file does not exist yet.</summary>
    public static bool IsMissing(StoreLocation location) => location.SqlitePath is { } path && !File.Exists(path);
}
