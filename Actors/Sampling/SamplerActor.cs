using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using RlActors.Actors.Protocol;
using RlActors.Environments.Arithmetic;
using RlActors.Policies.Lm;
using RlActors.Policies.Runtime;
using RlActors.Policies.Training;
using static RlActors.Actors.Protocol.SamplerProtocol;
using static RlActors.Actors.Protocol.WeightsProtocol;

namespace RlActors.Actors.Sampling;

/// <summary>
/// Pulls slots of work from whichever experiment is registered in the cluster (DistributedPubSub, path
/// <see cref="ExperimentPath"/>), samples them with the policy version the slot names, and sends the rollouts back.
/// It keeps at most one request outstanding and asks again when a slot is done, so no queue grows anywhere.
/// Sampling runs as a Task piped back to the actor.
/// </summary>
public sealed class SamplerActor : ReceiveActor, IWithTimers, IWithStash
{
    /// <summary>Where the experiment registers itself in the mediator.</summary>
    public const string ExperimentPath = "/user/experiment";

    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly IActorRef mediator;
    private readonly string id;
    private readonly string device;
    private readonly CancellationTokenSource cts = new();
    private TransformerLm? model;           // touched only on the torch thread
    private PolicyWeights? pendingWeights;
    private long modelVersion = -1;

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;
    /// <inheritdoc />
    public IStash Stash { get; set; } = null!;

    /// <summary>Props of a sampler named <paramref name="samplerId"/> running torch on <paramref name="device"/>.</summary>
    public static Props Props(string samplerId, string device = "cpu") => Akka.Actor.Props.Create(() => new SamplerActor(samplerId, device));

    private sealed record AskAgain;
    private sealed record Sampled(SlotRollouts Result, IActorRef ReplyTo);
    private sealed record CannotSampleNow(CannotSample Reason, IActorRef ReplyTo);

    public SamplerActor(string samplerId, string device)
    {
        id = samplerId;
        this.device = device;
        mediator = DistributedPubSub.Get(Context.System).Mediator;
        Idle();
    }

    /// <inheritdoc />
    protected override void PreStart() => AskForWork();

    private void AskForWork()
    {
        mediator.Tell(new Send(ExperimentPath, new RequestWork(id), localAffinity: false));
        // The request is lost if no experiment is registered yet (pub-sub registry gossip takes about a second):
        // ask again until a task arrives.
        Timers.StartSingleTimer("ask", new AskAgain(), TimeSpan.FromMilliseconds(500));
    }

    private void Idle()
    {
        Receive<AskAgain>(_ => AskForWork());
        Receive<NoMoreWork>(_ => Timers.StartSingleTimer("ask", new AskAgain(), TimeSpan.FromSeconds(2)));
        Receive<SampleTask>(task =>
        {
            Timers.Cancel("ask");
            if (task.PolicyVersion != modelVersion)
            {
                Sender.Tell(new GetWeights(task.PolicyVersion));
                Stash.Stash();
                Become(AwaitingWeights);
                return;
            }
            StartSampling(task, Sender);
        });
    }

    private void AwaitingWeights()
    {
        Receive<PolicyWeights>(w =>
        {
            // Loaded by the next sampling work item, on the torch thread (all torch work of a process goes there).
            pendingWeights = w;
            modelVersion = w.Version;
            Stash.UnstashAll();
            Become(Idle);
        });
        Receive<WeightsUnavailable>(u =>
        {
            log.Info("weights v{0} unavailable (current v{1}); dropping the task and asking again", u.Requested, u.Current);
            Stash.ClearStash();
            Become(Idle);
            AskForWork();
        });
        Receive<AskAgain>(_ => { });
        ReceiveAny(_ => Stash.Stash());
    }

