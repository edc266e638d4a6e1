using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using RlActors.Actors.Experiment;
using RlActors.Actors.Protocol;
using RlActors.Policies.Checkpoints;
using static RlActors.Actors.Protocol.LearnerProtocol;

namespace RlActors.Actors.Learning;

/// <summary>
/// What a kind's learner does, as plain library calls on the torch thread (the <see cref="LearnerActor"/> calls them one at a
/// time, in the order the coordinator asked). A kind implements this over its trainer (GRPO/PPO: the LM algorithm; flow: the
/// flow RL trainer; CCL: the CCL trainer).
/// </summary>
public interface ILearnerCore : IDisposable
{
    /// <summary>Builds the model and restores <paramref name="resume"/>, or (a fresh run) runs the kind's setup; returns the
    /// steps done and what the setup reported (null on a resume). <paramref name="log"/> takes progress lines.</summary>
    (long Step, LearnerSetup? Setup) Initialize(TrainingCheckpoint? resume, Action<string> log);
    /// <summary>Trains step <paramref name="step"/> on <paramref name="batch"/> (what the kind's plan combined).</summary>
    IReadOnlyDictionary<string, double> Train(long step, object batch);
    /// <summary>A held-out evaluation named <paramref name="phase"/> after <paramref name="step"/>.</summary>
    EvalReport Evaluate(string phase, long step);
    /// <summary>An evaluation the kind takes on its own after <paramref name="step"/> (e.g. at an epoch's end), or null.</summary>
    EvalReport? EvaluateOnItsOwn(long step) => null;
    /// <summary>The weights workers sample with (version <paramref name="version"/>), or null for a learner-only kind.</summary>
    IVersionedWeights? Weights(long version);
    /// <summary>What else workers may fetch from the coordinator after <see cref="Initialize"/> (e.g. a reward model), or null.</summary>
    object? Resource => null;
    /// <summary>Everything needed to continue exactly.</summary>
    TrainingCheckpoint SaveCheckpoint();
    /// <summary>The end of the run after <paramref name="step"/>: the final weights' bytes, a final evaluation if the kind
    /// takes one, and anything its plan wants at the end.</summary>
    (byte[] Weights, EvalReport? Evaluation, object? Extra) Conclude(long step);
}

/// <summary>What a fresh run's setup reported.</summary>
/// <param name="Phase">A named phase that ended with the setup (e.g. "sft") and its seconds, or null.</param>
/// <param name="Evaluation">The evaluation of the model the steps start from (e.g. after SFT, or the pretrained flow model), or null.</param>
public sealed record LearnerSetup((string Name, double Seconds)? Phase, EvalReport? Evaluation);

/// <summary>
/// The learner of every kind: owns its kind's <see cref="ILearnerCore"/> and runs each request on the torch thread
/// (<see cref="TorchWorkActor"/>: the mailbox never blocks, replies go out in order). A failure of that work is rethrown here,
/// so it reaches the coordinator's supervisor, which ends the run.
/// </summary>
public sealed class LearnerActor : TorchWorkActor
{
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly Func<ILearnerCore> create;
    private ILearnerCore? core;
    private long step;

    /// <summary>Props of a learner whose core <paramref name="create"/> builds (called on the torch thread when it initialises).</summary>
    public static Props Props(Func<ILearnerCore> create) => Akka.Actor.Props.Create(() => new LearnerActor(create));

    /// <summary>A learner; see <see cref="Props"/>.</summary>
    public LearnerActor(Func<ILearnerCore> create)
    {
        this.create = create;
        var parent = Context.Parent;
        Receive<Initialize>(init => Run(() =>
        {
            var watch = Stopwatch.StartNew();
            core = this.create();
            var (done, setup) = core.Initialize(init.Resume, line => parent.Tell(new Progress(line)));
            step = done;
            return new Ready(step, core.Weights(step), setup, watch.Elapsed.TotalSeconds, core.Resource);
        }));
        Receive<Train>(t => Run(() =>
        {
            if (t.Step != step + 1) throw new InvalidOperationException($"asked to train step {t.Step}, but the learner is after step {step}");
            var watch = Stopwatch.StartNew();
            var metrics = Core.Train(t.Step, t.Batch);
            step = t.Step;
            double seconds = watch.Elapsed.TotalSeconds;
            var evaluation = t.EvaluatePhase is { } phase ? Core.Evaluate(phase, step) : Core.EvaluateOnItsOwn(step);
            return new Trained(step, Core.Weights(step), metrics, evaluation, seconds);
        }));
        Receive<TakeCheckpoint>(t => Run(() => new CheckpointTaken(t.Step, Core.SaveCheckpoint())));
        Receive<Conclude>(c => Run(() =>
        {
            var (weights, evaluation, extra) = Core.Conclude(c.Step);
            return new Concluded(c.Step, weights, evaluation, extra);
        }));
    }

    private ILearnerCore Core => core ?? throw new InvalidOperationException("learner not initialised");

    /// <inheritdoc />
    protected override void PostStop()
    {
        base.PostStop();
        var c = core;
        if (c is not null) ReleaseOnTorchThread(c.Dispose);
        log.Debug("learner stopped after step {0}", step);
    }
}
