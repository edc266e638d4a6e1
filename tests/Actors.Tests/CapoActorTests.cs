using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using RlActors.Actors.Capo;
using RlActors.Actors.Protocol;
using RlActors.Actors.Rewards;
using RlActors.Environments.Arithmetic;
using RlActors.Policies.Training;
using RlActors.Rewards.Capo;
using Xunit.Abstractions;
using static RlActors.Actors.Protocol.CritiqueProtocol;
using static RlActors.Actors.Protocol.RewardProtocol;

namespace RlActors.Actors.Tests;

/// <summary>CAPO through the actors: a reward worker's capo component asks voter actors through the mediator and votes.</summary>
public sealed class CapoActorTests(ITestOutputHelper output) : ClusterTestKit(output)
{
    private static readonly TaskSpec Task = Tiny.Task(dataSeed: 5);

    /// <summary>The reference solution with the first step's result off by one; the answer line still has the right
    /// answer, so only the steps are wrong (penalised by default: capo.penalize-correct = true).</summary>
    private static int[] WrongFirstStepIds(ArithmeticProblem p)
    {
        var lines = p.ReferenceCompletion.Split('\n');
        int eq = lines[0].IndexOf('=');
        lines[0] = lines[0][..(eq + 1)] + (p.IntermediateResults[0] + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return [.. ArithmeticLm.Tokenizer.Encode(string.Join('\n', lines)), CharTokenizer.Eos];
    }

    private static (RolloutGroup[] Groups, ArithmeticProblem[] Problems) RightAndWrongStep(params long[] indices)
    {
        var generator = Tiny.Generator(Task);
        var problems = indices.Select(generator.Get).ToArray();
        var groups = problems.Select(p =>
        {
            var rows = Tiny.PadRows(ArithmeticLm.ReferenceIds(p), WrongFirstStepIds(p));
            return new RolloutGroup($"exp/1/0/{p.Index}", p.Index, ArithmeticLm.PromptIds(p), rows, rows.Select(r => new float[r.Length]).ToArray());
        }).ToArray();
        return (groups, problems);
    }

    private static RewardSpecDto Capo(int critiques, double deadline, double penalty = 1.0) => new("capo", null, 1.0, deadline + 10,
        new CapoSettings { Critiques = critiques, Penalty = penalty, DeadlineSeconds = deadline, Judge = new JudgeSpec { Type = "oracle" } }.ToJson());

    /// <summary>Waits until a critique sent through the mediator comes back (the voters' registration has propagated).</summary>
    private void AwaitVoters()
    {
        var mediator = DistributedPubSub.Get(Sys).Mediator;
        var p = Tiny.Generator(Task).Get(0);
        var work = new CritiqueWork("warm-up", "warm-up", p.Index, [.. p.Operands], new string([.. p.Operators]), ArithmeticLm.ReferenceIds(p),
            new JudgeSpec().ToJson(), 1, 0);
        AwaitAssert(() => mediator.Ask<CritiqueDone>(new Send(VoterNodeActor.Path, work, localAffinity: false), TimeSpan.FromMilliseconds(500)).Wait(),
            TimeSpan.FromSeconds(15), TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Voted_wrong_steps_become_minus_P_on_exactly_their_tokens_and_the_critiques_are_counted()
    {
        JoinSelfAndAwaitUp();
        Sys.ActorOf(VoterNodeActor.Props(3), "voter");
        AwaitVoters();
        var worker = Sys.ActorOf(RewardWorkerActor.Props(), "reward");
        var (groups, problems) = RightAndWrongStep(0, 1, 2);
        worker.Tell(new ScoreSlot("exp", 1, 0, 0, Task, [Capo(critiques: 3, deadline: 10, penalty: 0.5)], groups));
        var s = ExpectMsg<SlotScored>(TimeSpan.FromSeconds(20));

        Assert.Equal(0, s.Failures);
        Assert.All(s.Rewards, r => Assert.Equal([1f, 1f], r)); // C: both final answers are right
        Assert.NotNull(s.TokenExtras);
        for (int g = 0; g < groups.Length; g++)
        {
            var extras = s.TokenExtras![g]!;
            Assert.All(extras[0], x => Assert.Equal(0f, x)); // the reference solution has no wrong step
            var parsed = StepParser.Parse(groups[g].Completions[1], CharTokenizer.Default);
            var wrong = OracleJudge.WrongSteps(problems[g], parsed);
            Assert.Contains(1, wrong);
            for (int t = 0; t < extras[1].Length; t++)
            {
                bool inWrongStep = parsed.Steps.Any(st => wrong.Contains(st.Number) && t >= st.TokenStart && t < st.TokenEnd);
                Assert.True(inWrongStep ? extras[1][t] == -0.5f : extras[1][t] == 0f, $"group {g} token {t}: {extras[1][t]}");
            }
        }
        Assert.NotNull(s.Counters);
        Assert.Equal(3 * 2 * 3, s.Counters![CapoMetrics.Requested]);
        Assert.Equal(3 * 2 * 3, s.Counters[CapoMetrics.Valid]);
        Assert.Equal(0, s.Counters[CapoMetrics.TimedOut]);
        Assert.Equal(0, s.Counters[CapoMetrics.Fallbacks]);
        var metrics = RlActors.Rewards.RewardCounters.ToMetrics(s.Counters);
        Assert.Equal(1.0, metrics[CapoMetrics.PrmF1]); // the oracle agrees with itself
        Assert.Equal(1.0, metrics[CapoMetrics.VoteAgreement]);
    }

    [Fact]
    public void Without_voters_the_vote_times_out_at_its_deadline_and_responses_fall_back_to_the_outcome_reward()
    {
        JoinSelfAndAwaitUp();
        var worker = Sys.ActorOf(RewardWorkerActor.Props(), "reward");
        var (groups, _) = RightAndWrongStep(0, 1);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        worker.Tell(new ScoreSlot("exp", 1, 0, 0, Task, [Capo(critiques: 2, deadline: 0.5)], groups));
        var s = ExpectMsg<SlotScored>(TimeSpan.FromSeconds(15));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(12), "the vote waited for its deadline, not for the component timeout");

        Assert.Equal(0, s.Failures); // the component worked; its critiques did not come
        Assert.All(s.Rewards, r => Assert.Equal([1f, 1f], r));
        Assert.All(s.TokenExtras ?? [], g => Assert.All(g!, row => Assert.All(row, x => Assert.Equal(0f, x)))); // no step penalties
        Assert.Equal(2 * 2 * 2, s.Counters![CapoMetrics.TimedOut]);
        Assert.Equal(0, s.Counters[CapoMetrics.Valid]);
        Assert.Equal(2 * 2, s.Counters[CapoMetrics.Fallbacks]);
    }
}
