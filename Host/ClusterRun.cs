using System.Reflection;
using Akka.Actor;
using Akka.Cluster;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using RlActors.Actors.Experiment;
using RlActors.Actors.Persistence;
using RlActors.Actors.Runtime;
using RlActors.Policies.Checkpoints;
using RlActors.Policies.Runtime;
using RlActors.Host.Configuration;
using RlActors.Rewards;

namespace RlActors.Host;

/// <summary>The <c>run</c> and <c>node</c> commands: a cluster host that runs an experiment, and worker nodes that join it.</summary>
public static class ClusterRun
{
    /// <summary>Arguments of <c>run</c>.</summary>
    /// <param name="File">The experiment file.</param>
    /// <param name="Overrides">--set key=value (and --name as name=...).</param>
    /// <param name="Port">--port.</param>
    /// <param name="Hostname">--hostname.</param>
    /// <param name="PublicHostname">--public-hostname.</param>
    /// <param name="OutDir">--out.</param>
    /// <param name="Store">--store.</param>
    /// <param name="Steps">--steps: the total steps, in the experiment kind's unit (GRPO steps; CCL SGD steps).</param>
    public sealed record RunArgs(string File, IReadOnlyList<string> Overrides, int? Port, string Hostname, string? PublicHostname, string? OutDir,
        string? Store = null, long? Steps = null, string? TlsCertificate = null, int? WeightsPort = null);

    /// <summary>Runs an experiment of any kind on a new cluster whose seed is this process. Returns the exit code.</summary>
    public static async Task<int> Run(RunArgs a, TextWriter log, CancellationToken ct)
    {
        // Everything that can be wrong with the input is checked before anything is started or written.
        var exp = RunnableExperiment.Load(a.File, a.Overrides, a.Steps);
        exp.CheckBeforeRun();
        ValidateEndpoint(a.Hostname, a.Port);
        var security = Security(a.TlsCertificate);
        int port = a.Port ?? ClusterNode.FreePort(a.Hostname);
        if (a.Port is int p && !ClusterNode.PortIsFree(a.Hostname, p)) throw new ConfigError($"--port {p}: port is in use on {a.Hostname}");
        CheckWeightsPort(a.Hostname, a.WeightsPort, port);
        string dir = a.OutDir ?? Path.Combine("runs", exp.Name);
        if (a.OutDir is null && Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any())
            throw new ConfigError($"runs/{exp.Name} already exists: pick another name with --name, or remove that folder");
        var store = StoreSupport.Open(a.Store);
        // Checked again, atomically, when the journal records the start (two hosts starting the same name at once);
        // this early check answers before Akka starts and before anything is printed.
        if (ExperimentRecords.ListNames(store.Location).Contains(exp.Name, StringComparer.Ordinal))
            throw new ConfigError(AlreadyExists(exp.Name, store));
        return await Launch(exp, a.Hostname, a.PublicHostname, port, dir, store, lease: null, resuming: false, null, log, ct, security: security, weightsPort: a.WeightsPort);
    }

    private static string AlreadyExists(string name, CheckpointStore store) =>
        $"experiment '{name}' already exists in {store.Location}: continue it with 'resume {name}' or pick another --name";

    /// <summary>Arguments of <c>resume</c>.</summary>
    public sealed record ResumeArgs(string Name, string? Store, long? Steps, int? Port, string Hostname, string? PublicHostname, string? TlsCertificate = null,
        int? WeightsPort = null);

