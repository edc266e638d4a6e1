using Akka.Actor;
using RlActors.Actors.Experiment;
using RlActors.Actors.Grpo;
using RlActors.Actors.Learning;
using RlActors.Actors.Protocol;
using RlActors.Environments.Arithmetic;
using RlActors.Policies.Grpo;
using RlActors.Policies.Lm;
using RlActors.Policies.Training;
using Xunit.Abstractions;
using static RlActors.Actors.Protocol.LearnerProtocol;

namespace RlActors.Actors.Tests;

/// <summary>The one learner actor with a language-model experiment's core (<see cref="GrpoLearnerCore"/>).</summary>
public sealed class LearnerTests(ITestOutputHelper output) : ClusterTestKit(output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private static Props Learner() => LearnerActor.Props(() => new GrpoLearnerCore(Tiny.Options()));

    private static WeightsProtocol.PolicyWeights Policy(IVersionedWeights? w) => Assert.IsType<WeightsProtocol.PolicyWeights>(w);

    /// <summary>Groups of two sampled completions and the reference solution per problem, rewarded 0, 0 and 1.</summary>
    private static List<ScoredGroup> Groups(byte[] weights, long firstProblem)
    {
        using var model = new TransformerLm(Tiny.Model, 0);
        model.LoadWeights(weights);
        model.eval();
        var generator = new ArithmeticGenerator(Tiny.TaskOptions, 99);
        var problems = Enumerable.Range(0, 3).Select(i => generator.Get(firstProblem + i)).ToList();
        var prompts = problems.SelectMany(p => Enumerable.Repeat(ArithmeticLm.PromptIds(p), 2)).ToList();
        using var rng = new TorchSharp.torch.Generator(5);
        var sample = LmSampler.Sample(model, prompts, new SampleOptions { MaxNewTokens = 20 }, rng, CharTokenizer.Eos, CharTokenizer.Pad);
        return problems.Select((p, i) => new ScoredGroup(prompts[2 * i],
            Tiny.PadRows(sample.Completions[2 * i], sample.Completions[2 * i + 1], ArithmeticLm.ReferenceIds(p)), [0f, 0f, 1f])).ToList();
    }

    [Fact]
    public void Initialize_runs_the_warm_up_and_answers_with_version_0_weights()
    {
        var learner = Sys.ActorOf(Learner(), "learner");
        learner.Tell(new Initialize());
        var ready = ExpectMsg<Ready>(Wait);
        var weights = Policy(ready.Weights);
        Assert.Equal(0, weights.Version);
        Assert.NotEmpty(weights.Bytes);
        Assert.Equal(Tiny.ModelSpec, weights.Model);
        Assert.Equal("sft", ready.Setup!.Phase!.Value.Name);
        Assert.True(ready.Setup.Phase.Value.Seconds >= 0);
        using var model = new TransformerLm(Tiny.Model, 0);
        model.LoadWeights(weights.Bytes); // the advertised shape is the real one
    }

    [Fact]
    public void Each_train_produces_the_next_policy_version_with_new_weights_and_a_loss()
    {
        var learner = Sys.ActorOf(Learner(), "learner");
        learner.Tell(new Initialize());
        var v0 = Policy(ExpectMsg<Ready>(Wait).Weights);

        learner.Tell(new Train(1, Groups(v0.Bytes, 0)));
        var first = ExpectMsg<Trained>(Wait);
        var w1 = Policy(first.Weights);
        Assert.Equal((1L, 1L), (first.Step, w1.Version));
        Assert.False(v0.Bytes.AsSpan().SequenceEqual(w1.Bytes), "the update did not change the weights");
        Assert.Contains(GrpoMetrics.Loss, first.Metrics.Keys);
        Assert.True(double.IsFinite(first.Metrics[GrpoMetrics.Loss]));
        Assert.Equal(1.0 / 3, first.Metrics[GrpoMetrics.RewardMean], 6);

        Assert.Null(first.Evaluation); // none asked for
        learner.Tell(new Train(2, Groups(w1.Bytes, 3), EvaluatePhase: "grpo"));
        var second = ExpectMsg<Trained>(Wait);
        var w2 = Policy(second.Weights);
        Assert.Equal((2L, 2L), (second.Step, w2.Version));
        Assert.False(w1.Bytes.AsSpan().SequenceEqual(w2.Bytes));
        Assert.Equal(("grpo", 2L), (second.Evaluation!.Phase, second.Evaluation.Step));
    }

    [Fact]
    public void The_setup_and_the_conclusion_report_accuracy_on_the_held_out_problems()
    {
        var learner = Sys.ActorOf(Learner(), "learner");
        learner.Tell(new Initialize());
        var e = ExpectMsg<Ready>(Wait).Setup!.Evaluation!;
        Assert.Equal(("sft", 0L, 20.0), (e.Phase, e.Step, e.Metrics[LmEvalMetrics.Problems]));
        Assert.InRange(e.Metrics[LmEvalMetrics.Accuracy], 0, 1);
        Assert.InRange(e.Metrics[LmEvalMetrics.StepAccuracy], 0, 1);
        learner.Tell(new Conclude(0));
        var final = ExpectMsg<Concluded>(Wait);
        Assert.Equal(("final", 0L), (final.Evaluation!.Phase, final.Evaluation.Step));
        Assert.NotEmpty(final.Weights);
    }

    [Fact]
    public void A_failed_piece_of_work_is_rethrown_to_the_supervisor_as_a_learner_failure()
    {
        var learner = Sys.ActorOf(Learner(), "learner");
        // Training before Initialize fails inside the piped task ("learner not initialised").
        EventFilter.Exception<LearnerFailedException>(contains: "not initialised").ExpectOne(Wait, () =>
            learner.Tell(new Train(1, new List<ScoredGroup> { new([3], [[1]], [1f]) })));
    }
}
