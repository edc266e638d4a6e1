using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using RlActors.Actors.Learning;
using RlActors.Policies.Checkpoints;
using RlActors.Policies.Flow;
using static RlActors.Actors.Flow.FlowLearnerProtocol;
using static RlActors.Actors.Protocol.LearnerProtocol;
using Initialize = RlActors.Actors.Flow.FlowLearnerProtocol.Initialize;
using Ready = RlActors.Actors.Flow.FlowLearnerProtocol.Ready;
using Train = RlActors.Actors.Flow.FlowLearnerProtocol.Train;
using Trained = RlActors.Actors.Flow.FlowLearnerProtocol.Trained;

namespace RlActors.Actors.Flow;

/// <summary>Everything the flow learner needs to build its model and trainer.</summary>
/// <param name="Task">The task (reward, pretraining data).</param>
/// <param name="Model">The policy's shape.</param>
/// <param name="Grpo">RL hyperparameters (objective, branch schedule, ...).</param>
/// <param name="Pretrain">Flow-matching pretraining.</param>
/// <param name="InitSeed">Seed of the model's initialisation before pretraining.</param>
/// <param name="CacheDir">Folder of cached reward models and pretrained weights, or null for none.</param>
public sealed record FlowLearnerSettings(FlowTaskOptions Task, FlowModelSpec Model, FlowGrpoOptions Grpo, FlowPretrainOptions Pretrain,
    long InitSeed, string? CacheDir)
{
    /// <summary>ODE evaluation samples per class.</summary>
    public int EvalPerClass { get; init; } = 64;
    /// <summary>Seed of the evaluation noise (the same set at every evaluation).</summary>
    public ulong EvalSeed { get; init; } = 20_261_128;
    /// <summary>Samples per class drawn for the before/after pictures.</summary>
    public int PictureSamplesPerClass { get; init; } = 200;
}

/// <summary>
/// The flow learner: owns the task (reward), the <see cref="FlowRlTrainer"/> and the pretrained weights, all on the torch
/// thread (<see cref="TorchWorkActor"/>). It sets the experiment up (reward model, flow-matching pretraining, both cached by
/// <see cref="FlowTaskSetup"/>), trains on the groups the experiment hands it in plan order (<see cref="FlowRlTrainer.TrainOn"/>
/// orders them by group id too), evaluates the ODE reward, and checkpoints the trainer's state (weights, reference, Adam,
/// step, nfe) plus the pretrained weights (for the "before" picture of a resumed run).
/// </summary>
public sealed class FlowLearnerActor : TorchWorkActor
{
    private const string PretrainedPart = "flow.pretrained";

    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly FlowLearnerSettings settings;
    private FlowTaskEnvironment? env;
    private FlowRlTrainer? trainer;
    private byte[]? pretrained;

    /// <summary>Props of a learner.</summary>
    public static Props Props(FlowLearnerSettings settings) => Akka.Actor.Props.Create(() => new FlowLearnerActor(settings));

    /// <summary>A learner; see <see cref="Props"/>.</summary>
    public FlowLearnerActor(FlowLearnerSettings settings)
    {
        this.settings = settings;
        var parent = Context.Parent;
        Receive<Initialize>(init => Run(() =>
        {
            var watch = Stopwatch.StartNew();
            void Log(string line) => parent.Tell(new Progress(line));
            env = FlowTaskSetup.Open(settings.Task, settings.CacheDir, Log);
            IReadOnlyDictionary<string, double>? evaluation = null;
            if (init.Resume is { } checkpoint)
            {
                pretrained = checkpoint.Parts.TryGetValue(PretrainedPart, out var p) ? p : null;
                trainer = new FlowRlTrainer(settings.Model.Create(0), settings.Grpo, env.Reward);
                trainer.LoadState(checkpoint.Encode());
            }
            else
            {
                pretrained = FlowTaskSetup.Pretrained(env, settings.Model, settings.Pretrain, settings.InitSeed, settings.CacheDir, Log);
                var model = settings.Model.Create(0);
                try { model.LoadWeights(pretrained); }
                catch { model.Dispose(); throw; }
                trainer = new FlowRlTrainer(model, settings.Grpo, env.Reward);
                evaluation = Evaluate();
            }
            return new Ready(trainer.StepsDone, Weights(), env.RewardModel, evaluation, watch.Elapsed.TotalSeconds);
        }));
        Receive<Train>(t => Run(() =>
        {
            var tr = Trainer;
            if (t.Step != tr.StepsDone + 1) throw new InvalidOperationException($"asked to train step {t.Step}, but the learner is after step {tr.StepsDone}");
            var watch = Stopwatch.StartNew();
            var metrics = tr.TrainOn(t.Groups);
            double seconds = watch.Elapsed.TotalSeconds;
            return new Trained(t.Step, Weights(), metrics, t.Evaluate ? Evaluate() : null, seconds);
        }));
        Receive<TakeCheckpoint>(t => Run(() =>
        {
            var ck = TrainingCheckpoint.Decode(Trainer.SaveState());
            if (pretrained is not null) ck = ck with { Parts = new Dictionary<string, byte[]>(ck.Parts) { [PretrainedPart] = pretrained } };
            return new CheckpointTaken(t.Step, ck);
        }));
        Receive<Conclude>(c => Run(() =>
        {
            var tr = Trainer;
            FlowSamples? before = null;
            if (pretrained is not null)
            {
                using var start = settings.Model.Create(0);
                start.LoadWeights(pretrained);
                start.eval();
                before = Samples(start, "pretrained");
            }
            return new Concluded(c.Step, tr.Policy.SaveWeights(), before, Samples(tr.Policy, $"after {tr.StepsDone} steps"));
        }));
    }

    private FlowRlTrainer Trainer => trainer ?? throw new InvalidOperationException("flow learner not initialised");

    private FlowProtocol.FlowWeights Weights() => new(Trainer.StepsDone, settings.Model, Trainer.Policy.SaveWeights());

    private Dictionary<string, double> Evaluate()
    {
        var e = Trainer.EvaluateOdeReward(settings.EvalPerClass, settings.EvalSeed);
        var result = new Dictionary<string, double> { [FlowRunMetrics.OdeReward] = e.MeanReward };
        for (int c = 0; c < e.PerClass.Length; c++) result[$"{FlowRunMetrics.OdeReward}_c{c}"] = e.PerClass[c];
        return result;
    }

    private FlowSamples Samples(FlowVelocityModel model, string label)
    {
        int k = model.Classes, n = settings.PictureSamplesPerClass;
        var classes = Enumerable.Range(0, k).SelectMany(c => Enumerable.Repeat(c, n)).ToArray();
        var values = FlowSampler.OdeSamples(model, classes, settings.EvalSeed + 1, settings.Grpo.EvalSteps);
        double sum = 0;
        for (int c = 0; c < k; c++)
            sum += env!.Reward(c, values.AsSpan(c * n * model.Dim, n * model.Dim).ToArray()).Sum(r => (double)r);
        return new FlowSamples(label, k, n, model.Dim, values, sum / (k * n));
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        base.PostStop();
        var (t, e) = (trainer, env);
        ReleaseOnTorchThread(() => { t?.Dispose(); e?.Dispose(); });
        log.Debug("flow learner stopped after step {0}", t?.StepsDone ?? 0);
    }
}
