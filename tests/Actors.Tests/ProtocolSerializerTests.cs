using System.Runtime.Serialization;
using Akka.Actor;
using RlActors.Actors.Protocol;
using RlActors.Actors.Runtime;
using RlActors.Actors.Serialization;
using RlActors.Policies.Flow;
using static RlActors.Actors.Flow.FlowProtocol;
using static RlActors.Actors.Protocol.WorkerProtocol;
using Xunit.Abstractions;
using static RlActors.Actors.Protocol.CritiqueProtocol;
using static RlActors.Actors.Protocol.RewardProtocol;
using static RlActors.Actors.Protocol.SamplerProtocol;
using static RlActors.Actors.Protocol.WeightsProtocol;

namespace RlActors.Actors.Tests;

public sealed class ProtocolSerializerTests(ITestOutputHelper output) : ClusterTestKit(output)
{
    private static readonly TaskSpec Task = TaskSpec.Arithmetic(new() { MinOps = 1, MaxOps = 3, OperandDigits = 2, Operators = "+-*" }, 0xFEDC_BA98_7654_3210UL);
    private static readonly TaskSpec JsonlTask = new(TaskSpec.JsonlKind, new Environments.Tasks.JsonlTaskOptions { Train = "data/train.jsonl", TestFraction = 0.1, Verifier = "gsm8k", TrainSha256 = "ab12" }.ToJson(), 42);

    private static RolloutGroup Group(string id, long problem, int g) => new(id, problem, [3, 4, 5, 6],
        Enumerable.Range(0, g).Select(i => new[] { 7 + i, 8, 1, 0 }).ToArray(),
        Enumerable.Range(0, g).Select(i => new[] { -0.5f * i, float.NegativeInfinity, -0f, float.NaN }).ToArray());

    /// <summary>One sample of every message that crosses a node boundary, keyed by its expected manifest.</summary>
    private static readonly Dictionary<string, IRlMessage> Samples = new()
    {
        ["wk.request"] = new RequestWork("10.0.0.7:4053/sampler-1 ✓", "sample"),
        ["lm.task"] = new SampleTask("exp-α", 12, 3, 11, [0, 5, long.MaxValue], Task, new SamplingSpec(8, 0.7, 5, 48), ulong.MaxValue - 1),
        ["lm.rollouts"] = new SlotRollouts("exp", 12, 3, 11, "host:1/sampler-0", [Group("exp/12/3/0", 0, 3), Group("exp/12/3/5", 5, 3)], 1234, 0.25),
        ["wk.done"] = new NoMoreWork("exp"),
        ["wk.dropped"] = new WorkDropped("exp", 12, 3, "host:1/sampler-0", "weights v11 could not be fetched: stalled 5 s"),
        ["lm.cannot"] = new CannotSample("exp", "sampler host:1/sampler-0: data/train.jsonl: no such file"),
        ["wk.weights-get"] = new GetWeights(42),
        ["lm.weights"] = new PolicyWeights(42, Tiny.ModelSpec, [1, 2, 3, 0, 255]),
        ["wk.weights-unavailable"] = new WeightsUnavailable(3, 9),
        ["lm.score"] = new ScoreSlot("exp", 12, 3, 11, JsonlTask,
            [new RewardSpecDto("outcome", null, 1.0, 10), new RewardSpecDto("MyLab.Rewards.LengthPenalty, MyLab.Rewards", "/plugins/MyLab.Rewards.dll", -0.1, 0.5),
             new RewardSpecDto("capo", null, 1.0, 60, "{\"critiques\":4,\"judge\":{\"type\":\"noisy-oracle\"}}")],
            [Group("exp/12/3/0", 0, 2)]),
        ["lm.scored"] = new SlotScored("exp", 12, 3, [[1f, 0f, -0.25f], [float.Epsilon, 2f, 0f]], [1, 0], 2, ["throwing", "hanging"],
            [null, [[0f, -1f, -1f, 0f], [-0.5f, 0f, 0f, 0f], [0f, 0f, 0f, 0f]]],
            new Dictionary<string, double> { ["critiques_valid"] = 7, ["_capo_prm_tp"] = 3.5 }),
        ["c.work"] = new CritiqueWork("exp/12/3/0/2#1/17", "exp/12/3/0/2", 99, [7, 5, 3], "+-", [12, 13, 1, 0, 0], "{\"type\":\"oracle\"}", 1, 3),
        ["c.done"] = new CritiqueDone("exp/12/3/0/2#1/17", [new CritiqueDto(0, [1, 3], null), new CritiqueDto(2, [], "no critique within 30 s")]),
        ["lm.score-failed"] = new ScoringFailed("exp", "reward 'X' cannot be loaded on akka.tcp://rlactors@127.0.0.1:1"),
        ["fx.task"] = new ExploreTask("flow-α", 7, 2, 6, [new FlowGroupSpec(3, 4, 6, ulong.MaxValue, 41), new FlowGroupSpec(0, FlowGroupSpec.FullSde, 6, 9, 42)],
            new FlowSamplingOptions { Steps = 12, NoiseLevel = 0.65, LogProb = LogProbReduction.Mean }, "{\"Kind\":2}", "ab12"),
        ["fx.groups"] = new ExploredGroups("flow", 7, 2, 6, "host:1/explorer-3", [FlowGroup(41, 2), FlowGroup(42, 3)], 0.125),
        ["fx.weights"] = new FlowWeights(6, new FlowModelSpec { Architecture = FlowArchitecture.Conv, Dim = 196, Classes = 10, Width = 8, Layers = 1, Side = 14 }, [0, 1, 255]),
        ["fx.reward-get"] = new GetRewardModel("00ff"),
        ["fx.reward-model"] = new RewardModel("00ff", [9, 8, 7]),
    };

