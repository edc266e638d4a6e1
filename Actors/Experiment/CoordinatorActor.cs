using Akka.Actor;
using Akka.Event;
using RlActors.Policies.Checkpoints;

namespace RlActors.Actors.Experiment;

/// <summary>
/// The base of the experiment coordinator (<see cref="StepCoordinator"/>, which runs every kind): what it
/// shares: it reports to an <see cref="IExperimentObserver"/>; its learner child's failure ends the run, and so does a bug
/// in the coordinator (a restart would rebuild the learner from scratch and lose the progress); checkpoints are asked for
/// once per step; and the graceful stop: on <see cref="Stop"/> no new work starts, a step in progress completes, the
/// learner checkpoints the last completed step (handed to <see cref="IExperimentObserver.CheckpointTaken"/> like periodic
/// checkpoints), then the observer hears <see cref="IExperimentObserver.Stopped"/> and the actor stops.
/// </summary>
public abstract class CoordinatorActor : ReceiveActor
{
    private readonly ILoggingAdapter log = Context.GetLogger();
    private long checkpointRequested = -1, checkpointReceived = -1;

    /// <summary>
    /// Stop gracefully (SIGINT, SIGTERM): no new work is handed out, a step in progress completes, the learner's state after
    /// the last completed step is checkpointed, then <see cref="IExperimentObserver.Stopped"/> is called and the actor stops.
    /// Work of steps not yet trained on is dropped: a resume redoes it from the same seeds.
    /// </summary>
    /// <param name="Reason">Why, for the record (e.g. "SIGTERM").</param>
    public sealed record Stop(string Reason);

    /// <summary>Where progress goes.</summary>
    protected IExperimentObserver Observer { get; }
    /// <summary>The run is ending (finished, failed or stopping now): no new stop, failure or work.</summary>
    protected bool Finishing { get; private set; }
    /// <summary>Set by <see cref="Stop"/>: no new work; checkpoint the last completed step, then stop.</summary>
    protected string? StopReason { get; private set; }

    /// <summary>Reports to <paramref name="observer"/>; handles <see cref="Stop"/>. <paramref name="resumeFrom"/> is the
    /// checkpoint a resumed run starts from (null for a fresh run).</summary>
    protected CoordinatorActor(IExperimentObserver observer, TrainingCheckpoint? resumeFrom)
    {
        Observer = observer;
        ResumedStep = resumeFrom?.Step ?? 0;
        Receive<Stop>(OnStop);
    }

    /// <summary>The last completed step; negative until the learner is ready.</summary>
    protected abstract long LastStep { get; }
    /// <summary>The learner is training the next step.</summary>
    protected abstract bool StepInProgress { get; }
    /// <summary>The step of the checkpoint the run resumed from (0 for a fresh run).</summary>
    protected long ResumedStep { get; }
    /// <summary>What a stop before the learner is ready abandons (a fresh run), e.g. "the SFT warm-up is abandoned".</summary>
    protected abstract string AbandonedBeforeFirstStep { get; }
    /// <summary>Asks the learner for the checkpoint of <paramref name="step"/>; its answer goes to <see cref="CheckpointArrived"/>.</summary>
    protected abstract void AskForCheckpoint(long step);
    /// <summary>Called when a stop begins (e.g. to tell waiting workers there is no more work).</summary>
    protected virtual void OnStopping() { }

    /// <summary>The checkpoint of <paramref name="step"/> is already in the store (the one a resume started from).</summary>
    protected void CheckpointAlreadyStored(long step) => checkpointRequested = checkpointReceived = step;

    /// <summary>Asks for the checkpoint of the last completed step unless it was asked for already. Messages to the learner
    /// are handled in order, so the snapshot is taken before the next step.</summary>
    protected void RequestCheckpoint()
    {
        if (checkpointRequested == LastStep) return;
        checkpointRequested = LastStep;
        AskForCheckpoint(LastStep);
    }

    /// <summary>The learner's checkpoint of <paramref name="step"/>: handed to the observer; completes a pending stop.</summary>
    protected void CheckpointArrived(long step, TrainingCheckpoint checkpoint)
    {
        Observer.CheckpointTaken(step, checkpoint);
        checkpointReceived = Math.Max(checkpointReceived, step);
        if (StopReason is not null && !Finishing && !StepInProgress && checkpointReceived == LastStep) StopNow();
    }

    private void OnStop(Stop s)
    {
        if (Finishing || StopReason is not null) return; // finishing anyway, or already stopping
        StopReason = s.Reason;
        OnStopping();
        long step = LastStep;
        Observer.Log(step < 0
            ? $"stopping ({s.Reason}) before the first step: {(ResumedStep == 0 ? $"{AbandonedBeforeFirstStep}, nothing to checkpoint" : "the checkpoint it resumed from stays the latest")}"
            : $"stopping ({s.Reason}) after step {step + (StepInProgress ? 1 : 0)}{(StepInProgress ? ", whose update is in progress" : "")}: " +
              "later steps are dropped and the last completed step is checkpointed");
        if (step < 0) { StopNow(); return; } // the learner is still getting ready: nothing new to save
        if (StepInProgress) return;           // the step's completion calls StopAfterCheckpoint
        StopAfterCheckpoint();
    }

    /// <summary>With a stop pending: asks for the checkpoint of the last completed step, and stops once it is in hand.</summary>
    protected void StopAfterCheckpoint()
    {
        RequestCheckpoint();
        if (checkpointReceived == LastStep) StopNow();
    }

    private void StopNow()
    {
        Finishing = true;
        Observer.Stopped(Math.Max(LastStep, ResumedStep), StopReason!);
        Context.Stop(Self);
    }

    /// <summary>The run is ending normally: stops and failures are ignored from now on.</summary>
    protected void BeginFinishing() => Finishing = true;

    /// <summary>Ends the run with <paramref name="reason"/> (once).</summary>
    protected void Fail(string reason)
    {
        if (Finishing) return;
        Finishing = true;
        Observer.Failed(reason);
        Context.Stop(Self);
    }

    /// <summary>Any exception in the coordinator ends the experiment with a message instead of restarting it.</summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        try { return base.AroundReceive(receive, message); }
        catch (Exception e)
        {
            log.Error(e, "experiment coordinator failed on {0}", message.GetType().Name);
            Fail($"the experiment coordinator failed on {message.GetType().Name}: {e.Message}");
            return true;
        }
    }

    /// <summary>The learner is the one child whose failure the experiment cannot absorb: it stops the run.</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(0, TimeSpan.Zero, ex =>
    {
        Fail($"the learner failed: {ex.Message}");
        return Directive.Stop;
    });
}
