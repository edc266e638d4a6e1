using Akka.Actor;
using Akka.Event;
using RlActors.Actors.Protocol;
using RlActors.Policies.Lm;
using RlActors.Policies.Runtime;
using RlActors.Policies.Training;
using static RlActors.Actors.Protocol.LearnerProtocol;

namespace RlActors.Actors.Learning;

/// <summary>
/// Owns the policy and the optimizer. Every piece of work (SFT, an update, an evaluation) runs as a Task piped
/// back to itself (<see cref="TorchWorkActor"/>), so the mailbox never blocks; one piece of work at a time (the
/// experiment asks for one at a time). A failure of that work is rethrown here, so it reaches the experiment's
/// supervisor (which escalates).
/// </summary>
public sealed class LearnerActor : TorchWorkActor
{
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly RlvrOptions options;
    private ArithmeticRlvr? core;
    private long version;

    /// <summary>Props for a learner of <paramref name="options"/>.</summary>
    public static Props Props(RlvrOptions options) => Akka.Actor.Props.Create(() => new LearnerActor(options));

    public LearnerActor(RlvrOptions options)
    {
        this.options = options;
        Receive<Initialize>(init => Run(() =>
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            core = new ArithmeticRlvr(options);
            if (init.Resume is { } checkpoint)
            {
                core.LoadCheckpoint(checkpoint);
                version = checkpoint.PolicyVersion;
            }
            else core.RunSft();
            return new Ready(Snapshot(version), watch.Elapsed.TotalSeconds);
        }));
        Receive<TakeCheckpoint>(t => Run(() => new CheckpointTaken(t.Step, Core.SaveCheckpoint())));
        Receive<Train>(t => Run(() =>
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var metrics = Core.TrainOn(t.Groups);
            version++;
            return new Trained(t.Step, Snapshot(version), metrics, watch.Elapsed.TotalSeconds);
        }));
        Receive<Evaluate>(e => Run(() =>
        {
            var r = Core.Evaluate();
            return new Evaluated(e.Phase, e.Step, r.Accuracy, r.StepAccuracy, r.Problems);
        }));
    }

    private ArithmeticRlvr Core => core ?? throw new InvalidOperationException("learner not initialised");

    private WeightsProtocol.PolicyWeights Snapshot(long v)
    {
        var c = Core.Policy.Config;
        return new WeightsProtocol.PolicyWeights(v, c.VocabSize, c.DModel, c.Layers, c.Heads, c.Context, c.MlpRatio, Core.Policy.SaveWeights());
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        base.PostStop();
        var c = core;
        if (c is not null) ReleaseOnTorchThread(c.Dispose);
        log.Debug("learner stopped at policy version {0}", version);
    }
}