    /// <summary>A scored flow group of <paramref name="members"/> siblings branching at step 4 of 10 (D = 2).</summary>
    private static FlowRolloutGroup FlowGroup(long id, int members) => new(1, 4, 10, 0.7, 2, members, [4], [0.6f], [-0.1f], [0.3f],
        Enumerable.Range(0, members * 2).Select(i => 0.5f * i).ToArray(), Enumerable.Range(0, members * 2).Select(i => -0.25f * i).ToArray(),
        Enumerable.Range(0, members).Select(i => -1f - i).ToArray(), Enumerable.Range(0, members * 2).Select(i => float.Epsilon * i).ToArray(),
        Enumerable.Range(0, members).Select(i => i == 0 ? float.NaN : 0.5f).ToArray(), 77UL + (ulong)id, id, 6, 40 + id);

    private ProtocolSerializer Serializer => new((ExtendedActorSystem)Sys);

    public static TheoryData<string> Manifests => new(Samples.Keys);

    [Theory]
    [MemberData(nameof(Manifests))]
    public void Every_protocol_message_round_trips_with_equal_content(string manifest)
    {
        var message = Samples[manifest];
        var serializer = Serializer;
        byte[] bytes = serializer.ToBinary(message);
        var back = serializer.FromBinary(bytes, serializer.Manifest(message));
        Deep.Equal(message, back);
    }

