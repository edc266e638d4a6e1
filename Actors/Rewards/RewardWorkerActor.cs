using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Akka.Pattern;
using RlActors.Actors.Protocol;
using RlActors.Environments.Arithmetic;
using RlActors.Actors.Capo;
using RlActors.Rewards;
using RlActors.Rewards.Capo;
using static RlActors.Actors.Protocol.RewardProtocol;

namespace RlActors.Actors.Rewards;

/// <summary>
/// Scores slots of rollouts on a node with the <c>reward</c> role. Every reward component of the experiment
/// (built-in or plug-in) runs in its own child actor behind a backoff supervisor, so a component that throws,
/// hangs past its timeout or returns NaN/∞ is restarted while the others go on; its missing rewards are counted
/// and named in the reply. Registered in the pub-sub mediator at <see cref="Path"/>.
/// </summary>
public sealed class RewardWorkerActor : ReceiveActor, IWithTimers
{
    /// <summary>Where reward workers register in the mediator.</summary>
    public const string Path = "/user/reward";

    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly IReadOnlyList<string> pluginPaths;
    private readonly Dictionary<string, (IActorRef Child, LoadedReward Reward)> components = new();
    private readonly Dictionary<long, Pending> pending = new();
    private long nextRequest;

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props of a worker; <paramref name="pluginPaths"/> are plug-in assemblies given to this node (node --plugin).</summary>
    public static Props Props(IReadOnlyList<string>? pluginPaths = null) =>
        Akka.Actor.Props.Create(() => new RewardWorkerActor(pluginPaths ?? Array.Empty<string>()));

    private sealed class Pending(ScoreSlot request, IActorRef replyTo, RewardGroup[] groups, string[] components, IActorRef[] children)
    {
        public ScoreSlot Request { get; } = request;
        public IActorRef ReplyTo { get; } = replyTo;
        public RewardGroup[] Groups { get; } = groups;
        public string[] Components { get; } = components;
        public IActorRef[] Children { get; } = children;
        public Dictionary<int, RewardComponentActor.Scored> Results { get; } = new();
    }

    private sealed record Expire(long RequestId);

    /// <summary>A component's backoff supervisor answers this instead of its stopped (restarting) child.</summary>
    private sealed record ComponentRestarting;

    public RewardWorkerActor(IReadOnlyList<string> pluginPaths)
    {
        this.pluginPaths = pluginPaths;
        Receive<ScoreSlot>(OnScore);
        Receive<RewardComponentActor.Scored>(OnComponentScored);
        Receive<Expire>(e => { if (pending.ContainsKey(e.RequestId)) Complete(e.RequestId); });
        Receive<ComponentRestarting>(_ => OnComponentRestarting(Sender));
    }

    /// <inheritdoc />
    protected override void PreStart() => DistributedPubSub.Get(Context.System).Mediator.Tell(new Put(Self));

