using System.Diagnostics;
using System.Security.Cryptography;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using RlActors.Actors.Sampling;
using RlActors.Policies.Flow;
using RlActors.Policies.Runtime;
using static RlActors.Actors.Flow.FlowProtocol;
using static RlActors.Actors.Protocol.SamplerProtocol;
using static RlActors.Actors.Protocol.WeightsProtocol;

namespace RlActors.Actors.Flow;

/// <summary>
/// A branch-point trajectory explorer (role <c>explorer</c>): pulls tasks from whichever flow experiment is registered in the
/// cluster (pub-sub path <see cref="SamplerActor.ExperimentPath"/>), fetches the policy version a task names (and, for a task
/// with a reward model, that model) from the experiment when it does not hold them, runs <see cref="FlowSampler.Explore"/> for
/// every group of the task on the torch thread, scores the finals with the task's reward, and returns the sibling groups.
/// Like a sampler it keeps at most one request outstanding; its parent is a backoff supervisor that restarts it after a failure.
/// </summary>
public sealed class FlowExplorerActor : ReceiveActor, IWithTimers, IWithStash
{
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly IActorRef mediator;
    private readonly string id;
    private readonly CancellationTokenSource cts = new();
    // Torch state: touched only on the torch thread.
    private FlowVelocityModel? model;
    private FlowModelSpec? modelSpec;
    private FlowReward? reward;
    private IDisposable? rewardOwner;
    private string? rewardKey;
    // Actor state.
    private long modelVersion = -1;
    private FlowWeights? pendingWeights;
    private byte[]? rewardModel;
    private string rewardModelSha = "";
    private ExploreTask? task;
    private IActorRef? replyTo;
    private bool askedWeights, askedRewardModel;

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;
    /// <inheritdoc />
    public IStash Stash { get; set; } = null!;

    /// <summary>Props of an explorer named <paramref name="explorerId"/>.</summary>
    public static Props Props(string explorerId) => Akka.Actor.Props.Create(() => new FlowExplorerActor(explorerId));

    private sealed record AskAgain;
    private sealed record Explored(ExploredGroups Result, IActorRef ReplyTo);

    /// <summary>An explorer; see <see cref="Props"/>.</summary>
    public FlowExplorerActor(string explorerId)
    {
        id = explorerId;
        mediator = DistributedPubSub.Get(Context.System).Mediator;
        Idle();
    }

    /// <inheritdoc />
    protected override void PreStart() => AskForWork();

    private void AskForWork()
    {
        mediator.Tell(new Send(SamplerActor.ExperimentPath, new RequestExploration(id), localAffinity: false));
        // Lost while no experiment is registered yet (pub-sub gossip takes about a second): ask again until a task arrives.
        Timers.StartSingleTimer("ask", new AskAgain(), TimeSpan.FromMilliseconds(500));
    }

    private void Idle()
    {
        Receive<AskAgain>(_ => AskForWork());
        Receive<NoMoreWork>(_ => Timers.StartSingleTimer("ask", new AskAgain(), TimeSpan.FromSeconds(2)));
        Receive<ExploreTask>(t =>
        {
            Timers.Cancel("ask");
            task = t;
            replyTo = Sender;
            askedWeights = askedRewardModel = false;
            Become(Preparing);
            Proceed();
        });
    }

    /// <summary>Fetches what the task needs (weights, reward model), then explores.</summary>
    private void Preparing()
    {
        Receive<FlowWeights>(w =>
        {
            pendingWeights = w; // loaded on the torch thread by the next exploration
            modelVersion = w.Version;
            Proceed();
        });
        Receive<RewardModel>(m =>
        {
            string sha = Convert.ToHexString(SHA256.HashData(m.Bytes)).ToLowerInvariant();
            if (sha != m.Sha256.ToLowerInvariant()) throw new InvalidDataException($"reward model {m.Sha256[..12]}... arrived with sha256 {sha[..12]}...");
            rewardModel = m.Bytes;
            rewardModelSha = sha;
            Proceed();
        });
        Receive<WeightsUnavailable>(u =>
        {
            log.Info("flow weights v{0} unavailable (current v{1}); dropping the task and asking again", u.Requested, u.Current);
            task = null;
            Become(Idle);
            Stash.UnstashAll();
            AskForWork();
        });
        Receive<AskAgain>(_ => { });
        ReceiveAny(_ => Stash.Stash());
    }

