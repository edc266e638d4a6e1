using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using RlActors.Actors.Persistence;
using Xunit.Abstractions;
using static RlActors.Journal.Tests.Samples;

namespace RlActors.Journal.Tests;

public sealed class SerializerTests(ITestOutputHelper output)
    : Akka.TestKit.Xunit2.TestKit(ConfigurationFactory.ParseString(ExperimentEventSerializer.Hocon + "akka.loglevel = WARNING"), "serializer", output)
{
    /// <summary>Every event type, the snapshot and the actor's messages, by expected manifest.</summary>
    public static readonly Dictionary<string, object> Samples = new()
    {
        ["exp.started.v1"] = Started(),
        ["exp.step.v1"] = Step(3),
        ["exp.evaluation.v1"] = Evaluation("final", 10),
        ["exp.checkpoint.v1"] = Checkpoint(4),
        ["exp.checkpoint-pruned.v1"] = new CheckpointPruned("step-00000100", At(4)),
        ["exp.total-steps.v1"] = new TotalStepsChanged(long.MaxValue, At(5)),
        ["exp.finished.v1"] = new ExperimentFinished(At(6)),
        ["exp.failed.v1"] = new ExperimentFailed("learner: \"NaN\" loss ✗", At(7)),
        ["exp.resumed.v1"] = new ExperimentResumed(2, "node-b:4242", new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Unspecified)),
        ["exp.stopped.v1"] = new ExperimentStopped(9, "SIGTERM", At(8)),
        ["exp.state.v1"] = ExperimentState.From(OneOfEach()).Apply(new ExperimentFailed("after the end", At(99))),
        ["exp.cmd.record.v1"] = new ExperimentJournal.Record(Step(7)),
        ["exp.cmd.recorded.v1"] = new ExperimentJournal.Recorded(12, false),
        ["exp.cmd.get-state.v1"] = ExperimentJournal.GetState.Instance,
    };

    public static TheoryData<string> Manifests => new(Samples.Keys);

    /// <summary>
    /// The stored bytes of small events, fixed forever: these manifests' layouts may never change (a new layout gets a
    /// new manifest). If one of these fails, a stored journal would no longer read.
    /// </summary>
    private static readonly Dictionary<string, (string Hex, object Expected)> Golden = new()
    {
        ["exp.step.v1"] = ("03000000000000000400000000000000020000000161000000000000D03F0162000000000000F8BF0020E820474DDF48", new StepCompleted(3, 4, new Dictionary<string, double> { ["b"] = -1.5, ["a"] = 0.25 }, new DateTime(2026, 11, 28, 12, 0, 0, DateTimeKind.Utc))),
        ["exp.evaluation.v1"] = ("03736674000000000000000001000000086163637572616379000000000000E03F806A4526474DDF48", new EvaluationRecorded("sft", 0, new Dictionary<string, double> { ["accuracy"] = 0.5 }, new DateTime(2026, 11, 28, 12, 0, 9, DateTimeKind.Utc))),
        ["exp.checkpoint.v1"] = ("020000000000000002636B026162000400000000000080B68021474DDF48", new CheckpointSaved(2, "ck", "ab", 1024, new DateTime(2026, 11, 28, 12, 0, 1, DateTimeKind.Utc))),
        ["exp.total-steps.v1"] = ("1E00000000000000004D1922474DDF48", new TotalStepsChanged(30, new DateTime(2026, 11, 28, 12, 0, 2, DateTimeKind.Utc))),
        ["exp.finished.v1"] = ("80E3B122474DDF48", new ExperimentFinished(new DateTime(2026, 11, 28, 12, 0, 3, DateTimeKind.Utc))),
        ["exp.failed.v1"] = ("0178007A4A23474DDF48", new ExperimentFailed("x", new DateTime(2026, 11, 28, 12, 0, 4, DateTimeKind.Utc))),
        ["exp.resumed.v1"] = ("020000000000000001688010E323474DDF48", new ExperimentResumed(2, "h", new DateTime(2026, 11, 28, 12, 0, 5, DateTimeKind.Utc))),
        ["exp.checkpoint-pruned.v1"] = ("02636800D4AC25474DDF48", new CheckpointPruned("ch", new DateTime(2026, 11, 28, 12, 0, 8, DateTimeKind.Utc))),
        ["exp.stopped.v1"] = ("0700000000000000075349475445524D803D1425474DDF48", new ExperimentStopped(7, "SIGTERM", new DateTime(2026, 11, 28, 12, 0, 7, DateTimeKind.Utc))),
        ["exp.started.v1"] = ("016E01630173070000000000000001760A0000000000000000A77B24474DDF48", new ExperimentStarted("n", "c", "s", 7, "v", 10, new DateTime(2026, 11, 28, 12, 0, 6, DateTimeKind.Utc))),
    };

    public static TheoryData<string> GoldenManifests => new(Golden.Keys);

    [Theory, MemberData(nameof(Manifests))]
    public void Every_message_round_trips_through_akka_serialization_under_its_fixed_manifest(string manifest)
    {
        var sample = Samples[manifest];
        var serializer = Sys.Serialization.FindSerializerFor(sample);
        Assert.IsType<ExperimentEventSerializer>(serializer);
        Assert.Equal(ExperimentEventSerializer.Id, serializer.Identifier);
        Assert.Equal(manifest, Akka.Serialization.Serialization.ManifestFor(serializer, sample));

        byte[] bytes = serializer.ToBinary(sample);
        var back = Sys.Serialization.Deserialize(bytes, ExperimentEventSerializer.Id, manifest);
        Assert.Equal(sample, back);
        Assert.Equal(sample.GetType(), back.GetType());
        Assert.Equal(bytes, serializer.ToBinary(back)); // deterministic
    }

    [Fact]
    public void Times_keep_their_ticks_and_kind()
    {
        var s = Serializer;
        var local = new ExperimentFinished(new DateTime(2026, 3, 4, 5, 6, 7, DateTimeKind.Local).AddTicks(1));
        foreach (var e in new IExperimentEvent[] { new ExperimentFinished(At(1)), new ExperimentFinished(DateTime.MinValue), local })
        {
            var back = (IExperimentEvent)s.FromBinary(s.ToBinary(e), s.Manifest(e));
            Assert.Equal(e.At, back.At);
            Assert.Equal(e.At.Kind, back.At.Kind);
        }
    }

    [Fact]
    public void Manifests_are_fixed_strings_not_type_names_and_cover_every_event_type()
    {
        var eventTypes = typeof(IExperimentEvent).Assembly.GetTypes().Where(t => t.IsClass && typeof(IExperimentEvent).IsAssignableFrom(t)).ToList();
        Assert.Equal(10, eventTypes.Count);
        foreach (var t in eventTypes) Assert.True(ExperimentEventSerializer.Manifests.ContainsKey(t), $"{t.Name} has no manifest");
        foreach (var (type, manifest) in ExperimentEventSerializer.Manifests)
        {
            Assert.StartsWith("exp.", manifest);
            Assert.EndsWith(".v1", manifest);
            Assert.DoesNotContain(type.Name, manifest); // case-sensitive: "exp.cmd.record.v1" is not the type name "Record"
            Assert.DoesNotContain(type.FullName!, manifest);
            Assert.DoesNotContain("RlActors", manifest);
            Assert.Null(Type.GetType(manifest));
        }
        Assert.Equal(ExperimentEventSerializer.Manifests.Count, ExperimentEventSerializer.Manifests.Values.Distinct().Count());
        Assert.Equal(Samples.Keys.Order(), ExperimentEventSerializer.Manifests.Values.Order());
    }

    [Theory, MemberData(nameof(Manifests))]
    public void Payloads_hold_no_type_names(string manifest)
    {
        string text = Encoding.UTF8.GetString(Serializer.ToBinary(Samples[manifest]));
        Assert.DoesNotContain("RlActors", text);
        foreach (var type in ExperimentEventSerializer.Manifests.Keys) Assert.DoesNotContain(type.Name, text);
    }

    [Theory, MemberData(nameof(GoldenManifests))]
    public void Stored_bytes_of_each_manifest_still_read(string manifest)
    {
        var (hex, expected) = Golden[manifest];
        string actual = Convert.ToHexString(Serializer.ToBinary(expected));
        Output?.WriteLine($"{manifest}: {actual}");
        Assert.Equal(expected, Serializer.FromBinary(Convert.FromHexString(hex), manifest));
        Assert.Equal(hex, actual);
    }

    [Fact]
    public void Unknown_manifests_truncated_and_padded_payloads_are_clear_errors()
    {
        var s = Serializer;
        var e1 = Assert.Throws<SerializationException>(() => s.FromBinary([], "exp.step.v9"));
        Assert.Contains("exp.step.v9", e1.Message);
        byte[] good = s.ToBinary(Step(1));
        var e2 = Assert.Throws<SerializationException>(() => s.FromBinary(good[..^3], "exp.step.v1"));
        Assert.Contains("truncated", e2.Message);
        var e3 = Assert.Throws<SerializationException>(() => s.FromBinary([.. good, 0], "exp.step.v1"));
        Assert.Contains("trailing", e3.Message);
        Assert.Throws<ArgumentException>(() => s.ToBinary("not an event"));
    }

    [Fact]
    public void Hocon_binds_the_interface_so_new_event_records_need_a_manifest_not_a_binding()
    {
        Assert.Contains("RlActors.Actors.Persistence.IExperimentEvent, RlActors.Actors", ExperimentEventSerializer.Hocon);
        Assert.Contains($"= {ExperimentEventSerializer.Id}", ExperimentEventSerializer.Hocon);
    }

    private ExperimentEventSerializer Serializer => new((ExtendedActorSystem)Sys);
}
