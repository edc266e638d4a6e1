using RlActors.Actors.Protocol;
using RlActors.Policies.Lm;
using RlActors.Policies.Training;
using Xunit.Abstractions;
using static RlActors.Actors.Protocol.SamplerProtocol;
using static RlActors.Actors.Protocol.WorkerProtocol;
using static RlActors.Actors.Protocol.WeightsProtocol;
using RlActors.Actors.Grpo;
using RlActors.Actors.Workers;

namespace RlActors.Actors.Tests;

/// <summary>
/// The sampler without a mediator: a probe plays the experiment and sends tasks directly (the sampler answers the
/// sender); the sampler's own pull requests go to a mediator where no experiment is registered and are lost.
/// </summary>
public sealed class SamplerTests(ITestOutputHelper output) : ClusterTestKit(output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static SampleTask Task(long step, int slot, long version, ulong seed, params long[] problems) =>
        new("exp", step, slot, version, problems, Tiny.Task(), new SamplingSpec(4, 1.0, 0, 16), seed);

    [Fact]
    public void Sampler_returns_the_requested_group_size_tagged_with_its_policy_version()
    {
        using var model = new TransformerLm(Tiny.Model, 11);
        var experiment = CreateTestProbe();
        var sampler = Sys.ActorOf(PullWorkerActor.Props("test/sampler-0", () => new GrpoSampler()), "sampler");
        var task = Task(step: 4, slot: 1, version: 3, seed: 42, 10, 11);

        experiment.Send(sampler, task);
        Assert.Equal(3, experiment.ExpectMsg<GetWeights>(Wait).Version);
        experiment.Reply(Tiny.Weights(3, model));
        var r = experiment.ExpectMsg<SlotRollouts>(Wait);

        Assert.Equal(("exp", 4L, 1, 3L, "test/sampler-0"), (r.Experiment, r.Step, r.Slot, r.PolicyVersion, r.SamplerId));
        Assert.Equal([10L, 11L], r.Groups.Select(g => g.ProblemIndex));
        Assert.Equal(r.Groups.Length, r.Groups.Select(g => g.RolloutId).Distinct().Count());
        var generator = Tiny.Generator(task.Task);
        foreach (var g in r.Groups)
        {
            Assert.Equal(ArithmeticLm.PromptIds(generator.Get(g.ProblemIndex)), g.Prompt);
            Assert.Equal(4, g.Completions.Length);
            Assert.Equal(4, g.LogProbs.Length);
            Assert.Single(g.Completions.Select(c => c.Length).Distinct());
            Assert.All(g.Completions, c => Assert.InRange(c.Length, 1, 16));
            for (int i = 0; i < 4; i++) Assert.Equal(g.Completions[i].Length, g.LogProbs[i].Length);
            Assert.All(g.LogProbs.SelectMany(x => x), lp => Assert.True(lp <= 0 && float.IsFinite(lp), $"log-prob {lp}"));
        }
        Assert.InRange(r.GeneratedTokens, 1, 2 * 4 * 16);
    }

    [Fact]
    public void A_jsonl_task_is_sampled_from_its_train_rows_and_a_file_that_differs_from_the_hosts_is_refused_naming_it()
    {
        string dir = Path.Combine(Path.GetTempPath(), "rlactors-sampler-jsonl-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        try
        {
            string train = Path.Combine(dir, "train.jsonl");
            File.WriteAllText(train, string.Concat(Enumerable.Range(0, 6).Select(i => $"{{\"q\": \"row {i}\", \"a\": \"{i}\"}}\n")));
            var options = new Environments.Tasks.JsonlTaskOptions { Train = train, TestFraction = 0.5, PromptField = "q", AnswerField = "a" };
            var pinned = Environments.Tasks.JsonlTask.Open(options).Pinned;
            var spec = new TaskSpec(TaskSpec.JsonlKind, pinned.ToJson(), 5);
            var runtime = spec.Open();
            using var model = new TransformerLm(Tiny.Model with { VocabSize = runtime.Tokenizer.VocabSize }, 14);
            var experiment = CreateTestProbe();
            var sampler = Sys.ActorOf(PullWorkerActor.Props("test/sampler-0", () => new GrpoSampler()), "sampler");

            experiment.Send(sampler, new SampleTask("exp", 1, 0, 0, [0, 1, 2, 3], spec, new SamplingSpec(2, 1.0, 0, 4), 7));
            experiment.ExpectMsg<GetWeights>(Wait);
            experiment.Reply(Tiny.Weights(0, model));
            var r = experiment.ExpectMsg<SlotRollouts>(Wait);
            // Draws 0..3 of the shuffled train order (3 rows an epoch), each group prompted with its row's text and a newline.
            Assert.Equal(new long[] { 0, 1, 2, 3 }.Select(runtime.RowOfDraw), r.Groups.Select(g => g.ProblemIndex));
            foreach (var g in r.Groups)
                Assert.Equal(runtime.Tokenizer.Encode(runtime.Row(g.ProblemIndex).Prompt + "\n"), g.Prompt);

            var other = new TaskSpec(TaskSpec.JsonlKind, (pinned with { TrainSha256 = new string('0', 64) }).ToJson(), 5);
            experiment.Send(sampler, new SampleTask("exp", 2, 0, 0, [0], other, new SamplingSpec(2, 1.0, 0, 4), 7));
            var refused = experiment.ExpectMsg<CannotSample>(Wait);
            Assert.Equal("exp", refused.Experiment);
            Assert.Contains(train, refused.Reason);
            Assert.Contains("SHA-256", refused.Reason);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void The_same_task_twice_gives_identical_completions_and_the_weights_are_fetched_once()
    {
        using var model = new TransformerLm(Tiny.Model, 12);
        var experiment = CreateTestProbe();
        var sampler = Sys.ActorOf(PullWorkerActor.Props("test/sampler-0", () => new GrpoSampler()), "sampler");
        var task = Task(step: 1, slot: 0, version: 0, seed: 7, 0, 1);

        experiment.Send(sampler, task);
        experiment.ExpectMsg<GetWeights>(Wait);
        experiment.Reply(Tiny.Weights(0, model));
        var first = experiment.ExpectMsg<SlotRollouts>(Wait);
        experiment.Send(sampler, task);
        var second = experiment.ExpectMsg<SlotRollouts>(Wait); // the sampler already holds version 0: no GetWeights
        experiment.Send(sampler, task with { SampleSeed = 8 });
        var otherSeed = experiment.ExpectMsg<SlotRollouts>(Wait);

        for (int i = 0; i < first.Groups.Length; i++)
        {
            Deep.Equal(first.Groups[i].Completions, second.Groups[i].Completions);
            Deep.Equal(first.Groups[i].LogProbs, second.Groups[i].LogProbs);
        }
        Assert.NotEqual(Flat(first), Flat(otherSeed));
    }

    [Fact]
    public void A_task_whose_weights_are_unavailable_is_given_back_and_the_sampler_takes_the_next_one()
    {
        using var model = new TransformerLm(Tiny.Model, 13);
        var experiment = CreateTestProbe();
        var sampler = Sys.ActorOf(PullWorkerActor.Props("test/sampler-0", () => new GrpoSampler()), "sampler");

        experiment.Send(sampler, Task(step: 2, slot: 0, version: 1, seed: 1, 0));
        Assert.Equal(1, experiment.ExpectMsg<GetWeights>(Wait).Version);
        experiment.Reply(new WeightsUnavailable(1, 5));
        // The unit goes back to the experiment at once (it is handed out again, not left until the slot timeout).
        var dropped = experiment.ExpectMsg<WorkDropped>(Wait);
        Assert.Equal((2L, 0, "test/sampler-0"), (dropped.Step, dropped.Unit, dropped.WorkerId));
        Assert.Contains("unavailable", dropped.Reason);
        experiment.Send(sampler, Task(step: 6, slot: 0, version: 5, seed: 1, 0));
        Assert.Equal(5, experiment.ExpectMsg<GetWeights>(Wait).Version);
        experiment.Reply(Tiny.Weights(5, model));
        var r = experiment.ExpectMsg<SlotRollouts>(Wait);
        Assert.Equal((6L, 5L), (r.Step, r.PolicyVersion));
    }

    [Fact]
    public void A_task_that_arrives_while_sampling_is_sampled_after_the_current_one()
    {
        using var model = new TransformerLm(Tiny.Model, 14);
        var experiment = CreateTestProbe();
        var sampler = Sys.ActorOf(PullWorkerActor.Props("test/sampler-0", () => new GrpoSampler()), "sampler");

        experiment.Send(sampler, Task(step: 1, slot: 0, version: 0, seed: 1, 0, 1));
        experiment.ExpectMsg<GetWeights>(Wait);
        experiment.Reply(Tiny.Weights(0, model));
        experiment.Send(sampler, Task(step: 1, slot: 1, version: 0, seed: 2, 2, 3));
        Assert.Equal(0, experiment.ExpectMsg<SlotRollouts>(Wait).Slot);
        Assert.Equal(1, experiment.ExpectMsg<SlotRollouts>(Wait).Slot);
    }

    private static int[] Flat(SlotRollouts r) => r.Groups.SelectMany(g => g.Completions.SelectMany(c => c)).ToArray();
}