    /// <summary>Children are supervised by their backoff supervisors; anything reaching this level is logged and the child restarted.</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(ex =>
    {
        log.Error(ex, "reward component supervisor failed; restarting it");
        return Directive.Restart;
    });

    private void OnScore(ScoreSlot s)
    {
        Environments.Tasks.TaskRuntime task;
        try { task = s.Task.Open(); }
        catch (Environments.Tasks.TaskDataException e)
        {
            string node = Cluster.Get(Context.System).SelfAddress.ToString();
            log.Error("cannot open task {0} on {1}: {2}", s.Task.Id, node, e.Message);
            Sender.Tell(new ScoringFailed(s.Experiment, $"the task cannot be opened on {node}: {e.Message}"));
            return;
        }
        // Arithmetic: the problem of the row's index; a data set: the row itself, judged by the task's verifier.
        var groups = s.Groups.Select(g =>
        {
            var completions = g.Completions.Select(c => (IReadOnlyList<int>)c).ToList();
            return task.Problem(g.ProblemIndex) is { } problem
                ? RewardGroup.FromCompletions(g.RolloutId, problem, completions, s.PolicyVersion, task.Tokenizer)
                : RewardGroup.FromRow(g.RolloutId, task.Row(g.ProblemIndex), completions, s.PolicyVersion, task.Tokenizer, task.Jsonl?.Verifier);
        }).ToArray();
        long id = nextRequest++;
        var names = new string[s.Rewards.Length];
        var children = new IActorRef[s.Rewards.Length];
        double longest = 0;
        for (int i = 0; i < s.Rewards.Length; i++)
        {
            IActorRef child;
            LoadedReward reward;
            try { (child, reward) = Component(s.Rewards[i]); }
            catch (PluginLoadException e)
            {
                string node = Cluster.Get(Context.System).SelfAddress.ToString();
                log.Error("cannot load reward '{0}' on {1}: {2}", s.Rewards[i].Type, node, e.Message);
                Sender.Tell(new ScoringFailed(s.Experiment, $"reward '{s.Rewards[i].Type}' cannot be loaded on {node}: {e.Message} (start the node with --plugin PATH.dll)"));
                return;
            }
            names[i] = reward.Name;
            children[i] = child;
            longest = Math.Max(longest, s.Rewards[i].TimeoutSeconds);
            child.Tell(new RewardComponentActor.Score(id, i, groups));
        }
        pending[id] = new Pending(s, Sender, groups, names, children);
        // A component that is restarting loses the request: give up on it once every group could have timed out.
        Timers.StartSingleTimer(("expire", id), new Expire(id), TimeSpan.FromSeconds(longest + 5));
    }

    private (IActorRef, LoadedReward) Component(RewardSpecDto dto)
    {
        string key = $"{dto.Type}|{dto.Assembly}|{dto.TimeoutSeconds}";
        if (components.TryGetValue(key, out var c)) return c;
        var spec = new RewardSpec(dto.Type, ResolveAssembly(dto.Assembly), dto.Weight) { Timeout = TimeSpan.FromSeconds(dto.TimeoutSeconds) };
        var loaded = dto.Type == CapoRewardType ? Capo(spec, dto.Settings) : RewardPluginLoader.Load(spec, Directory.GetCurrentDirectory());
        var childProps = BackoffSupervisor.Props(Backoff.OnFailure(
            RewardComponentActor.Props(loaded), "component", TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5), 0.2, maxNrOfRetries: 50)
            .WithReplyWhileStopped(new ComponentRestarting()));
        var child = Context.ActorOf(childProps, $"reward-{components.Count}-{Sanitize(loaded.Name)}");
        components[key] = (child, loaded);
        return (child, loaded);
    }

    /// <summary>The reward type of CAPO's token-level reward (critiques by voter actors, voted, turned into token rewards).</summary>
    public const string CapoRewardType = "capo";

    /// <summary>
    /// CAPO as a reward component: <see cref="CapoReward"/> whose judge is the cluster's voter actors
    /// (<see cref="VoterPoolJudge"/>), each critique a separate request, late ones left out at the deadline.
    /// </summary>
    private LoadedReward Capo(RewardSpec spec, string? settingsJson)
    {
        CapoSettings settings;
        try { settings = CapoSettings.FromJson(settingsJson ?? "{}"); settings.Validate(); }
        catch (Exception e) when (e is ArgumentException or System.Text.Json.JsonException)
        {
            throw new PluginLoadException($"the capo reward's settings are invalid: {e.Message}");
        }
        var system = Context.System;
        return new LoadedReward(CapoRewardType, spec, () => new CapoReward(
            new VoterPoolJudge(system, settings.Judge, TimeSpan.FromSeconds(settings.DeadlineSeconds)), settings.ToOptions(), settings.CompareWithOracle))
        {
            ImplementationType = typeof(CapoReward),
        };
    }

    private string? ResolveAssembly(string? assembly)
    {
        if (assembly is null || File.Exists(assembly)) return assembly;
        // On a worker node the experiment's path may not exist: use a plug-in given with node --plugin of the same file name.
        var match = pluginPaths.FirstOrDefault(p => string.Equals(System.IO.Path.GetFileName(p), System.IO.Path.GetFileName(assembly), StringComparison.OrdinalIgnoreCase));
        return match ?? assembly;
    }

    private static string Sanitize(string name) => new(name.Select(ch => char.IsLetterOrDigit(ch) || ch == '-' ? ch : '_').ToArray());

    private void OnComponentScored(RewardComponentActor.Scored s)
    {
        if (!pending.TryGetValue(s.RequestId, out var p)) return;
        p.Results[s.Component] = s;
        if (p.Results.Count == p.Components.Length) Complete(s.RequestId);
    }

    /// <summary>
    /// A request reached <paramref name="supervisor"/> while its child was stopped for a restart (backoff of at least
    /// 100 ms). Requests to one child are delivered in order, so every request still waiting for that child went to the
    /// stopped instance or bounced: count them as failed now rather than when they expire (timeout + 5 s later). Should
    /// a fresh instance still answer one, that answer replaces the failure while the request is pending.
    /// </summary>
    private void OnComponentRestarting(IActorRef supervisor)
    {
        foreach (var (id, p) in pending.OrderBy(kv => kv.Key).ToList())
            for (int c = 0; c < p.Children.Length; c++)
                if (p.Children[c].Equals(supervisor) && !p.Results.ContainsKey(c) && pending.ContainsKey(id))
                {
                    var lost = p.Groups.Select(_ => new GuardedResult(null, "no answer (component restarting)", FailureKind.Threw)).ToArray();
                    OnComponentScored(new RewardComponentActor.Scored(id, c, lost));
                }
    }

    private void Complete(long id)
    {
        var p = pending[id];
        pending.Remove(id);
        Timers.Cancel(("expire", id));
        var rewards = new float[p.Groups.Length][];
        var extras = new float[][]?[p.Groups.Length];
        var counters = new Dictionary<string, double>();
        var correct = new int[p.Groups.Length];
        int failures = 0;
        var failed = new HashSet<string>();
        for (int g = 0; g < p.Groups.Length; g++)
        {
            var parts = new List<ComponentResult>();
            for (int c = 0; c < p.Components.Length; c++)
            {
                double weight = p.Request.Rewards[c].Weight;
                parts.Add(p.Results.TryGetValue(c, out var r)
                    ? ComponentResult.FromGuarded(p.Components[c], weight, r.Results[g])
                    : new ComponentResult(p.Components[c], weight, null, "no answer (component restarting)"));
            }
            var combined = WeightedReward.Combine(parts, p.Groups[g].Samples.Count);
            failures += combined.FailedComponents.Count;
            foreach (var f in combined.FailedComponents) failed.Add(f);
            rewards[g] = combined.Sequence.Select(x => (float)x).ToArray();
            extras[g] = combined.TokenExtras();
            RewardCounters.AddInto(counters, combined.Counters);
            correct[g] = Enumerable.Range(0, p.Groups[g].Samples.Count).Count(p.Groups[g].IsCorrect);
        }
        if (failures > 0) log.Warning("slot {0}/{1}: {2} reward failures from {3}", p.Request.Step, p.Request.Slot, failures, string.Join(", ", failed));
        p.ReplyTo.Tell(new SlotScored(p.Request.Experiment, p.Request.Step, p.Request.Slot, rewards, correct, failures, failed.ToArray(),
            extras.Any(e => e is not null) ? extras : null, counters.Count > 0 ? counters : null));
    }
}

