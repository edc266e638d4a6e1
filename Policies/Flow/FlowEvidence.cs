using RlActors.Environments.Flow2d;

namespace RlActors.Policies.Flow;

/// <summary>One point of a reward curve.</summary>
/// <param name="Step">RL steps completed (0 = the starting model).</param>
/// <param name="Nfe">Cumulative training model evaluations at that point.</param>
/// <param name="OdeReward">Mean ODE reward of the fixed evaluation set.</param>
/// <param name="TrainMetrics">The metrics of the step that ended here (empty at step 0).</param>
public sealed record FlowCurvePoint(long Step, long Nfe, double OdeReward, IReadOnlyDictionary<string, double> TrainMetrics);

/// <summary>A reward curve of one method and seed, and when it first reached the threshold.</summary>
/// <param name="Objective">The method.</param>
/// <param name="Seed">The RL seed (<see cref="FlowGrpoOptions.Seed"/>).</param>
/// <param name="Points">Evaluations in step order, the first at step 0.</param>
/// <param name="Threshold">The reward threshold.</param>
/// <param name="StepsToThreshold">First evaluated step whose ODE reward was ≥ the threshold, or null.</param>
/// <param name="NfeToThreshold">Cumulative nfe at that step, or null.</param>
/// <param name="Seconds">Wall time of the run (training and evaluation).</param>
public sealed record FlowCurve(FlowObjective Objective, ulong Seed, IReadOnlyList<FlowCurvePoint> Points, double Threshold,
    long? StepsToThreshold, long? NfeToThreshold, double Seconds);

/// <summary>Settings of one evidence run (besides the <see cref="FlowGrpoOptions"/>).</summary>
public sealed record FlowCurveOptions
{
    /// <summary>RL steps to run at most.</summary>
    public int Steps { get; init; } = 400;
    /// <summary>Evaluate the ODE reward every this many steps (and at step 0).</summary>
    public int EvalEvery { get; init; } = 10;
    /// <summary>ODE evaluation samples per class.</summary>
    public int EvalPerClass { get; init; } = 128;
    /// <summary>Seed of the evaluation noise (the same set for every method and step).</summary>
    public ulong EvalSeed { get; init; } = 20_261_128;
    /// <summary>Reward threshold whose first crossing is reported.</summary>
    public double Threshold { get; init; } = 0.9;
    /// <summary>Stop once the threshold is reached (saves time when only steps-to-threshold are wanted).</summary>
    public bool StopAtThreshold { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid key.</summary>
    public void Validate()
    {
        if (Steps < 0) throw new ArgumentException($"evidence.steps must be >= 0 (got {Steps})");
        if (EvalEvery < 1) throw new ArgumentException($"evidence.eval-every must be >= 1 (got {EvalEvery})");
        if (EvalPerClass < 1) throw new ArgumentException($"evidence.eval-per-class must be >= 1 (got {EvalPerClass})");
    }
}

/// <summary>
/// The evidence of the flow RL issue as library functions: pretrain one model on a 2-D task, then run each method from
/// the same pretrained weights and record its ODE reward against steps and model evaluations.
/// </summary>
public static class FlowEvidence
{
    /// <summary>Pretrains a fresh model (initialised from <paramref name="initSeed"/>) on <paramref name="task"/>'s data. Returns its weights.</summary>
    public static byte[] Pretrain(Flow2dTask task, VelocityFieldConfig config, FlowPretrainOptions options, long initSeed = 1,
        Action<int, double>? progress = null)
    {
        if (config.Dim != Flow2dTask.Dim || config.Classes != task.Classes)
            throw new ArgumentException($"the model (dim {config.Dim}, classes {config.Classes}) does not fit the task (dim {Flow2dTask.Dim}, classes {task.Classes})");
        using var model = new VelocityField(config, initSeed);
        FlowPretraining.Train(model, (classes, rng) => task.SampleBatch(classes, rng), options, progress);
        return model.SaveWeights();
    }

    /// <summary>The task's reward as a <see cref="FlowReward"/>.</summary>
    public static FlowReward RewardOf(Flow2dTask task) => (cls, finals) => task.Rewards(cls, finals);

    /// <summary>
    /// Runs <paramref name="options"/>'s objective for up to <see cref="FlowCurveOptions.Steps"/> steps from
    /// <paramref name="pretrained"/> and returns its ODE reward curve (evaluated at step 0 and every EvalEvery steps).
    /// <paramref name="progress"/> sees every evaluated point as it is made.
    /// </summary>
    public static FlowCurve RunCurve(VelocityFieldConfig config, byte[] pretrained, FlowGrpoOptions options, FlowReward reward,
        FlowCurveOptions curve, Action<FlowCurvePoint>? progress = null)
    {
        curve.Validate(); // before the model is built
        return RunCurve(new FlowRlTrainer(config, pretrained, options, reward), curve, progress);
    }

    /// <summary>
    /// As <see cref="RunCurve(VelocityFieldConfig, byte[], FlowGrpoOptions, FlowReward, FlowCurveOptions, Action{FlowCurvePoint}?)"/>
    /// for a trainer built by the caller (any architecture); the trainer is disposed at the end.
    /// </summary>
    public static FlowCurve RunCurve(FlowRlTrainer trainerToOwn, FlowCurveOptions curve, Action<FlowCurvePoint>? progress = null)
    {
        using var trainer = trainerToOwn;
        curve.Validate();
        var options = trainer.Options;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var points = new List<FlowCurvePoint>();
        long? stepsAt = null, nfeAt = null;
        IReadOnlyDictionary<string, double> last = new Dictionary<string, double>();
        for (int step = 0; ; step++)
        {
            if (step % curve.EvalEvery == 0 || step == curve.Steps)
            {
                var eval = trainer.EvaluateOdeReward(curve.EvalPerClass, curve.EvalSeed);
                var point = new FlowCurvePoint(trainer.StepsDone, trainer.Nfe, eval.MeanReward, last);
                points.Add(point);
                progress?.Invoke(point);
                if (stepsAt is null && eval.MeanReward >= curve.Threshold)
                {
                    stepsAt = trainer.StepsDone; nfeAt = trainer.Nfe;
                    if (curve.StopAtThreshold) break;
                }
            }
            if (step == curve.Steps) break;
            last = trainer.Step();
        }
        return new FlowCurve(options.Objective, options.Seed, points, curve.Threshold, stepsAt, nfeAt, clock.Elapsed.TotalSeconds);
    }
}
