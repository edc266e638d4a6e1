using RlActors.Policies.Flow;

namespace RlActors.Policies.Tests.Flow;

/// <summary>The learner's advantages and weights, the trainer's plan, a short training run, and an exact resume.</summary>
public class FlowTrainerTests(TinyFlow flow) : IClassFixture<TinyFlow>
{
    [Fact]
    public void Sibling_advantages_are_standardised_clipped_and_floored()
    {
        var normal = FlowGrpoLearner.Advantages([0f, 1f, 0f, 1f], stdFloor: 0.05, stdEpsilon: 0, clip: 5);
        Assert.Equal([-1f, 1f, -1f, 1f], normal.Advantages);
        Assert.Equal(0.5, normal.Std, 9);

        // A settled group (std 1e-4): without a floor its noise would become ±1 advantages; with it they stay tiny.
        var settled = FlowGrpoLearner.Advantages([0.9999f, 1.0001f], stdFloor: 0.05, stdEpsilon: 1e-4, clip: 5);
        Assert.All(settled.Advantages, a => Assert.InRange(Math.Abs(a), 0, 0.005));
        var unfloored = FlowGrpoLearner.Advantages([0.9999f, 1.0001f], stdFloor: 0, stdEpsilon: 1e-4, clip: 5);
        Assert.All(unfloored.Advantages, a => Assert.InRange(Math.Abs(a), 0.4, 1));

        var outlier = FlowGrpoLearner.Advantages([.. Enumerable.Repeat(0f, 99), 1f], stdFloor: 0, stdEpsilon: 0, clip: 5);
        Assert.Equal(5f, outlier.Advantages[^1]);
    }

    [Fact]
    public void Noise_weighted_objectives_weigh_early_transitions_more_and_the_others_uniformly()
    {
        using var model = flow.Model();
        var group = FlowSampler.Explore(model, new FlowGroupSpec(0, FlowGroupSpec.FullSde, 2, 1), new FlowSamplingOptions());
        using var tempflow = new FlowGrpoLearner(model, new FlowGrpoOptions { Objective = FlowObjective.WeightOnly });
        using var grpo = new FlowGrpoLearner(model, new FlowGrpoOptions { Objective = FlowObjective.FlowGrpo });

        var w = Enumerable.Range(0, group.StepsPerMember).Select(j => tempflow.Weight(group, j)).ToArray();
        Assert.Equal(1.0, w.Average(), 6); // normalised over the grid (weights are stored as float)
        Assert.True(w[0] > 9 * w[^1], $"first weight {w[0]}, last {w[^1]}");
        Assert.All(Enumerable.Range(0, group.StepsPerMember), j => Assert.Equal(1.0, grpo.Weight(group, j)));
    }

    [Fact]
    public void The_plan_is_a_function_of_seed_and_step_and_the_schedules_do_what_they_say()
    {
        using var a = Trainer(new FlowGrpoOptions { Seed = 4 });
        using var b = Trainer(new FlowGrpoOptions { Seed = 4 });
        Assert.Equal(a.Plan(17), b.Plan(17));
        Assert.NotEqual(a.Plan(17), a.Plan(18));

        using var cycle = Trainer(new FlowGrpoOptions { BranchSampling = BranchSampling.Cycle, PromptsPerStep = 10 });
        Assert.Equal(Enumerable.Range(0, 10), cycle.Plan(3).Select(s => s.BranchStep).Order());

        using var list = Trainer(new FlowGrpoOptions { BranchSampling = BranchSampling.Uniform, BranchSteps = [1, 3] });
        Assert.All(Enumerable.Range(0, 20).SelectMany(n => list.Plan(n)), s => Assert.Contains(s.BranchStep, new[] { 1, 3 }));

        using var early = Trainer(new FlowGrpoOptions { BranchSampling = BranchSampling.NoiseWeighted });
        var counts = new int[10];
        foreach (var s in Enumerable.Range(0, 200).SelectMany(n => early.Plan(n))) counts[s.BranchStep]++;
        Assert.True(counts[0] > 3 * counts[9], $"branch counts {string.Join(' ', counts)}");

        using var grpo = Trainer(new FlowGrpoOptions { Objective = FlowObjective.FlowGrpo });
        Assert.All(grpo.Plan(0), s => Assert.Equal(FlowGroupSpec.FullSde, s.BranchStep));
        Assert.All(grpo.Plan(0), s => Assert.Equal(8, s.Members));
    }

    [Fact]
    public void A_short_tempflow_run_raises_the_mean_ode_reward_of_the_early_decision_task()
    {
        var options = new FlowGrpoOptions
        {
            Objective = FlowObjective.TempFlow, BranchSampling = BranchSampling.NoiseWeighted,
            PromptsPerStep = 8, GroupSize = 8, LearningRate = 3e-3, Seed = 2,
        };
        using var trainer = Trainer(options);
        double before = trainer.EvaluateOdeReward(perClass: 64, steps: 10).MeanReward;
        for (int i = 0; i < 25; i++) trainer.Step();
        double after = trainer.EvaluateOdeReward(perClass: 64, steps: 10).MeanReward;

        Assert.True(after > before + 0.15, $"mean ODE reward {before:F3} -> {after:F3}");
    }

