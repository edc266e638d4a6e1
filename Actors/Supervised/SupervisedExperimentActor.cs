using Akka.Actor;
using RlActors.Actors.Experiment;
using static RlActors.Actors.Supervised.SupervisedProtocol;

namespace RlActors.Actors.Supervised;

/// <summary>
/// Coordinates one supervised experiment: the learner-only counterpart of <see cref="ExperimentActor"/> (no samplers, no
/// rewards). It asks its learner child for one SGD step at a time and reports every step to the observer; at an epoch's end
/// the step's report also carries the held-out metrics (test accuracy), which go to <see cref="IExperimentObserver.Evaluation"/>
/// too. It checkpoints every <see cref="SupervisedSettings.CheckpointEveryEpochs"/> epochs and after the last step. A graceful
/// stop and a learner failure are handled as by every <see cref="CoordinatorActor"/>.
/// </summary>
public sealed class SupervisedExperimentActor : CoordinatorActor
{
    private readonly SupervisedSettings settings;
    private readonly IActorRef learner;
    private long step = -1;              // -1 until the learner is ready; then the last completed step
    private int stepsPerEpoch;
    private bool training;
    private DateTime stepStarted;

    /// <summary>Props of a supervised experiment.</summary>
    public static Props Props(SupervisedSettings settings, IExperimentObserver observer) =>
        Akka.Actor.Props.Create(() => new SupervisedExperimentActor(settings, observer));

    /// <summary>A supervised experiment; see <see cref="Props"/>.</summary>
    public SupervisedExperimentActor(SupervisedSettings settings, IExperimentObserver observer) : base(observer, settings.ResumeFrom)
    {
        this.settings = settings;
        learner = Context.ActorOf(settings.Learner, "learner");
        Receive<Ready>(OnReady);
        Receive<StepTrained>(OnStepTrained);
        Receive<CheckpointTaken>(c => CheckpointArrived(c.Step, c.Checkpoint));
        Receive<Concluded>(OnConcluded);
    }

    /// <inheritdoc />
    protected override long LastStep => step;
    /// <inheritdoc />
    protected override bool StepInProgress => training;
    /// <inheritdoc />
    protected override string AbandonedBeforeFirstStep => "the learner was still loading";
    /// <inheritdoc />
    protected override void AskForCheckpoint(long s) => learner.Tell(new TakeCheckpoint(s));

    /// <inheritdoc />
    protected override void PreStart()
    {
        Observer.Log(settings.ResumeFrom is { } r
            ? $"experiment {settings.Name}: resuming after step {r.Step} (weights sha256 {r.WeightsSha256[..12]}...)"
            : $"experiment {settings.Name}: building the model and loading the data on the learner");
        learner.Tell(new Initialize(settings.ResumeFrom));
    }

    private long Total => settings.TotalSteps;

    private void OnReady(Ready r)
    {
        step = r.Step;
        stepsPerEpoch = r.StepsPerEpoch;
        if (settings.ResumeFrom is not null) CheckpointAlreadyStored(step);
        Observer.Log($"learner ready in {r.Seconds:F1} s: {stepsPerEpoch} steps per epoch, {Total} steps in all");
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
        Observer.StepCompleted(new StepReport(step, step, metrics));
        if (t.Evaluation is not null) Observer.Evaluation(new EvalReport("epoch", step, t.Evaluation));

        int every = settings.CheckpointEveryEpochs;
        bool epochEnd = step % stepsPerEpoch == 0;
        // The last step is always checkpointed (also with checkpoint-every = 0).
        if ((every > 0 && epochEnd && step / stepsPerEpoch % every == 0) || step >= Total) RequestCheckpoint();
        if (step >= Total) { Finish(); return; }
        if (StopReason is not null) { StopAfterCheckpoint(); return; }
        TrainNext();
    }

    /// <summary>Ends the run: the final weights, with an evaluation unless the last step was an epoch's end (already evaluated).</summary>
    private void Finish()
    {
        BeginFinishing();
        learner.Tell(new Conclude(step, Evaluate: step % stepsPerEpoch != 0 || step == settings.ResumeFrom?.Step));
    }

    private void OnConcluded(Concluded c)
    {
        if (c.Evaluation is not null) Observer.Evaluation(new EvalReport("final", c.Step, c.Evaluation));
        Observer.Finished(c.Weights);
        Context.Stop(Self);
    }
}
