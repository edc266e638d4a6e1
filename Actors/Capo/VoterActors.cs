using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Akka.Pattern;
using RlActors.Environments.Arithmetic;
using RlActors.Rewards.Capo;
using static RlActors.Actors.Protocol.CritiqueProtocol;

namespace RlActors.Actors.Capo;

/// <summary>
/// The voters of one node (role <c>voter</c>), registered in the pub-sub mediator at <see cref="Path"/> so a vote
/// aggregator on any node reaches them. It hands each <see cref="CritiqueWork"/> to one of its
/// <see cref="GenPrmVoterActor"/> children in turn (each behind a backoff supervisor); the child answers the
/// original sender directly.
/// </summary>
public sealed class VoterNodeActor : ReceiveActor
{
    /// <summary>Where voter nodes register in the mediator.</summary>
    public const string Path = "/user/voter";

    private readonly IActorRef[] voters;
    private int next;

    /// <summary>Props of a node's voters: <paramref name="voters"/> voter actors.</summary>
    public static Props Props(int voters) => Akka.Actor.Props.Create(() => new VoterNodeActor(voters));

    public VoterNodeActor(int voters)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(voters, 1);
        this.voters = Enumerable.Range(0, voters).Select(i => Context.ActorOf(BackoffSupervisor.Props(Backoff.OnFailure(
            GenPrmVoterActor.Props(), "voter", TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5), 0.2, maxNrOfRetries: 50)),
            $"voter-{i}")).ToArray();
        Receive<CritiqueWork>(w =>
        {
            this.voters[next].Forward(w);
            next = (next + 1) % this.voters.Length;
        });
    }

    /// <inheritdoc />
    protected override void PreStart() => DistributedPubSub.Get(Context.System).Mediator.Tell(new Put(Self));
}

/// <summary>
/// One GenPRM voter: rebuilds the response from the problem and the generated ids, builds the versioned critique
/// prompt, asks its judge (built from the request's judge settings and kept for reuse) and replies
/// <see cref="CritiqueDone"/>. Judge calls run as tasks, so one voter serves several requests at once; a judge that
/// throws (it should not) yields Failed critiques rather than no answer.
/// </summary>
public sealed class GenPrmVoterActor : ReceiveActor
{
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly ConcurrentDictionary<string, IGenPrmJudge> judges = new();
    private readonly CancellationTokenSource cts = new();

    /// <summary>Props of a voter.</summary>
    public static Props Props() => Akka.Actor.Props.Create(() => new GenPrmVoterActor());

    public GenPrmVoterActor()
    {
        Receive<CritiqueWork>(w =>
        {
            var replyTo = Sender;
            IGenPrmJudge judge;
            CritiqueRequest request;
            try
            {
                judge = judges.GetOrAdd(w.Judge, json => JudgeSpec.FromJson(json).Create());
                var problem = new ArithmeticProblem(w.ProblemIndex, w.Operands, w.Operators.ToCharArray());
                var parsed = StepParser.Parse(w.Completion, CharTokenizer.Default);
                request = CritiquePrompt.Build(w.ResponseKey, problem, parsed) with { CompletionTokens = w.Completion };
            }
            catch (Exception e)
            {
                log.Warning("critique request {0} is invalid: {1}", w.RequestId, e.Message);
                replyTo.Tell(new CritiqueDone(w.RequestId, Failed(w.Count, $"{CritiqueFailure.InvalidRequest}: {e.Message}")));
                return;
            }
            var token = cts.Token;
            judge.CritiqueAsync(request, w.Count, w.FirstIndex, token).ContinueWith(t => t.IsCompletedSuccessfully
                    ? new CritiqueDone(w.RequestId, t.Result.Select(ToDto).ToArray())
                    : new CritiqueDone(w.RequestId, Failed(w.Count, t.Exception?.GetBaseException() is { } e
                        ? $"{CritiqueFailure.JudgeError}: {e.GetType().Name}: {e.Message}" : $"{CritiqueFailure.Cancelled}: the voter stopped")),
                TaskScheduler.Default)
                .PipeTo(replyTo);
        });
    }