    /// <summary>Continues an experiment of the store from its latest valid checkpoint up to its total steps (or --steps).</summary>
    public static async Task<int> Resume(ResumeArgs a, TextWriter log, CancellationToken ct)
    {
        ValidateEndpoint(a.Hostname, a.Port);
        var security = Security(a.TlsCertificate);
        int port = a.Port ?? ClusterNode.FreePort(a.Hostname);
        if (a.Port is int p && !ClusterNode.PortIsFree(a.Hostname, p)) throw new ConfigError($"--port {p}: port is in use on {a.Hostname}");
        CheckWeightsPort(a.Hostname, a.WeightsPort, port);
        if (a.Steps is <= 0) throw new ConfigError($"--steps: must be > 0 (got {a.Steps})");
        var store = StoreSupport.Open(a.Store, existing: true);
        var (state, events) = await StoreCommands.Read(store, a.Name);
        ExperimentLease.ThrowIfHeldByAnother(store, a.Name); // "being run elsewhere" says more than anything checked below
        string origin = $"{store.Location} experiment {a.Name}";
        // Without --steps the total is the journal's: the latest `resume --steps N` (or the run's own) wins over the file's.
        var exp = RunnableExperiment.Parse(state.ConfigText, origin, [], a.Steps ?? (state.TotalSteps > 0 ? state.TotalSteps : null));
        var latest = store.LoadLatestValid(a.Name, warning => log.WriteLine($"warning: {warning}"));
        var checkpoint = latest is null ? null : TrainingCheckpoint.Decode(latest.Data);
        long from = checkpoint?.Step ?? 0;
        // A finished experiment is never trained again from scratch or from an older checkpoint: that would redo (and
        // rewrite the metrics of) steps it has completed. It continues only past its last step, from the checkpoint of it.
        if (state.Status == ExperimentStatus.Finished && from < state.Step)
            throw new ConfigError(checkpoint is null
                ? $"experiment '{a.Name}' finished at step {state.Step} without a stored checkpoint (a run of an older build with " +
                  $"runtime.checkpoint-every = 0): it cannot be continued; run the experiment file again under a new name"
                : $"experiment '{a.Name}' finished at step {state.Step}, but its latest valid checkpoint is of step {from}: " +
                  "continuing would redo finished steps; run the experiment file again under a new name");
        if (a.Steps is long n && n <= from)
            throw new ConfigError($"--steps {n}: experiment '{a.Name}' is already at step {from} (its latest valid checkpoint); a new total must be larger");
        if (from >= exp.TotalSteps)
            throw new ConfigError($"experiment '{a.Name}' is {state.Status.ToString().ToLowerInvariant()} at step {from} of {exp.TotalSteps}: " +
                                  $"nothing to resume; to train further give a larger total: resume {a.Name} --steps N (N > {from})");
        exp.CheckBeforeRun(); // plug-ins load here too, and a judge must answer, before anything is written
        if (checkpoint is null) log.WriteLine($"warning: experiment '{a.Name}' has no valid checkpoint; {exp.FromScratch}");
        if (!string.IsNullOrEmpty(state.CodeVersion) && state.CodeVersion != StoreSupport.CodeVersion)
            log.WriteLine($"warning: experiment '{a.Name}' was started by rlactors {state.CodeVersion} and is resumed by " +
                          $"{StoreSupport.CodeVersion}: it continues, but a resume is bitwise exact only with the code that started it");

        // The single-writer lease comes before any file is touched: a second host must not rewrite a running host's files.
        var lease = ExperimentLease.Take(store, a.Name, log.WriteLine);
        string dir = Path.Combine("runs", a.Name);
        try { RunFiles.RebuildForResume(dir, events, from); }
        catch { lease.Release(); throw; }
        log.WriteLine($"resuming experiment {a.Name} after step {from} of {exp.TotalSteps}");
        return await Launch(exp, a.Hostname, a.PublicHostname, port, dir, store, lease, resuming: true, checkpoint, log, ct, latest?.Info, security, a.WeightsPort);
    }

    /// <summary>Environment variable holding the password of the <c>--tls-certificate</c> file (none: a file without password).</summary>
    public const string TlsPasswordVariable = "RLACTORS_TLS_PASSWORD";
    /// <summary>Environment variable holding the cluster secret every node must know (none: no secret).</summary>
    public const string SecretVariable = "RLACTORS_CLUSTER_SECRET";

    /// <summary>The node's security from <c>--tls-certificate</c> and the environment (<see cref="TlsPasswordVariable"/>,
    /// <see cref="SecretVariable"/>), checked now: a certificate that cannot be used is bad input naming its path.</summary>
    private static ClusterSecurity? Security(string? certificate)
    {
        string? secret = Environment.GetEnvironmentVariable(SecretVariable), password = Environment.GetEnvironmentVariable(TlsPasswordVariable);
        if (certificate is null && string.IsNullOrEmpty(secret)) return null;
        var security = new ClusterSecurity(certificate is null ? null : Path.GetFullPath(certificate), certificate is null ? null : password, string.IsNullOrEmpty(secret) ? null : secret);
        try { security.Validate(); }
        catch (ClusterSecurityException e) { throw new ConfigError($"--tls-certificate: {e.Message}"); }
        return security;
    }

