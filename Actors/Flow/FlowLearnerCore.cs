using RlActors.Actors.Experiment;
using RlActors.Actors.Learning;
using RlActors.Actors.Protocol;
using RlActors.Policies.Checkpoints;
using RlActors.Policies.Flow;

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
/// The flow learner: owns the task (reward), the <see cref="FlowRlTrainer"/> and the pretrained weights. It sets the experiment
/// up (reward model, flow-matching pretraining, both cached by <see cref="FlowTaskSetup"/>), trains on the groups of a step in
/// plan order (<see cref="FlowRlTrainer.TrainOn"/> orders them by group id too), evaluates the ODE reward, and checkpoints the
/// trainer's state (weights, reference, Adam, step, nfe) plus the pretrained weights (for the "before" picture of a resumed run).
/// </summary>
public sealed class FlowLearnerCore(FlowLearnerSettings settings) : ILearnerCore
{
    private const string PretrainedPart = "flow.pretrained";

    private FlowTaskEnvironment? env;
    private FlowRlTrainer? trainer;
    private byte[]? pretrained;

    private FlowRlTrainer Trainer => trainer ?? throw new InvalidOperationException("flow learner not initialised");

    /// <inheritdoc />
    public (long Step, LearnerSetup? Setup) Initialize(TrainingCheckpoint? resume, Action<string> log)
    {
        env = FlowTaskSetup.Open(settings.Task, settings.CacheDir, log);
        if (resume is not null)
        {
            pretrained = resume.Parts.TryGetValue(PretrainedPart, out var p) ? p : null;
            trainer = new FlowRlTrainer(settings.Model.Create(0), settings.Grpo, env.Reward);
            trainer.LoadState(resume.Encode());
            return (trainer.StepsDone, null);
        }
        pretrained = FlowTaskSetup.Pretrained(env, settings.Model, settings.Pretrain, settings.InitSeed, settings.CacheDir, log);
        var model = settings.Model.Create(0);
        try { model.LoadWeights(pretrained); }
        catch { model.Dispose(); throw; }
        trainer = new FlowRlTrainer(model, settings.Grpo, env.Reward);
        return (0, new LearnerSetup(null, Evaluate("pretrained", 0)));
    }

    /// <summary>The task's reward model (Fashion-MNIST) that explorers fetch, or null (2-D tasks).</summary>
    public object? Resource => env?.RewardModel;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, double> Train(long step, object batch) => Trainer.TrainOn((IReadOnlyList<FlowRolloutGroup>)batch);

    /// <summary>The mean ODE reward of a fixed evaluation set, overall and per class.</summary>
    public EvalReport Evaluate(string phase, long step)
    {
        var e = Trainer.EvaluateOdeReward(settings.EvalPerClass, settings.EvalSeed);
        var result = new Dictionary<string, double> { [FlowRunMetrics.OdeReward] = e.MeanReward };
        for (int c = 0; c < e.PerClass.Length; c++) result[$"{FlowRunMetrics.OdeReward}_c{c}"] = e.PerClass[c];
        return new EvalReport(phase, step, result);
    }

    /// <inheritdoc />
    public IVersionedWeights Weights(long version) => new FlowProtocol.FlowWeights(version, settings.Model, Trainer.Policy.SaveWeights());

    /// <inheritdoc />
    public TrainingCheckpoint SaveCheckpoint()
    {
        var ck = TrainingCheckpoint.Decode(Trainer.SaveState());
        return pretrained is null ? ck : ck with { Parts = new Dictionary<string, byte[]>(ck.Parts) { [PretrainedPart] = pretrained } };
    }

    /// <summary>The final weights and the ODE samples of the pretrained and the final model, for pictures.</summary>
    public (byte[] Weights, EvalReport? Evaluation, object? Extra) Conclude(long step)
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
        return (tr.Policy.SaveWeights(), null, new FlowConclusion(before, Samples(tr.Policy, $"after {tr.StepsDone} steps")));
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
    public void Dispose()
    {
        trainer?.Dispose();
        env?.Dispose();
    }
}