    private void Proceed()
    {
        var t = task!;
        if (t.PolicyVersion != modelVersion)
        {
            if (!askedWeights) { replyTo!.Tell(new GetWeights(t.PolicyVersion)); askedWeights = true; }
            return;
        }
        if (t.RewardModelSha256.Length > 0 && !string.Equals(t.RewardModelSha256, rewardModelSha, StringComparison.OrdinalIgnoreCase))
        {
            if (!askedRewardModel) { replyTo!.Tell(new GetRewardModel(t.RewardModelSha256)); askedRewardModel = true; }
            return;
        }
        StartExploring(t, replyTo!);
    }

    private void Busy()
    {
        Receive<Explored>(e =>
        {
            e.ReplyTo.Tell(e.Result);
            task = null;
            Become(Idle);
            Stash.UnstashAll(); // a task that arrived meanwhile (a second reply to a repeated request) is not lost
            AskForWork();
        });
        Receive<Status.Failure>(f => throw new ExplorerFailedException($"explorer {id} failed: {f.Cause.Message}", f.Cause));
        Receive<AskAgain>(_ => { });
        ReceiveAny(_ => Stash.Stash());
    }

    private void StartExploring(ExploreTask t, IActorRef to)
    {
        Become(Busy);
        var weights = pendingWeights;
        pendingWeights = null;
        var rm = t.RewardModelSha256.Length > 0 ? rewardModel : null;
        TorchThread.Shared.Run(() =>
            {
                if (weights is not null) LoadWeights(weights);
                string key = $"{t.TaskJson}#{t.RewardModelSha256}";
                if (rewardKey != key)
                {
                    rewardOwner?.Dispose();
                    (reward, rewardOwner) = FlowTaskSetup.Reward(FlowTaskOptions.FromJson(t.TaskJson), rm);
                    rewardKey = key;
                }
                return new Explored(Explore(model!, reward!, t, id), to);
            }, cts.Token)
            .PipeTo(Self, success: r => r, failure: e => new Status.Failure(e));
    }

    private void LoadWeights(FlowWeights w)
    {
        if (model is null || modelSpec != w.Model)
        {
            model?.Dispose();
            model = w.Model.Create(0);
            model.eval();
            modelSpec = w.Model;
        }
        model.LoadWeights(w.Bytes);
    }

    /// <summary>The work of one task: explore and score every group with the given model and reward (call on the torch thread).</summary>
    public static ExploredGroups Explore(FlowVelocityModel model, FlowReward reward, ExploreTask task, string explorerId)
    {
        var watch = Stopwatch.StartNew();
        var groups = new FlowRolloutGroup[task.Groups.Length];
        for (int i = 0; i < groups.Length; i++)
        {
            var g = FlowSampler.Explore(model, task.Groups[i], task.Sampling, task.PolicyVersion);
            groups[i] = g.WithRewards(reward(g.Class, g.Finals));
        }
        return new ExploredGroups(task.Experiment, task.Step, task.Task, task.PolicyVersion, explorerId, groups, watch.Elapsed.TotalSeconds);
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        cts.Cancel();
        var (m, r) = (model, rewardOwner);
        if (m is not null || r is not null) TorchThread.Shared.Run(() => { m?.Dispose(); r?.Dispose(); return 0; });
    }
}

/// <summary>Exploring a task failed; the explorer's supervisor restarts it with backoff.</summary>
public sealed class ExplorerFailedException(string message, Exception inner) : Exception(message, inner);
