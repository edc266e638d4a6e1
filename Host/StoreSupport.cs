using System.Reflection;
using RlActors.Actors.Persistence;
using RlActors.Host.Configuration;

namespace RlActors.Host;

/// <summary>Opening the experiment store from a <c>--store</c> value: parse (bad value: exit 2), check it before Akka
/// touches it (a corrupt SQLite file would hang Akka's journal; a locked one would wait 30 s), create the tables.</summary>
public static class StoreSupport
{
    /// <summary>How long a host's single-writer lease lasts without renewal (renewed every third of it).</summary>
    public static readonly TimeSpan LeaseTtl = TimeSpan.FromSeconds(30);

    /// <summary>Version of this build, recorded with every experiment.</summary>
    public static string CodeVersion =>
        typeof(StoreSupport).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>True when a lease owner ("machine:pid:guid") is a process of this machine that is no longer running.</summary>
    public static bool HolderIsDeadLocalProcess(string owner)
    {
        var parts = owner.Split(':');
        if (parts.Length != 3 || parts[0] != Environment.MachineName || !int.TryParse(parts[1], out int pid)) return false;
        try { using var p = System.Diagnostics.Process.GetProcessById(pid); return p.HasExited; }
        catch (ArgumentException) { return true; }
    }

    /// <summary>The checkpoint store at <paramref name="value"/> (default sqlite:runs/experiments.db), checked and ready.</summary>
    public static CheckpointStore Open(string? value)
    {
        StoreLocation location;
        try { location = StoreLocation.Parse(value ?? StoreLocation.DefaultValue, Directory.GetCurrentDirectory()); }
        catch (StoreLocationException e) { throw new ConfigError($"--store: {e.Message}"); }
        StorePreflight.Check(location, TimeSpan.FromSeconds(5));
        var store = new CheckpointStore(location);
        store.EnsureSchema();
        return store;
    }
}