    [Fact]
    public void Every_message_type_marked_IRlMessage_has_a_sample_here_and_a_fixed_manifest()
    {
        var types = typeof(IRlMessage).Assembly.GetTypes()
            .Where(t => typeof(IRlMessage).IsAssignableFrom(t) && t is { IsInterface: false, IsAbstract: false }).ToHashSet();
        Assert.Equal(types.OrderBy(t => t.FullName), Samples.Values.Select(m => m.GetType()).OrderBy(t => t.FullName));
        var serializer = Serializer;
        foreach (var (manifest, message) in Samples)
        {
            Assert.Equal(manifest, serializer.Manifest(message));
            Assert.DoesNotContain(message.GetType().Name, manifest, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public void The_node_config_binds_every_protocol_message_to_the_protocol_serializer()
    {
        foreach (var message in Samples.Values)
        {
            var serializer = Sys.Serialization.FindSerializerFor(message);
            Assert.IsType<ProtocolSerializer>(serializer);
            Assert.Equal(ProtocolSerializer.Id, serializer.Identifier);
            byte[] bytes = serializer.ToBinary(message);
            var back = Sys.Serialization.Deserialize(bytes, serializer.Identifier, ((Akka.Serialization.SerializerWithStringManifest)serializer).Manifest(message));
            Deep.Equal(message, back);
        }
        Assert.Equal(ClusterNode.MaximumFrameSize, Sys.Settings.Config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size"));
    }

    [Fact]
    public void Every_codec_owns_one_manifest_prefix_and_only_manifests_with_it()
    {
        var prefixes = ProtocolSerializer.Codecs.Select(c => c.Prefix).ToList();
        Assert.Equal(prefixes.Count, prefixes.Distinct().Count());
        foreach (var codec in ProtocolSerializer.Codecs)
            foreach (var manifest in codec.Manifests.Values)
                Assert.StartsWith(codec.Prefix + ".", manifest);
        // A manifest of a known prefix that its codec does not have is refused like any unknown one.
        byte[] bytes = Serializer.ToBinary(new GetWeights(1));
        Assert.Contains("lm.nope", Assert.Throws<SerializationException>(() => Serializer.FromBinary(bytes, "lm.nope")).Message);
    }

    [Fact]
    public void An_unknown_manifest_throws_a_serialization_error_naming_it()
    {
        var serializer = Serializer;
        byte[] bytes = serializer.ToBinary(new GetWeights(1));
        var e = Assert.Throws<SerializationException>(() => serializer.FromBinary(bytes, "w.nope"));
        Assert.Contains("w.nope", e.Message);
    }

    [Fact]
    public void A_payload_of_another_format_version_is_refused()
    {
        var serializer = Serializer;
        byte[] bytes = serializer.ToBinary(new GetWeights(1));
        bytes[0] = 99;
        var e = Assert.Throws<SerializationException>(() => serializer.FromBinary(bytes, "wk.weights-get"));
        Assert.Contains("99", e.Message);
    }

    [Fact]
    public void A_message_outside_the_protocol_has_no_manifest()
    {
        Assert.Throws<ArgumentException>(() => Serializer.Manifest("not a protocol message"));
        Assert.Throws<ArgumentException>(() => Serializer.ToBinary(new Identify(1)));
    }

    [Fact]
    public void One_megabyte_of_weights_round_trips_within_one_percent_of_its_raw_size()
    {
        var raw = new byte[1 << 20];
        new Random(5).NextBytes(raw);
        var weights = new PolicyWeights(7, Tiny.ModelSpec, raw);
        var serializer = Serializer;
        byte[] bytes = serializer.ToBinary(weights);
        Assert.InRange(bytes.Length, raw.Length, (int)(raw.Length * 1.01));
        var back = Assert.IsType<PolicyWeights>(serializer.FromBinary(bytes, serializer.Manifest(weights)));
        Assert.Equal(7, back.Version);
        Assert.True(raw.AsSpan().SequenceEqual(back.Bytes), "weight bytes differ after the round trip");
        Assert.True(bytes.Length < ClusterNode.MaximumFrameSize);
    }

    [Fact]
    public void Token_ids_and_log_probs_cost_four_bytes_each_on_the_wire()
    {
        // 64 completions of 48 tokens: 3072 ids and 3072 log-probs = 24 KiB of payload; JSON would be several times that.
        var group = new RolloutGroup("e/1/0/0", 0, new int[12],
            Enumerable.Range(0, 64).Select(_ => new int[48]).ToArray(), Enumerable.Range(0, 64).Select(_ => new float[48]).ToArray());
        var rollouts = new SlotRollouts("e", 1, 0, 0, "s", [group], 0, 0);
        int payload = (12 + 2 * 64 * 48) * 4;
        Assert.InRange(Serializer.ToBinary(rollouts).Length, payload, payload + 1024);
    }
}