    /// <summary>How long a stop (SIGINT, SIGTERM) may take to checkpoint the last completed step before the command gives up with exit 1.</summary>
    public static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Starts the host node and runs (or continues, when <paramref name="resuming"/>, from <paramref name="checkpoint"/> or
    /// from scratch without one) the experiment, whatever its kind, holding <paramref name="lease"/> (taken here when null). When
    /// <paramref name="ct"/> is cancelled (SIGINT, SIGTERM) the experiment stops at the next step boundary, its last
    /// completed step is checkpointed and the stop journaled, then the node leaves the cluster; the exit code is then
    /// the signal's (130 or 143), or 1 when the checkpoint could not be stored within <see cref="StopTimeout"/>.
    /// </summary>
    private static async Task<int> Launch(IRunnableExperiment exp, string hostname, string? publicHostname, int port, string dir, CheckpointStore store,
        ExperimentLease? lease, bool resuming, TrainingCheckpoint? checkpoint, TextWriter log, CancellationToken ct, CheckpointInfo? resumedFrom = null,
        ClusterSecurity? security = null, int? weightsPort = null)
    {
        var a = (Hostname: hostname, PublicHostname: publicHostname);
        using var held = lease ?? ExperimentLease.Take(store, exp.Name, log.WriteLine);

        bool createdDir = !Directory.Exists(dir);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "experiment.conf"), exp.EffectiveText);
        using var files = new RunObserver(dir, log, exp.LogEvery, exp.TotalSteps, exp.Display);
        log.WriteLine(exp.Description);
        log.WriteLine($"output: {dir}; store: {store.Location}");