/// <summary>
/// Runs one reward component. Scoring runs as a Task (each group guarded by <see cref="RewardGuard"/>: timeout,
/// exceptions and NaN/∞ contained) piped back to the actor. After a failed group it answers, finishes the requests in
/// flight (new ones are answered as failed), then fails itself so its backoff supervisor gives it a fresh instance of
/// the plug-in.
/// </summary>
public sealed class RewardComponentActor : ReceiveActor
{
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly LoadedReward reward;
    private readonly IAsyncRewardFunction instance;
    private readonly CancellationTokenSource cts = new();
    private int inFlight;
    private string? failing; // set by a failed group: answer what is in flight, then fail

    /// <summary>Score these groups (request <paramref name="RequestId"/>, component <paramref name="Component"/>).</summary>
    public sealed record Score(long RequestId, int Component, RewardGroup[] Groups);
    /// <summary>One guarded result per group.</summary>
    public sealed record Scored(long RequestId, int Component, GuardedResult[] Results);
    private sealed record Done(Scored Result, IActorRef ReplyTo);

    /// <summary>Props of a component running <paramref name="reward"/>.</summary>
    public static Props Props(LoadedReward reward) => Akka.Actor.Props.Create(() => new RewardComponentActor(reward));

    public RewardComponentActor(LoadedReward reward)
    {
        this.reward = reward;
        instance = reward.Factory();
        Receive<Score>(s =>
        {
            if (failing is not null)
            {
                // This instance is about to be replaced: answer at once rather than lose the request with it.
                Sender.Tell(new Scored(s.RequestId, s.Component, s.Groups.Select(_ => new GuardedResult(null, $"no answer (restarting after: {failing})", FailureKind.Threw)).ToArray()));
                return;
            }
            inFlight++;
            var replyTo = Sender;
            var token = cts.Token;
            var timeout = reward.Spec.Timeout;
            // Groups are scored concurrently, so a hanging plug-in costs one timeout per slot, not one per group.
            Task.Run(async () =>
            {
                var results = await Task.WhenAll(s.Groups.Select(g => RewardGuard.RunAsync(instance, g, timeout, token)));
                return new Done(new Scored(s.RequestId, s.Component, results), replyTo);
            }, token).PipeTo(Self);
        });
        Receive<Done>(d =>
        {
            inFlight--;
            d.ReplyTo.Tell(d.Result);
            var failure = d.Result.Results.FirstOrDefault(r => r.Kind is not (FailureKind.None or FailureKind.Cancelled));
            if (failure is not null)
                failing ??= $"reward '{reward.Name}' ({reward.Spec.Type}) {failure.Kind}: {failure.Failure}";
            // Requests still being scored would be lost with this instance: fail once they have answered (each is
            // guarded by its timeout, so that is soon).
            if (failing is not null && inFlight == 0)
                throw new RewardComponentException(failing);
        });
        Receive<Status.Failure>(f =>
        {
            // Not expected (the guard contains the plug-in's failures); the request is lost and expires in the worker.
            inFlight--;
            failing ??= $"reward '{reward.Name}' ({reward.Spec.Type}) scoring task failed: {f.Cause.Message}";
            if (inFlight == 0) throw new RewardComponentException(failing);
        });
    }

    /// <inheritdoc />
    protected override void PostStop() => cts.Cancel();

    /// <inheritdoc />
    protected override void PreRestart(Exception reason, object message)
    {
        log.Warning("restarting reward '{0}': {1}", reward.Name, reason.Message);
        base.PreRestart(reason, message);
    }
}

/// <summary>A reward component misbehaved; its supervisor restarts it with backoff.</summary>
public sealed class RewardComponentException(string message) : Exception(message);
