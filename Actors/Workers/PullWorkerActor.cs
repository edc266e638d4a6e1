using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using RlActors.Actors.Experiment;
using RlActors.Actors.Protocol;
using RlActors.Policies.Runtime;
using static RlActors.Actors.Protocol.WorkerProtocol;

namespace RlActors.Actors.Workers;

/// <summary>
/// What a pull-worker does for one kind of work (sampling rollouts, exploring flow trajectories). The
/// <see cref="PullWorkerActor"/> calls <see cref="Accepts"/>, <see cref="Missing"/> and <see cref="Supply"/> on its own thread
/// (keep them quick, no torch), and <see cref="Work"/> and <see cref="IDisposable.Dispose"/> on the torch thread.
/// </summary>
public interface IWorkHandler : IDisposable
{
    /// <summary>The work kind it asks for (<see cref="RequestWork.WorkKind"/>).</summary>
    string WorkKind { get; }
    /// <summary>Whether <paramref name="message"/> is a unit of its work.</summary>
    bool Accepts(object message);
    /// <summary>Requests for what <paramref name="unit"/> needs and this worker lacks (e.g. <see cref="GetWeights"/> of the
    /// unit's version, a reward model), sent to whoever handed out the unit; empty when it can start.</summary>
    IEnumerable<object> Missing(object unit);
    /// <summary>Takes a reply that supplies something a unit needs (kept for the next <see cref="Work"/>); false when
    /// <paramref name="message"/> is not such a reply.</summary>
    bool Supply(object message);
    /// <summary>Does the unit (on the torch thread): its result (<see cref="IUnitResult"/>), or an <see cref="IWorkRefused"/> when
    /// this node cannot do such work at all.</summary>
    object Work(object unit, string workerId);
}

/// <summary>
/// Pulls units of work from whichever experiment is registered in the cluster (pub-sub path
/// <see cref="WorkerProtocol.ExperimentPath"/>), fetches what a unit needs (policy weights by version, a reward model) from the
/// experiment when it lacks them, does the work on the torch thread through its kind's <see cref="IWorkHandler"/>, and sends
/// the result back. It keeps at most one request outstanding and asks again when a unit is done, so no queue grows anywhere.
/// Its parent is a backoff supervisor that restarts it after a failure.
/// </summary>
public sealed class PullWorkerActor : ReceiveActor, IWithTimers, IWithStash
{
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly IActorRef mediator;
    private readonly string id;
    private readonly IWorkHandler handler;
    private readonly CancellationTokenSource cts = new();
    private object? unit;
    private IActorRef? replyTo;
    private readonly HashSet<object> asked = new();

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;
    /// <inheritdoc />
    public IStash Stash { get; set; } = null!;

    /// <summary>Props of a worker named <paramref name="workerId"/> (host:port/name) whose work <paramref name="handler"/> does
    /// (called once, when the actor starts; the worker disposes it on the torch thread when it stops).</summary>
    public static Props Props(string workerId, Func<IWorkHandler> handler) => Akka.Actor.Props.Create(() => new PullWorkerActor(workerId, handler()));

    private sealed record AskAgain;
    private sealed record Done(object Result, IActorRef ReplyTo);
    private sealed record Fetched(IVersionedWeights Weights);
    private sealed record FetchFailed(long Version, string Reason);

    /// <summary>A worker; see <see cref="Props"/>.</summary>
    public PullWorkerActor(string workerId, IWorkHandler handler)
    {
        id = workerId;
        this.handler = handler;
        mediator = DistributedPubSub.Get(Context.System).Mediator;
        Idle();
    }

    /// <inheritdoc />
    protected override void PreStart() => AskForWork();

    private void AskForWork()
    {
        mediator.Tell(new Send(ExperimentPath, new RequestWork(id, handler.WorkKind), localAffinity: false));
        // The request is lost while no experiment is registered yet (pub-sub registry gossip takes about a second):
        // ask again until a unit arrives.
        Timers.StartSingleTimer("ask", new AskAgain(), TimeSpan.FromMilliseconds(500));
    }

    private void Idle()
    {
        Receive<AskAgain>(_ => AskForWork());
        Receive<NoMoreWork>(_ => Timers.StartSingleTimer("ask", new AskAgain(), TimeSpan.FromSeconds(2)));
        Receive<object>(handler.Accepts, u =>
        {
            Timers.Cancel("ask");
            unit = u;
            replyTo = Sender;
            asked.Clear();
            Become(Preparing);
            Proceed();
        });
    }

    /// <summary>Fetches what the unit needs, then works.</summary>
    private void Preparing()
    {
        Receive<WeightsUnavailable>(u => Drop($"weights v{u.Requested} unavailable (current v{u.Current})"));
        // Weights too large for one remote message wait on the sender's weight server: fetch them (SHA-256 checked, retried,
        // a stall fails in seconds) before the handler sees them.
        Receive<IVersionedWeights>(w => w.Remote is not null, w =>
        {
            var remote = w.Remote!;
            Runtime.Weights.WeightDistribution.Get(Context.System).FetchAsync(remote, cts.Token)
                .PipeTo(Self, success: bytes => new Fetched(w.WithBytes(bytes)), failure: e => new FetchFailed(remote.Version, e.Message));
        });
        Receive<Fetched>(f => { if (handler.Supply(f.Weights)) Proceed(); });
        Receive<FetchFailed>(f => Drop($"weights v{f.Version} could not be fetched: {f.Reason}"));
        Receive<AskAgain>(_ => { });
        ReceiveAny(m =>
        {
            if (handler.Supply(m)) Proceed();
            else Stash.Stash();
        });
    }

    /// <summary>Gives the unit back (the experiment hands it out again at once, to any worker) and asks for work.</summary>
    private void Drop(string why)
    {
        log.Warning("{0}; giving the unit back and asking again", why);
        if (unit is IWorkUnit u) replyTo!.Tell(new WorkDropped(u.Experiment, u.Step, u.Unit, id, why));
        unit = null;
        Become(Idle);
        Stash.UnstashAll();
        AskForWork();
    }

    private void Proceed()
    {
        var missing = handler.Missing(unit!).ToList();
        foreach (var request in missing.Where(asked.Add)) replyTo!.Tell(request);
        if (missing.Count > 0) return;
        Become(Busy);
        var (u, to) = (unit!, replyTo!);
        TorchThread.Shared.Run(() => (object)new Done(handler.Work(u, id), to), cts.Token)
            .PipeTo(Self, success: r => r, failure: e => new Status.Failure(e));
    }

    private void Busy()
    {
        Receive<Done>(d =>
        {
            d.ReplyTo.Tell(d.Result);
            unit = null;
            Become(Idle);
            Stash.UnstashAll(); // a unit that arrived meanwhile (e.g. a second reply to a repeated request) is not lost
            if (d.Result is IWorkRefused refused)
            {
                // This node cannot do the work: the experiment stops the run; do not retry at once.
                log.Error("{0}", refused.Failure);
                Timers.StartSingleTimer("ask", new AskAgain(), TimeSpan.FromSeconds(2));
            }
            else AskForWork();
        });
        Receive<Status.Failure>(f => throw new WorkerFailedException($"worker {id} failed: {f.Cause.Message}", f.Cause));
        Receive<AskAgain>(_ => { });
        ReceiveAny(_ => Stash.Stash());
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        cts.Cancel();
        TorchThread.Shared.Run(() => { handler.Dispose(); return 0; });
    }
}

/// <summary>A unit of work failed; the worker's supervisor restarts it with backoff.</summary>
public sealed class WorkerFailedException(string message, Exception inner) : Exception(message, inner);