    [Fact]
    public void Save_then_load_continues_bitwise_identically()
    {
        var options = new FlowGrpoOptions { Objective = FlowObjective.TempFlow, PromptsPerStep = 3, GroupSize = 4, KlCoef = 0.01, LearningRate = 1e-3, Seed = 9 };
        using var a = Trainer(options);
        for (int i = 0; i < 3; i++) a.Step();
        var state = a.SaveState();
        var expected = Enumerable.Range(0, 3).Select(_ => a.Step()).ToList();
        var expectedWeights = a.Policy.SaveWeights();

        using var b = Trainer(options);
        b.LoadState(state);
        Assert.Equal(3, b.StepsDone);
        var actual = Enumerable.Range(0, 3).Select(_ => b.Step()).ToList();

        Assert.Equal(expectedWeights, b.Policy.SaveWeights());
        for (int i = 0; i < 3; i++)
            foreach (var (key, value) in expected[i]) Assert.Equal(value, actual[i][key]);
        Assert.Contains(expected, m => m[FlowMetrics.Kl] > 0);
        Assert.True(expected[^1][FlowMetrics.Nfe] > expected[0][FlowMetrics.Nfe]);
    }

    [Fact]
    public void A_state_of_other_options_or_corrupt_bytes_is_refused()
    {
        using var a = Trainer(new FlowGrpoOptions { PromptsPerStep = 2, GroupSize = 2 });
        a.Step();
        var state = a.SaveState();
        using var other = Trainer(new FlowGrpoOptions { PromptsPerStep = 2, GroupSize = 2, Objective = FlowObjective.BranchOnly });
        var e = Assert.Throws<InvalidDataException>(() => other.LoadState(state));
        Assert.Contains("branch-only", e.Message);
        state[state.Length / 2] ^= 0xFF;
        Assert.ThrowsAny<InvalidDataException>(() => a.LoadState(state));
    }

    [Fact]
    public void Every_objective_trains_and_reports_the_documented_metrics()
    {
        foreach (var objective in Enum.GetValues<FlowObjective>())
        {
            using var t = Trainer(new FlowGrpoOptions { Objective = objective, PromptsPerStep = 2, GroupSize = 3 });
            var m = t.Step();
            foreach (var key in new[] { FlowMetrics.Step, FlowMetrics.RewardMean, FlowMetrics.RewardStd, FlowMetrics.Nfe, FlowMetrics.Loss, FlowMetrics.ClipFrac, FlowMetrics.Kl })
                Assert.True(m.ContainsKey(key), $"{objective} has no {key}");
            Assert.Equal(objective.Branches() ? 2 * 3 : 2 * 3 * 10, m[FlowMetrics.Transitions]);
            Assert.Equal(objective, FlowObjectiveExtensions.ParseObjective(objective.ConfigName()));
        }
        Assert.Throws<ArgumentException>(() => FlowObjectiveExtensions.ParseObjective("grpo"));
    }

    [Fact]
    public void The_evidence_runner_returns_a_reward_curve_against_steps_and_evaluations()
    {
        var options = new FlowGrpoOptions { Objective = FlowObjective.FlowGrpo, PromptsPerStep = 2, GroupSize = 4 };
        var curve = FlowEvidence.RunCurve(TinyFlow.Config, flow.Weights, options, flow.Reward,
            new FlowCurveOptions { Steps = 4, EvalEvery = 2, EvalPerClass = 16, Threshold = 0 });

        Assert.Equal([0L, 2, 4], curve.Points.Select(p => p.Step));
        Assert.Equal(0, curve.Points[0].Nfe);
        Assert.Equal(2L * (2 * 4 * 10) * 2, curve.Points[1].Nfe); // 2 steps × (80 sampling + 80 training evaluations)
        Assert.Equal(0L, curve.StepsToThreshold);
        Assert.Equal(FlowObjective.FlowGrpo, curve.Objective);
        Assert.Empty(curve.Points[0].TrainMetrics);
        Assert.Equal(4, curve.Points[2].TrainMetrics[FlowMetrics.Step]);
    }

    [Fact]
    public void The_learner_does_not_depend_on_the_order_in_which_groups_arrive()
    {
        var options = new FlowGrpoOptions { PromptsPerStep = 4, GroupSize = 3 };
        using var a = Trainer(options);
        using var b = Trainer(options);
        var groups = a.Plan(0).Select(a.ExploreAndScore).ToList();
        var ma = a.TrainOn(groups);
        var mb = b.TrainOn(Enumerable.Reverse(groups).ToList());
        Assert.Equal(ma[FlowMetrics.Loss], mb[FlowMetrics.Loss]);
        Assert.Equal(a.Policy.SaveWeights(), b.Policy.SaveWeights());
    }

    private FlowRlTrainer Trainer(FlowGrpoOptions options) => new(TinyFlow.Config, flow.Weights, options, flow.Reward);
}