    private void Busy()
    {
        Receive<Sampled>(s =>
        {
            s.ReplyTo.Tell(s.Result);
            Become(Idle);
            Stash.UnstashAll(); // a task that arrived while sampling (e.g. a second reply to a repeated RequestWork) is not lost
            AskForWork();
        });
        Receive<CannotSampleNow>(c =>
        {
            // The task cannot be opened on this node: tell the experiment (it stops the run) rather than retry forever.
            log.Error("{0}", c.Reason.Reason);
            c.ReplyTo.Tell(c.Reason);
            Become(Idle);
            Stash.UnstashAll();
            Timers.StartSingleTimer("ask", new AskAgain(), TimeSpan.FromSeconds(2));
        });
        Receive<Status.Failure>(f => throw new SamplerFailedException($"sampler {id} failed: {f.Cause.Message}", f.Cause));
        Receive<AskAgain>(_ => { });
        ReceiveAny(_ => Stash.Stash());
    }

    private void LoadWeights(PolicyWeights w)
    {
        var config = new LmConfig { VocabSize = w.VocabSize, DModel = w.DModel, Layers = w.Layers, Heads = w.Heads, Context = w.Context, MlpRatio = w.MlpRatio };
        if (model is null || model.Config != config)
        {
            model?.Dispose();
            model = new TransformerLm(config, 0, TorchSharp.torch.device(device));
            model.eval();
        }
        model.LoadWeights(w.Bytes);
    }

    private void StartSampling(SampleTask task, IActorRef replyTo)
    {
        Become(Busy);
        var weights = pendingWeights;
        pendingWeights = null;
        var token = cts.Token;
        TorchThread.Shared.Run(() =>
            {
                if (weights is not null) LoadWeights(weights);
                try { task.Task.Open(); }
                catch (Environments.Tasks.TaskDataException e) { return (object)new CannotSample(task.Experiment, $"sampler {id}: {e.Message}"); }
                return new Sampled(SampleSlot(model!, task, id), replyTo);
            }, token)
            .PipeTo(Self, success: r => r is CannotSample c ? new CannotSampleNow(c, replyTo) : r, failure: e => new Status.Failure(e));
    }

    /// <summary>The work of one slot: map its draws to train rows, encode their prompts with the task's tokenizer, draw
    /// G completions each from a generator seeded by the slot.</summary>
    internal static SlotRollouts SampleSlot(TransformerLm model, SampleTask task, string samplerId)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var t = task.Task.Open();
        var draws = task.ProblemIndices;
        var rows = draws.Select(t.RowOfDraw).ToArray();
        int g = task.Sampling.GroupSize;
        var prompts = rows.SelectMany(r => Enumerable.Repeat(t.PromptIds(r), g)).ToList();
        using var rng = new TorchSharp.torch.Generator(task.SampleSeed, model.Device);
        var options = new SampleOptions { Temperature = task.Sampling.Temperature, TopK = task.Sampling.TopK, MaxNewTokens = task.Sampling.MaxNewTokens };
        var result = LmSampler.Sample(model, prompts, options, rng, CharTokenizer.Eos, CharTokenizer.Pad);
        var groups = new RolloutGroup[rows.Length];
        for (int i = 0; i < rows.Length; i++)
            groups[i] = new RolloutGroup($"{task.Experiment}/{task.Step}/{task.Slot}/{draws[i]}", rows[i], prompts[i * g],
                result.Completions.Skip(i * g).Take(g).ToArray(), result.LogProbs.Skip(i * g).Take(g).ToArray());
        return new SlotRollouts(task.Experiment, task.Step, task.Slot, task.PolicyVersion, samplerId, groups, result.GeneratedTokens, watch.Elapsed.TotalSeconds);
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        cts.Cancel();
        var m = model;
        if (m is not null) TorchThread.Shared.Run(() => { m.Dispose(); return 0; });
    }
}

/// <summary>Sampling a slot failed; the sampler's supervisor restarts it with backoff.</summary>
public sealed class SamplerFailedException(string message, Exception inner) : Exception(message, inner);
