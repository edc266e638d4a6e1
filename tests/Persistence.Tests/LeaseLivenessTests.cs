using System.Diagnostics;
using RlActors.Actors.Persistence;

namespace RlActors.Persistence.Tests;

/// <summary>
/// The single-writer lease of a host that was killed is taken over at once, also when the killed process is a zombie
/// (exited but not reaped, as under a container's PID 1 that does not reap): <see cref="Process.HasExited"/> calls a
/// zombie alive, which made 'resume' wait for the lease's 30 s TTL.
/// </summary>
public sealed class LeaseLivenessTests
{
    [Fact]
    public async Task A_zombie_process_does_not_run_and_a_live_one_does()
    {
        if (!OperatingSystem.IsLinux()) return; // zombies are read from /proc
        await using var zombie = await Zombie.Start();
        Assert.False(ExperimentLease.ProcessRuns(zombie.Pid), $"process {zombie.Pid} is a zombie ({zombie.Stat()}) but counts as running");
        Assert.True(ExperimentLease.ProcessRuns(zombie.ParentPid), $"process {zombie.ParentPid} runs but counts as gone");
        Assert.True(ExperimentLease.ProcessRuns(Environment.ProcessId));
        Assert.True(ExperimentLease.HolderIsDeadLocalProcess($"{Environment.MachineName}:{zombie.Pid}:{Guid.NewGuid():N}"));
        Assert.False(ExperimentLease.HolderIsDeadLocalProcess($"{Environment.MachineName}:{zombie.ParentPid}:{Guid.NewGuid():N}"));
    }

    [Fact]
    public async Task The_lease_of_a_zombie_host_is_taken_over_at_once_and_a_live_hosts_is_not()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var dir = TempDir.Create();
        var store = new CheckpointStore(StoreLocation.Sqlite(Path.Combine(dir.Path, "experiments.db")));
        store.EnsureSchema();
        await using var zombie = await Zombie.Start();

        // A host that was SIGKILLed while holding the lease: its pid is a zombie now, its lease has 30 s left.
        string killedHost = $"{Environment.MachineName}:{zombie.Pid}:{Guid.NewGuid():N}";
        Assert.True(store.TryAcquireLease("killed", killedHost, ExperimentLease.Ttl).Acquired);
        ExperimentLease.ThrowIfHeldByAnother(store, "killed");
        var log = new List<string>();
        using (ExperimentLease.Take(store, "killed", log.Add))
        {
            Assert.Equal($"taking over the lease of {killedHost}, which no longer runs", Assert.Single(log));
            Assert.Equal(ExperimentLease.ThisProcess, store.GetLease("killed")?.Owner);
        }
        Assert.Null(store.GetLease("killed")); // released when disposed

        // A host that runs keeps its lease.
        string liveHost = $"{Environment.MachineName}:{zombie.ParentPid}:{Guid.NewGuid():N}";
        Assert.True(store.TryAcquireLease("running", liveHost, ExperimentLease.Ttl).Acquired);
        Assert.Throws<ExperimentBusyException>(() => ExperimentLease.ThrowIfHeldByAnother(store, "running"));
        Assert.Throws<ExperimentBusyException>(() => ExperimentLease.Take(store, "running", _ => { }));
    }

    /// <summary>
    /// A real zombie: <c>sh</c> starts a short <c>sleep</c> in the background, prints its pid and becomes (exec) a long
    /// <c>sleep</c>, which never waits for children; the short one exits and stays a zombie while the long one lives.
    /// </summary>
    private sealed class Zombie : IAsyncDisposable
    {
        private readonly Process parent;

        private Zombie(Process parent, int pid) { this.parent = parent; Pid = pid; }

        /// <summary>The zombie's pid.</summary>
        public int Pid { get; }

        /// <summary>The pid of its parent, a live process that does not reap it.</summary>
        public int ParentPid => parent.Id;

        /// <summary>The zombie's /proc/PID/stat line (for messages).</summary>
        public string Stat() => File.Exists($"/proc/{Pid}/stat") ? File.ReadAllText($"/proc/{Pid}/stat").Trim() : "(gone)";

        public static async Task<Zombie> Start()
        {
            var info = new ProcessStartInfo("sh", ["-c", "sleep 0.2 & echo $!; exec sleep 60"])
                { RedirectStandardOutput = true, UseShellExecute = false };
            var parent = Process.Start(info)!;
            var zombie = new Zombie(parent, int.Parse((await parent.StandardOutput.ReadLineAsync())!.Trim(), System.Globalization.CultureInfo.InvariantCulture));
            // Wait until the short sleep has exited: state Z, the case at hand.
            for (var clock = Stopwatch.StartNew(); clock.Elapsed < TimeSpan.FromSeconds(10); await Task.Delay(50))
                if (State(zombie.Stat()) == 'Z')
                {
                    // The premise of the test: .NET itself calls the zombie alive.
                    using var p = Process.GetProcessById(zombie.Pid);
                    Assert.False(p.HasExited, "Process.HasExited already sees the zombie as exited");
                    return zombie;
                }
            await zombie.DisposeAsync();
            throw new TimeoutException($"process {zombie.Pid} did not become a zombie: {zombie.Stat()}");
        }

        private static char State(string stat) => stat.LastIndexOf(')') is var end and >= 0 && end + 2 < stat.Length ? stat[end + 2] : '?';

        public async ValueTask DisposeAsync()
        {
            // Killing the parent hands the zombie to the init process, which reaps it.
            try { parent.Kill(); } catch (InvalidOperationException) { }
            await parent.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            parent.Dispose();
        }
    }
}
