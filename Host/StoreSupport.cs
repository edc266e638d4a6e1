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

    /// <summary>This process as a lease owner: "machine:pid:guid".</summary>
    public static string LeaseOwner { get; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";

    /// <summary>
    /// Takes (or renews) the single-writer lease of experiment <paramref name="name"/> for this process and returns
    /// <see cref="LeaseOwner"/>. The lease of a process of this machine that no longer runs (killed) is taken over at once;
    /// a lease held by a live process, or by another machine until it expires, is refused with <see cref="ExperimentBusyException"/>.
    /// </summary>
    public static string AcquireLease(CheckpointStore store, string name, TextWriter log)
    {
        var lease = store.TryAcquireLease(name, LeaseOwner, LeaseTtl);
        if (!lease.Acquired && HolderIsDeadLocalProcess(lease.Holder.Owner))
        {
            // The last writer was a process of this machine that no longer runs (killed): its lease is stale.
            log.WriteLine($"taking over the lease of {lease.Holder.Owner}, which no longer runs");
            store.ReleaseLease(name, lease.Holder.Owner);
            lease = store.TryAcquireLease(name, LeaseOwner, LeaseTtl);
        }
        if (!lease.Acquired) throw Busy(name, lease.Holder);
        return LeaseOwner;
    }

    /// <summary>Refuses at once (before anything else is checked or printed) when another live host holds the lease of
    /// <paramref name="name"/>; <see cref="AcquireLease"/> takes it later, atomically.</summary>
    public static void ThrowIfHeldByAnother(CheckpointStore store, string name)
    {
        if (store.GetLease(name) is { } lease && lease.Owner != LeaseOwner && lease.ExpiresAt > DateTimeOffset.UtcNow
            && !HolderIsDeadLocalProcess(lease.Owner))
            throw Busy(name, lease);
    }

    private static ExperimentBusyException Busy(string name, LeaseInfo holder) =>
        new($"experiment '{name}' is being run by {holder.Owner} (its lease runs until {holder.ExpiresAt:u} and is renewed " +
            "while it runs); one host writes an experiment at a time: stop that one first (SIGINT or SIGTERM checkpoints and " +
            "exits), or wait for it to end");

    /// <summary>True when a lease owner ("machine:pid:guid") is a process of this machine that is no longer running.</summary>
    public static bool HolderIsDeadLocalProcess(string owner)
    {
        var parts = owner.Split(':');
        if (parts.Length != 3 || parts[0] != Environment.MachineName || !int.TryParse(parts[1], out int pid)) return false;
        return !ProcessRuns(pid);
    }

    /// <summary>
    /// True when process <paramref name="pid"/> of this machine still runs. On Linux a zombie (state Z in /proc/PID/stat: it
    /// has exited, e.g. SIGKILLed, but its parent has not reaped it, as a container's PID 1 that does not reap leaves it)
    /// does not run, though <see cref="System.Diagnostics.Process.HasExited"/> says it has not exited.
    /// </summary>
    public static bool ProcessRuns(int pid)
    {
        if (OperatingSystem.IsLinux())
        {
            string stat;
            try { stat = File.ReadAllText($"/proc/{pid}/stat"); }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return false; }
            // "PID (COMM) STATE ...": COMM may hold spaces and parentheses, so the state follows the last ')'.
            int end = stat.LastIndexOf(')');
            if (end >= 0 && end + 2 < stat.Length) return stat[end + 2] is not ('Z' or 'X' or 'x');
        }
        try { using var p = System.Diagnostics.Process.GetProcessById(pid); return !p.HasExited; }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

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

/// <summary>Another live host holds the experiment's single-writer lease (exit code 1: it may succeed later).</summary>
public sealed class ExperimentBusyException(string message) : Exception(message);
