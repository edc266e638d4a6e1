using RlActors.Environments.Arithmetic;
using RlActors.Policies.Checkpoints;
using RlActors.Policies.Grpo;
using RlActors.Policies.Lm;
using RlActors.Policies.Training;

namespace RlActors.Policies.Tests;

public class CheckpointTests
{
    private static GrpoRunOptions Options(double klCoef) => new()
    {
        Seed = 11,
        Model = new LmConfig { VocabSize = CharTokenizer.Default.VocabSize, DModel = 16, Layers = 1, Heads = 2, Context = 48 },
        Task = new ArithmeticOptions { MinOps = 1, MaxOps = 2 },
        Sft = new SftOptions { Steps = 5, BatchSize = 16 },
        Grpo = new GrpoOptions { PromptsPerStep = 4, GroupSize = 4, MaxNewTokens = 24, KlCoef = klCoef, LearningRate = 1e-3 },
        GrpoSteps = 6,
        EvalProblems = 10,
    };

    // A reward with variance inside groups even for an untrained model, so every update moves the weights.
    private static double LengthReward(ArithmeticProblem p, ParsedResponse r) => r.Length / 20.0;

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.05)]
    public void Resuming_from_a_checkpoint_gives_bitwise_the_same_weights_as_never_stopping(double klCoef)
    {
        var options = Options(klCoef);
        byte[] uninterrupted;
        var losses = new List<double>();
        using (var a = new GrpoTrainer(options, LengthReward))
        {
            a.RunSft();
            for (int i = 0; i < 6; i++) losses.Add(a.GrpoStep()[GrpoMetrics.Loss]);
            uninterrupted = a.Policy.SaveWeights();
        }

        byte[] saved;
        using (var b = new GrpoTrainer(options, LengthReward))
        {
            b.RunSft();
            for (int i = 0; i < 3; i++) b.GrpoStep();
            saved = b.SaveCheckpoint().Encode();
        }
        using var c = new GrpoTrainer(options, LengthReward);
        c.LoadCheckpoint(TrainingCheckpoint.Decode(saved));
        var resumedLosses = new List<double>();
        for (int i = 0; i < 3; i++) resumedLosses.Add(c.GrpoStep()[GrpoMetrics.Loss]);

        Assert.Equal(losses.Skip(3), resumedLosses);
        Assert.Equal(uninterrupted, c.Policy.SaveWeights());
        Assert.NotEqual(saved, c.SaveCheckpoint().Encode());
        Assert.Equal(6, c.GrpoStepsDone);
    }

    [Fact]
    public void A_corrupted_or_truncated_checkpoint_is_refused()
    {
        var cp = new TrainingCheckpoint { Step = 3, PolicyVersion = 3, PolicyWeights = [1, 2, 3], OptimizerState = [4], Parts = new Dictionary<string, byte[]> { ["x"] = [5, 6] } };
        var bytes = cp.Encode();
        var back = TrainingCheckpoint.Decode(bytes);
        Assert.Equal(cp.PolicyWeights, back.PolicyWeights);
        Assert.Equal(cp.Parts["x"], back.Parts["x"]);
        Assert.Equal(cp.WeightsSha256, back.WeightsSha256);

        var flipped = (byte[])bytes.Clone();
        flipped[10] ^= 0x40;
        Assert.Contains("checksum", Assert.Throws<InvalidDataException>(() => TrainingCheckpoint.Decode(flipped)).Message);
        Assert.Throws<InvalidDataException>(() => TrainingCheckpoint.Decode(bytes[..^5]));
        Assert.Throws<InvalidDataException>(() => TrainingCheckpoint.Decode(bytes[..10]));
    }

    [Fact]
    public void Encode_and_WriteTo_write_the_format_1_layout_byte_for_byte()
    {
        var cp = new TrainingCheckpoint
        {
            Step = 7, PolicyVersion = 6, PolicyWeights = [1, 2, 3], OptimizerState = [4, 5], ReferenceWeights = [9],
            Parts = new Dictionary<string, byte[]> { ["zeta"] = [8], ["cursor.ä"] = [] },
        };
        // The layout as documented (and as checkpoints stored by earlier builds have it): magic, version, step, policy
        // version, length-prefixed weights and optimizer state, a flag and the reference weights, the parts sorted by
        // name (ordinal), then the SHA-256 of everything before it.
        var expected = new MemoryStream();
        using (var w = new BinaryWriter(expected, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            w.Write("RLCK"u8.ToArray()); w.Write(1); w.Write(7L); w.Write(6L);
            w.Write(3); w.Write(new byte[] { 1, 2, 3 }); w.Write(2); w.Write(new byte[] { 4, 5 });
            w.Write(true); w.Write(1); w.Write(new byte[] { 9 });
            w.Write(2); w.Write("cursor.ä"); w.Write(0); w.Write("zeta"); w.Write(1); w.Write(new byte[] { 8 });
        }
        byte[] body = expected.ToArray();
        byte[] layout = [.. body, .. System.Security.Cryptography.SHA256.HashData(body)];

        Assert.Equal(layout, cp.Encode());
        Assert.Equal(layout.Length, cp.EncodedLength);
        var streamed = new MemoryStream();
        cp.WriteTo(streamed);
        Assert.Equal(layout, streamed.ToArray());
        var back = TrainingCheckpoint.Decode(layout);
        Assert.Equal((7L, 6L), (back.Step, back.PolicyVersion));
        Assert.Equal([9], back.ReferenceWeights!);
        Assert.Equal(["cursor.ä", "zeta"], back.Parts.Keys.Order(StringComparer.Ordinal));
    }
}
