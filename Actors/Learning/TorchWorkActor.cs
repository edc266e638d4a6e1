using Akka.Actor;
using RlActors.Policies.Runtime;

namespace RlActors.Actors.Learning;

/// <summary>
/// Base of the actors that own torch state (learners): every piece of work runs on <see cref="TorchThread.Shared"/> as a
/// Task piped back to the actor, so the mailbox never blocks, and its reply goes to whoever asked. A failure of that work
/// is rethrown in the actor as a <see cref="LearnerFailedException"/>, so it reaches the parent's supervisor. Work not yet
/// started when the actor stops is skipped.
/// </summary>
public abstract class TorchWorkActor : ReceiveActor
{
    private readonly CancellationTokenSource cts = new();

    // The torch thread finishes work in the order it was queued, but the continuations that pipe results back run on
    // pool threads and can overtake each other: a learner's checkpoint of the last step once arrived after its final
    // answer, when the experiment had already stopped (the checkpoint was lost). Replies are numbered and sent in order.
    private long issued, delivered;
    private readonly Dictionary<long, Reply> early = new();

    /// <summary>Handles the replies and failures of <see cref="Run{T}"/>; subclasses add their own handlers.</summary>
    protected TorchWorkActor()
    {
        Receive<Reply>(r =>
        {
            early[r.Number] = r;
            while (early.Remove(delivered, out var next))
            {
                delivered++;
                next.To.Tell(next.Message);
            }
        });
        Receive<Status.Failure>(f => throw new LearnerFailedException($"learner failed: {f.Cause.Message}", f.Cause));
    }

    /// <summary>Runs <paramref name="work"/> on the torch thread and sends its result to the current sender, after the
    /// results of the work queued before it.</summary>
    protected void Run<T>(Func<T> work)
    {
        var replyTo = Sender;
        long number = issued++;
        TorchThread.Shared.Run(() => (object)work()!, cts.Token).PipeTo(Self, success: r => new Reply(number, replyTo, r), failure: e => new Status.Failure(e));
    }

    /// <summary>Queues <paramref name="release"/> (disposing torch state) on the torch thread, after the work queued before it.</summary>
    protected static void ReleaseOnTorchThread(Action release) => TorchThread.Shared.Run(() => { release(); return 0; });

    private sealed record Reply(long Number, IActorRef To, object Message);

    /// <inheritdoc />
    protected override void PostStop()
    {
        cts.Cancel();
        base.PostStop();
    }
}

/// <summary>The learner could not complete a piece of work; the experiment cannot go on without it.</summary>
public sealed class LearnerFailedException(string message, Exception inner) : Exception(message, inner);
