using Akka.Actor;
using Akka.Event;
using RlActors.Actors.Experiment;
using static RlActors.Actors.Supervised.SupervisedProtocol;

namespace RlActors.Actors.Supervised;

/// <summary>
/// Coordinates one supervised experiment: the learner-only counterpart of <see cref="ExperimentActor"/> (no samplers, no
/// rewards). It asks its learner child for one SGD step at a time and reports every step to the observer; at an epoch's end
/// the step's report also carries the held-out metrics (test accuracy), which go to <see cref="IExperimentObserver.Evaluation"/>
/// too. It checkpoints every <see cref="SupervisedSettings.CheckpointEveryEpochs"/> epochs and after the last step. On
/// <see cref="ExperimentActor.Stop"/> it stops at the next step boundary: a step in flight completes, the learner checkpoints
/// the last completed step, and the observer hears <see cref="IExperimentObserver.Stopped"/> after that checkpoint was handed
/// to it. A learner failure ends the experiment with a message.
/// </summary>
public sealed class SupervisedExperimentActor : ReceiveActor
{
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly SupervisedSettings settings;
    private readonly IExperimentObserver observer;
    private readonly IActorRef learner;
    private long step = -1;              // -1 until the learner is ready; then the last completed step
    private int stepsPerEpoch;
    private bool training;
    private DateTime stepStarted;
    private bool finishing;
    private string? stopReason;
    private long checkpointRequested = -1, checkpointReceived = -1;

    /// <summary>Props of a supervised experiment.</summary>
    public static Props Props(SupervisedSettings settings, IExperimentObserver observer) =>
        Akka.Actor.Props.Create(() => new SupervisedExperimentActor(settings, observer));

    /// <summary>A supervised experiment; see <see cref="Props"/>.</summary>
    public SupervisedExperimentActor(SupervisedSettings settings, IExperimentObserver observer)
    {
        this.settings = settings;
        this.observer = observer;
        learner = Context.ActorOf(settings.Learner, "learner");
        Receive<Ready>(OnReady);
        Receive<StepTrained>(OnStepTrained);
        Receive<CheckpointTaken>(OnCheckpointTaken);
        Receive<Concluded>(OnConcluded);
        Receive<ExperimentActor.Stop>(OnStop);
    }

    /// <summary>A bug in the coordinator must not silently restart the run (a restart would build a new learner from
    /// scratch): any exception ends the experiment with a message instead.</summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        try { return base.AroundReceive(receive, message); }
        catch (Exception e)
        {
            log.Error(e, "supervised experiment failed on {0}", message.GetType().Name);
            Fail($"the experiment coordinator failed on {message.GetType().Name}: {e.Message}");
            return true;
        }
    }

    /// <summary>The learner holds the only copy of the model: its failure stops the run (resume continues from the last checkpoint).</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(0, TimeSpan.Zero, ex =>
    {
        Fail($"the learner failed: {ex.Message}");
        return Directive.Stop;
    });

    /// <inheritdoc />
    protected override void PreStart()
    {
        observer.Log(settings.ResumeFrom is { } r
            ? $"experiment {settings.Name}: resuming after step {r.Step} (weights sha256 {r.WeightsSha256[..12]}...)"
            : $"experiment {settings.Name}: building the model and loading the data on the learner");
        learner.Tell(new Initialize(settings.ResumeFrom));
    }

    private long Total => settings.TotalSteps;

    private void OnReady(Ready r)
    {
        step = r.Step;
        stepsPerEpoch = r.StepsPerEpoch;
        if (settings.ResumeFrom is not null) checkpointRequested = checkpointReceived = step; // that checkpoint is in the store
        observer.Log($"learner ready in {r.Seconds:F1} s: {stepsPerEpoch} steps per epoch, {Total} steps in all");
        if (step >= Total) { Finish(); return; }
        TrainNext();
    }

    private void TrainNext()
    {
        training = true;
        stepStarted = DateTime.UtcNow;
        learner.Tell(new TrainStep(step + 1));
    }

    private void OnStepTrained(StepTrained t)
    {
        training = false;
        step = t.Step;
        var metrics = new Dictionary<string, double>(t.Metrics) { [RuntimeMetrics.StepSeconds] = (DateTime.UtcNow - stepStarted).TotalSeconds };
        if (t.Evaluation is not null)
            foreach (var (k, v) in t.Evaluation) metrics[k] = v;
        observer.StepCompleted(new StepReport(step, step, metrics));
        if (t.Evaluation is not null) observer.Evaluation(new EvalReport("epoch", step, t.Evaluation));

        int every = settings.CheckpointEveryEpochs;
        bool epochEnd = step % stepsPerEpoch == 0;
        // Messages to the learner are handled in order, so this snapshot is taken before the next step.
        if (every > 0 && ((epochEnd && step / stepsPerEpoch % every == 0) || step >= Total)) RequestCheckpoint();
        if (step >= Total) { Finish(); return; }
        if (stopReason is not null) { StopAfterCheckpoint(); return; }
        TrainNext();
    }

    private void RequestCheckpoint()
    {
        if (checkpointRequested == step) return;
        checkpointRequested = step;
        learner.Tell(new TakeCheckpoint(step));
    }

    private void OnCheckpointTaken(CheckpointTaken c)
    {
        observer.CheckpointTaken(c.Step, c.Checkpoint);
        checkpointReceived = Math.Max(checkpointReceived, c.Step);
        if (stopReason is not null && !finishing && !training && checkpointReceived == step) StopNow();
    }

    private void OnStop(ExperimentActor.Stop s)
    {
        if (finishing || stopReason is not null) return; // finishing anyway, or already stopping
        stopReason = s.Reason;
        observer.Log(step < 0
            ? $"stopping ({s.Reason}) before the first step: {(settings.ResumeFrom is null ? "nothing to checkpoint yet" : "the checkpoint it resumed from stays the latest")}"
            : $"stopping ({s.Reason}) after step {step + (training ? 1 : 0)}{(training ? ", which is in progress" : "")}: the last completed step is checkpointed");
        if (step < 0) { StopNow(); return; }  // the learner is still loading: nothing new to save
        if (training) return;                 // OnStepTrained records the step, then stops
        StopAfterCheckpoint();
    }

    /// <summary>Asks for the checkpoint of the last completed step unless it was asked for already; stops once it is in hand.</summary>
    private void StopAfterCheckpoint()
    {
        RequestCheckpoint();
        if (checkpointReceived == step) StopNow();
    }

    private void StopNow()
    {
        finishing = true;
        observer.Stopped(Math.Max(step, settings.ResumeFrom?.Step ?? 0), stopReason!);
        Context.Stop(Self);
    }

    /// <summary>Ends the run: the final weights, with an evaluation unless the last step was an epoch's end (already evaluated).</summary>
    private void Finish()
    {
        finishing = true;
        learner.Tell(new Conclude(step, Evaluate: step % stepsPerEpoch != 0 || step == settings.ResumeFrom?.Step));
    }

    private void OnConcluded(Concluded c)
    {
        if (c.Evaluation is not null) observer.Evaluation(new EvalReport("final", c.Step, c.Evaluation));
        observer.Finished(c.Weights);
        Context.Stop(Self);
    }

    private void Fail(string reason)
    {
        if (finishing) return;
        finishing = true;
        observer.Failed(reason);
        Context.Stop(Self);
    }
}