        // libtorch loads on its first call (0.2-0.5 s): get that done on the torch thread while Akka starts.
        _ = TorchThread.Shared.Run(() => { TorchSharp.torch.zeros(1).Dispose(); return 0; });
        var node = exp.Node(a.Hostname, port, a.PublicHostname) with { Security = security, WeightsPort = weightsPort };
        // This process shuts its actor system down itself, after the shutdown checkpoint: the CLR exit hook must not do it first.
        using var host = ClusterNode.Build(node, extraHocon: PersistenceSetup.Hocon(store.Location.ProviderName, store.Location.ConnectionString) +
                                                             "\nakka.coordinated-shutdown.run-by-clr-shutdown-hook = off\n");
        await host.StartAsync(ct);
        var system = host.Services.GetRequiredService<ActorSystem>();
        try
        {
            // The journal needs no cluster: its recovery (the SQL plugin starting up) runs while the node joins.
            var run = new RunLifecycle(system, store, exp.Name);
            using var joinTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            joinTimeout.CancelAfter(TimeSpan.FromSeconds(30));
            try { await ClusterNode.WhenUp(system, joinTimeout.Token); }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                log.WriteLine($"failed: the cluster host at {a.PublicHostname ?? a.Hostname}:{port} did not come up within 30 s");
                return 1;
            }
            log.WriteLine($"cluster host up at {a.PublicHostname ?? a.Hostname}:{port}" + (exp.WorkerRoles is { } roles
                ? $"; add workers with: dotnet run --project Host -- node --seed {a.PublicHostname ?? a.Hostname}:{port} --roles {roles}" : ""));
            // A run must know that its start was recorded (the name may be taken) before anything runs. A resume does not wait
            // for its records before starting the experiment: the journal persists records in the order it receives them, so
            // the experiment's own events come after these; they are confirmed before the progress is awaited.
            var recorded = Task.CompletedTask;
            if (!resuming)
            {
                if (!await run.RecordStart(exp.EffectiveText, exp.Seed, StoreSupport.CodeVersion, exp.TotalSteps))
                {
                    if (createdDir) Directory.Delete(dir, recursive: true);
                    await Console.Error.WriteLineAsync($"error: {AlreadyExists(exp.Name, store)}");
                    return 2;
                }
            }
            else recorded = run.RecordResume(checkpoint?.Step ?? 0, $"{a.PublicHostname ?? a.Hostname}:{port}", resumedFrom, exp.TotalSteps);
            var observer = run.Observer(files, exp.KeepCheckpoints);
            var experiment = system.ActorOf(exp.Coordinator(observer, checkpoint, dir, log), "experiment");
            await recorded;
            var stopWindow = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var reg = ct.Register(() =>
            {
                string signal = Cli.InterruptedExitCode() == Interrupts.SigtermExitCode ? "SIGTERM" : "SIGINT";
                files.Log($"{signal}: stopping at the next step boundary and checkpointing (again to exit at once)");
                experiment.Tell(new CoordinatorActor.Stop(signal));
                _ = Task.Delay(StopTimeout).ContinueWith(_ => stopWindow.TrySetResult(), TaskScheduler.Default);
            });
            var progress = LiveProgress.Show(files, exp.TotalSteps);
            if (await Task.WhenAny(progress, stopWindow.Task) != progress)
            {
                await Console.Error.WriteLineAsync($"failed: the experiment did not store its shutdown checkpoint within {StopTimeout.TotalSeconds:F0} s " +
                    $"(is the store {store.Location} reachable?); 'resume {exp.Name}' continues from the last checkpoint stored");
                await run.RecordStopTimedOut(StopTimeout);
                return 1;
            }
            int code = await progress;
            system.Stop(experiment);
            await run.Flush(observer);
            if (code == RunObserver.StoppedOnRequest)
            {
                log.WriteLine($"stopped; continue it with: rlactors resume {exp.Name} (store {store.Location})");
                return Cli.InterruptedExitCode();
            }
            return code;
        }
        finally
        {
            held.Release();
            await Cluster.Get(system).LeaveAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { });
            await host.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20)).ContinueWith(_ => { });
            await TorchIdle();
        }
    }

    /// <summary>
    /// Waits (at most 30 s) until the torch thread has finished the work queued so far: a sampling task of a step that a
    /// stop dropped, the learner's disposal. Exiting while it runs native code crashed the process at exit (SIGSEGV, 139).
    /// </summary>
    private static Task TorchIdle() =>
        TorchThread.Shared.Run(() => 0).WaitAsync(TimeSpan.FromSeconds(30)).ContinueWith(_ => { }, TaskScheduler.Default);

    /// <summary>Arguments of <c>node</c>.</summary>
    public sealed record NodeArgs(string Seed, IReadOnlyList<string> Roles, int? Port, string Hostname, string? PublicHostname,
        IReadOnlyList<string> Plugins, int Samplers, string Device, int Voters = 4, int Explorers = 1, bool Rejoin = false, string? TlsCertificate = null);

    /// <summary>Joins a running host with the given roles and works until the host leaves. Returns the exit code.</summary>
    public static async Task<int> Node(NodeArgs a, TextWriter log, CancellationToken ct)
    {
        CheckSeed(a.Seed);
        if (a.Roles.Count == 0) throw new ConfigError("--roles: give at least one of sampler, reward, voter, explorer");
        foreach (var r in a.Roles)
            if (r is not (Roles.Sampler or Roles.Reward or Roles.Voter or Roles.Explorer))
                throw new ConfigError($"--roles: unknown role '{r}' (a worker node takes sampler, reward, voter and/or explorer; the learner runs on the host of 'run')");
        if (a.Voters < 1) throw new ConfigError($"--voters must be >= 1 (got {a.Voters})");
        if (a.Explorers < 1) throw new ConfigError($"--explorers must be >= 1 (got {a.Explorers})");
        foreach (var path in a.Plugins)
        {
            if (Directory.Exists(path)) throw new ConfigError($"--plugin {path}: is a folder; give the plug-in's assembly, e.g. {Path.Combine(path, "MyRewards.dll")}");
            if (!File.Exists(path)) throw new ConfigError($"--plugin: reward plug-in assembly not found: {Path.GetFullPath(path)}");
            try { AssemblyName.GetAssemblyName(path); }
            catch (BadImageFormatException) { throw new ConfigError($"--plugin: not a .NET assembly: {Path.GetFullPath(path)}"); }
        }
        if (a.Samplers < 1) throw new ConfigError($"--samplers: must be >= 1 (got {a.Samplers})");
        if (a.Device is not ("cpu" or "cuda")) throw new ConfigError($"--device: expected cpu or cuda, got '{a.Device}'");
        ValidateEndpoint(a.Hostname, a.Port);
        int port = a.Port ?? ClusterNode.FreePort(a.Hostname);
        if (a.Port is int p && !ClusterNode.PortIsFree(a.Hostname, p)) throw new ConfigError($"--port {p}: port is in use on {a.Hostname}");

        while (true)
        {
            var (code, hostLeft) = await NodeSession(a, port, log, ct);
            if (ct.IsCancellationRequested) return Cli.InterruptedExitCode(); // 130 after SIGINT, 143 after SIGTERM
            if (!hostLeft || !a.Rejoin) return code;
            // A removed member cannot join again: the next session is a new actor system (on a new port unless --port was given).
            log.WriteLine($"the host left the cluster; waiting for a host at {a.Seed} to join again (--rejoin; Ctrl+C to stop)");
            if (a.Port is null) port = ClusterNode.FreePort(a.Hostname);
        }
    }

    /// <summary>One membership of a worker node: joins, works until the host leaves (hostLeft) or <paramref name="ct"/> fires.
    /// Without --rejoin the first join must succeed within 30 s; with it the node waits for the host as long as it takes.</summary>
    private static async Task<(int Code, bool HostLeft)> NodeSession(NodeArgs a, int port, TextWriter log, CancellationToken ct)
    {
        var node = new NodeOptions(a.Hostname, port, a.PublicHostname, a.Roles, [a.Seed], a.Plugins.Select(Path.GetFullPath).ToList(), a.Samplers, a.Device, a.Voters, a.Explorers)
        {
            Security = Security(a.TlsCertificate),
        };
        // The node leaves the cluster itself on SIGINT/SIGTERM (Akka's CLR hook would race it), and says in one line when
        // the host is gone: Akka's association errors, repeated every few seconds while the host is down, are left out.
        using var host = ClusterNode.Build(node, extraHocon: "akka.coordinated-shutdown.run-by-clr-shutdown-hook = off\n" +
                                                             "akka.remote.log-remote-lifecycle-events = off\n",
            quietMessages: a.Rejoin ? ["Tried to associate with unreachable remote address", "Couldn't join seed nodes after"] : null);
        await host.StartAsync(ct);
        var system = host.Services.GetRequiredService<ActorSystem>();
        var cluster = Cluster.Get(system);
        bool joined = false;
        try
        {
            using var joinTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (!a.Rejoin) joinTimeout.CancelAfter(TimeSpan.FromSeconds(30));
            try { await ClusterNode.WhenUp(system, joinTimeout.Token); }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                log.WriteLine($"failed: could not join the cluster at {a.Seed} within 30 s (is 'run' listening there? --rejoin waits for it)");
                return (1, false);
            }
            catch (OperationCanceledException)
            {
                log.WriteLine("interrupted while waiting to join");
                return (130, false);
            }
            joined = true;
            log.WriteLine($"node {a.PublicHostname ?? a.Hostname}:{port} joined {a.Seed} with roles {string.Join(",", a.Roles)}");
            var hostGone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var watcher = system.ActorOf(Props.Create(() => new HostWatcher(hostGone)), "host-watcher");
            await Task.WhenAny(hostGone.Task, Task.Delay(Timeout.Infinite, ct)).ContinueWith(_ => { });
            if (ct.IsCancellationRequested)
            {
                log.WriteLine("interrupted; leaving the cluster");
                return (130, false);
            }
            if (!a.Rejoin) log.WriteLine("the host left the cluster; node exits");
            return (0, true);
        }
        finally
        {
            // Leaving waits for the host to acknowledge: pointless (10 s of waiting) when this node never joined.
            if (joined) await cluster.LeaveAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { });
            await host.StopAsync(CancellationToken.None);
            await TorchIdle();
        }
    }

    /// <summary>
    /// --seed must be HOST:PORT with a port in 1..65535 and a host that is an address or a name that resolves: a name that
    /// does not resolve would otherwise be tried for the whole join timeout, with a DNS stack trace in every retry's log line.
    /// (A seed that resolves but where nothing listens is found out by the join, which gives up after 30 s.)
    /// </summary>
    private static void CheckSeed(string seed)
    {
        int colon = seed.LastIndexOf(':');
        string host = colon > 0 ? seed[..colon] : "", portText = colon >= 0 ? seed[(colon + 1)..] : "";
        if (host.Length == 0 || portText.Length == 0)
            throw new ConfigError($"--seed {seed}: expected HOST:PORT, the address 'run' printed, e.g. 127.0.0.1:4053");
        if (!int.TryParse(portText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int port)
            || port is < 1 or > 65535)
            throw new ConfigError($"--seed {seed}: the port '{portText}' is not a TCP port (1..65535)");
        if (System.Net.IPAddress.TryParse(host, out _)) return;
        try { System.Net.Dns.GetHostAddresses(host); }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or ArgumentException)
        {
            throw new ConfigError($"--seed {seed}: cannot resolve the host name '{host}' ({e.Message})");
        }
    }

    /// <summary>--weights-port: a port in range, free on <paramref name="hostname"/>, other than the remoting port.</summary>
    private static void CheckWeightsPort(string hostname, int? weightsPort, int remotingPort)
    {
        if (weightsPort is not int w) return;
        if (w is < 1 or > 65535) throw new ConfigError($"--weights-port {w}: must be in 1..65535");
        if (w == remotingPort) throw new ConfigError($"--weights-port {w}: is the cluster port (--port); the weight server needs a port of its own");
        if (!ClusterNode.PortIsFree(hostname, w)) throw new ConfigError($"--weights-port {w}: port is in use on {hostname}");
    }

    /// <summary>--port must be a TCP port and --hostname an address or a name that resolves.</summary>
    private static void ValidateEndpoint(string hostname, int? port)
    {
        if (port is int p && p is < 1 or > 65535) throw new ConfigError($"--port {p}: must be in 1..65535");
        if (System.Net.IPAddress.TryParse(hostname, out _)) return;
        try { System.Net.Dns.GetHostAddresses(hostname); }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or ArgumentException)
        {
            throw new ConfigError($"--hostname {hostname}: cannot resolve this host name ({e.Message})");
        }
    }

    /// <summary>Completes its task when a member with the learner role leaves or becomes unreachable for good.</summary>
    private sealed class HostWatcher : ReceiveActor, IWithTimers
    {
        private sealed record Check;
        private DateTime? unreachableSince;

        public ITimerScheduler Timers { get; set; } = null!;

        public HostWatcher(TaskCompletionSource done)
        {
            var cluster = Cluster.Get(Context.System);
            cluster.Subscribe(Self, ClusterEvent.InitialStateAsEvents, typeof(ClusterEvent.MemberRemoved), typeof(ClusterEvent.MemberExited));
            Receive<ClusterEvent.MemberExited>(m => { if (m.Member.HasRole(Roles.Learner)) done.TrySetResult(); });
            Receive<ClusterEvent.MemberRemoved>(m => { if (m.Member.HasRole(Roles.Learner)) done.TrySetResult(); });
            // Events alone are not enough: a host that left while this node was joining sends none, and a crashed host
            // never exits. Every 2 s: no learner member at all means the host is gone; one unreachable for 15 s in a
            // row (not a passing pause) means it crashed.
            Receive<Check>(_ =>
            {
                var state = cluster.State;
                var hosts = state.Members.Where(m => m.HasRole(Roles.Learner) && m.Status is MemberStatus.Joining or MemberStatus.WeaklyUp or MemberStatus.Up).ToList();
                if (hosts.Count == 0) { done.TrySetResult(); return; }
                if (hosts.Any(h => !state.Unreachable.Contains(h))) { unreachableSince = null; return; }
                unreachableSince ??= DateTime.UtcNow;
                if (DateTime.UtcNow - unreachableSince >= TimeSpan.FromSeconds(15)) done.TrySetResult();
            });
            ReceiveAny(_ => { });
        }

        protected override void PreStart() => Timers.StartPeriodicTimer("check", new Check(), TimeSpan.FromSeconds(2));
    }
}
