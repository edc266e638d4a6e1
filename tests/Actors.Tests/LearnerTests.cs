using Akka.Actor;
using RlActors.Actors.Learning;
using RlActors.Environments.Arithmetic;
using RlActors.Policies.Grpo;
using RlActors.Policies.Lm;
using RlActors.Policies.Training;
using Xunit.Abstractions;
using static RlActors.Actors.Protocol.LearnerProtocol;

namespace RlActors.Actors.Tests;

public sealed class LearnerTests(ITestOutputHelper output) : ClusterTestKit(output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

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
        var learner = Sys.ActorOf(LearnerActor.Props(Tiny.Options()), "learner");
        learner.Tell(new Initialize());
        var ready = ExpectMsg<Ready>(Wait);
        Assert.Equal(0, ready.Weights.Version);
        Assert.NotEmpty(ready.Weights.Bytes);
        Assert.Equal((Tiny.Model.DModel, Tiny.Model.Layers, Tiny.Model.Context), (ready.Weights.DModel, ready.Weights.Layers, ready.Weights.Context));
        Assert.True(ready.SftSeconds >= 0);
        using var model = new TransformerLm(Tiny.Model, 0);
        model.LoadWeights(ready.Weights.Bytes); // the advertised shape is the real one
    }

    [Fact]
    public void Each_train_produces_the_next_policy_version_with_new_weights_and_a_loss()
    {
        var learner = Sys.ActorOf(LearnerActor.Props(Tiny.Options()), "learner");
        learner.Tell(new Initialize());
        var v0 = ExpectMsg<Ready>(Wait).Weights;

        learner.Tell(new Train(1, Groups(v0.Bytes, 0)));
        var first = ExpectMsg<Trained>(Wait);
        Assert.Equal((1L, 1L), (first.Step, first.Weights.Version));
        Assert.False(v0.Bytes.AsSpan().SequenceEqual(first.Weights.Bytes), "the update did not change the weights");
        Assert.Contains(GrpoMetrics.Loss, first.Metrics.Keys);
        Assert.True(double.IsFinite(first.Metrics[GrpoMetrics.Loss]));
        Assert.Equal(1.0 / 3, first.Metrics[GrpoMetrics.RewardMean], 6);

        learner.Tell(new Train(2, Groups(first.Weights.Bytes, 3)));
        var second = ExpectMsg<Trained>(Wait);
        Assert.Equal((2L, 2L), (second.Step, second.Weights.Version));
        Assert.False(first.Weights.Bytes.AsSpan().SequenceEqual(second.Weights.Bytes));
    }

    [Fact]
    public void Evaluate_reports_accuracy_on_the_held_out_problems()
    {
        var learner = Sys.ActorOf(LearnerActor.Props(Tiny.Options()), "learner");
        learner.Tell(new Initialize());
        ExpectMsg<Ready>(Wait);
        learner.Tell(new Evaluate("sft", 0));
        var e = ExpectMsg<Evaluated>(Wait);
        Assert.Equal(("sft", 0L, 20), (e.Phase, e.Step, e.Problems));
        Assert.InRange(e.Accuracy, 0, 1);
        Assert.InRange(e.StepAccuracy, 0, 1);
    }

    [Fact]
    public void A_failed_piece_of_work_is_rethrown_to_the_supervisor_as_a_learner_failure()
    {
        var learner = Sys.ActorOf(LearnerActor.Props(Tiny.Options()), "learner");
        // Training before Initialize fails inside the piped task ("learner not initialised").
        EventFilter.Exception<LearnerFailedException>(contains: "not initialised").ExpectOne(Wait, () =>
            learner.Tell(new Train(1, [new ScoredGroup([3], [[1]], [1f])])));
    }
}
