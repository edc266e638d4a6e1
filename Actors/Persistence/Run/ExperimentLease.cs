namespace RlActors.Actors.Persistence;

/// <summary>
/// The single-writer lease of one experiment held by this process: taken in the store (a dead local holder's lease is
/// taken over at once), renewed every third of <see cref="Ttl"/> while held, released by <see cref="Release"/> or
/// <see cref="Dispose"/>. One host writes an experiment at a time; a second is refused with <see cref="ExperimentBusyException"/>.
/// </summary>
public sealed class ExperimentLease : IDisposable
{
    /// <summary>How long a host's lease lasts without renewal (renewed every third of it).</summary>
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(30);

    /// <summary>This process as a lease owner: "machine:pid:guid".</summary>
    public static string ThisProcess { get; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";

    private readonly CheckpointStore store;
    private readonly Timer renew;
    private int released;

    private ExperimentLease(CheckpointStore store, string name)
    {
        this.store = store;
        Name = name;
        renew = new Timer(_ => store.RenewLease(name, ThisProcess, Ttl), null, Ttl / 3, Ttl / 3);
    }

    /// <summary>The experiment whose lease this is.</summary>
    public string Name { get; }

    /// <summary>
    /// Takes (or renews) the lease of experiment <paramref name="name"/> for this process and keeps renewing it until
    /// released. The lease of a process of this machine that no longer runs (killed) is taken over at once, said through
    /// <paramref name="log"/>; a lease held by a live process, or by another machine until it expires, is refused with
    /// <see cref="ExperimentBusyException"/>.
    /// </summary>
    public static ExperimentLease Take(CheckpointStore store, string name, Action<string> log)
    {
        Acquire(store, name, log);
        return new ExperimentLease(store, name);
    }

    /// <summary>Takes (or renews) the lease once, without renewing it later; see <see cref="Take"/>.</summary>
    public static void Acquire(CheckpointStore store, string name, Action<string> log)
    {
        var lease = store.TryAcquireLease(name, ThisProcess, Ttl);
        if (!lease.Acquired && HolderIsDeadLocalProcess(lease.Holder.Owner))
        {
            // The last writer was a process of this machine that no longer runs (killed): its lease is stale.
            log($"taking over the lease of {lease.Holder.Owner}, which no longer runs");
            store.ReleaseLease(name, lease.Holder.Owner);
            lease = store.TryAcquireLease(name, ThisProcess, Ttl);
        }
        if (!lease.Acquired) throw Busy(name, lease.Holder);
    }

    /// <summary>Refuses at once (before anything else is checked or printed) when another live host holds the lease of
    /// <paramref name="name"/>; <see cref="Take"/> takes it later, atomically.</summary>
    public static void ThrowIfHeldByAnother(CheckpointStore store, string name)
    {
        if (store.GetLease(name) is { } lease && lease.Owner != ThisProcess && lease.ExpiresAt > DateTimeOffset.UtcNow
            && !HolderIsDeadLocalProcess(lease.Owner))
            throw Busy(name, lease);
    }

    /// <summary>Stops renewing and releases the lease (once; later calls do nothing).</summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref released, 1) != 0) return;
        renew.Dispose();
        store.ReleaseLease(Name, ThisProcess);
    }

    /// <inheritdoc cref="Release" />
    public void Dispose() => Release();

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
}

/// <summary>Another live host holds the experiment's single-writer lease (exit code 1: it may succeed later).</summary>
public sealed class ExperimentBusyException(string message) : Exception(message);