    private static CritiqueDto[] Failed(int count, string detail) =>
        Enumerable.Range(0, count).Select(_ => new CritiqueDto((int)CritiqueStatus.Failed, [], detail)).ToArray();

    /// <summary>The wire form of a critique.</summary>
    public static CritiqueDto ToDto(Critique c) => new((int)c.Status, c.WrongSteps, c.Detail);

    /// <summary>A critique from its wire form.</summary>
    public static Critique FromDto(CritiqueDto d) => new(
        Enum.IsDefined(typeof(CritiqueStatus), d.Status) ? (CritiqueStatus)d.Status : CritiqueStatus.Failed, d.WrongSteps, d.Detail);

    /// <inheritdoc />
    protected override void PostStop()
    {
        cts.Cancel();
        foreach (var j in judges.Values) (j as IDisposable)?.Dispose();
    }
}

/// <summary>
/// A judge that is a pool of voter actors somewhere in the cluster: each of the <c>count</c> critiques of a response
/// is a separate request to one voter (picked by the mediator), all in parallel. A critique not back within the
/// deadline is <see cref="CritiqueStatus.TimedOut"/>; one whose voter failed is <see cref="CritiqueStatus.Failed"/>.
/// This is the vote aggregator's fan-out: the CAPO reward votes over whatever came back in time.
/// </summary>
public sealed class VoterPoolJudge(ActorSystem system, JudgeSpec judge, TimeSpan deadline) : IGenPrmJudge
{
    private readonly IActorRef mediator = DistributedPubSub.Get(system).Mediator;
    private readonly string judgeJson = judge.ToJson();
    private long nextId;

    /// <inheritdoc />
    public string Name => $"voters({judge.Type})";

    /// <inheritdoc />
    public async Task<IReadOnlyList<Critique>> CritiqueAsync(CritiqueRequest request, int count, int firstIndex, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var ids = request.CompletionTokens ?? throw new ArgumentException("the critique request carries no completion ids", nameof(request));
        var p = request.Problem;
        // An openai judge with use-n asks for all critiques of a response in one request (n = count): one voter does it.
        int perWork = judge.Type == "openai" && judge.OpenAi.UseN ? Math.Max(1, count) : 1;
        var asks = Enumerable.Range(0, (count + perWork - 1) / perWork).Select(async b =>
        {
            int first = b * perWork, n = Math.Min(perWork, count - first);
            var work = new CritiqueWork($"{request.ResponseKey}#{firstIndex + first}/{Interlocked.Increment(ref nextId)}", request.ResponseKey,
                p.Index, p.Operands.ToArray(), new string(p.Operators.ToArray()), ids.ToArray(), judgeJson, n, firstIndex + first);
            try
            {
                var done = await mediator.Ask<CritiqueDone>(new Send(VoterNodeActor.Path, work, localAffinity: false), deadline, ct);
                return Enumerable.Range(0, n).Select(c => c < done.Critiques.Length ? GenPrmVoterActor.FromDto(done.Critiques[c])
                    : Critique.Abstain(CritiqueStatus.Failed, CritiqueFailure.JudgeError, $"the voter returned {done.Critiques.Length} critiques instead of {n}")).ToArray();
            }
            catch (AskTimeoutException)
            {
                return Repeat(n, Critique.Abstain(CritiqueStatus.TimedOut, CritiqueFailure.Deadline,
                    $"no critique within capo.deadline = {deadline.TotalSeconds:0.#} s (the voter, or the judge behind it, did not answer in time)"));
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                return Repeat(n, e is OperationCanceledException
                    ? Critique.Abstain(CritiqueStatus.TimedOut, CritiqueFailure.Deadline, e.Message)
                    : Critique.Abstain(CritiqueStatus.Failed, CritiqueFailure.JudgeError, $"{e.GetType().Name}: {e.Message}"));
            }
        }).ToArray();
        return [.. (await Task.WhenAll(asks)).SelectMany(c => c)];
    }

    private static Critique[] Repeat(int n, Critique c) => [.. Enumerable.Repeat(c, n)];
}
