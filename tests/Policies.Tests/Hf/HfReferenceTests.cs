using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using RlActors.Policies.Hf;
using RlActors.Policies.Lm;
using Xunit.Abstractions;
using static RlActors.Policies.Tests.Hf.HfTestModels;
using static TorchSharp.torch;

namespace RlActors.Policies.Tests.Hf;

/// <summary>
/// The C# decoder against an independent PyTorch implementation (tests/Reference/hf_reference.py, float64, its own
/// safetensors reader) on small random models written in the Hugging Face layout. Needs Debian's python3-torch; without
/// it the test fails with the install command.
/// </summary>
public class HfReferenceTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;
    private static readonly int[][] Rows = [[3, 17, 5, 29, 11, 2, 8, 33, 14], [21, 6], [9, 9, 30, 1, 12]];

    /// <summary>A python that imports torch: $RLACTORS_PYTHON, Debian's /usr/bin/python3, or python3 on the PATH.</summary>
    private static string FindPythonWithTorch()
    {
        var candidates = new[] { Environment.GetEnvironmentVariable("RLACTORS_PYTHON"), "/usr/bin/python3", "python3" }
            .Where(c => !string.IsNullOrEmpty(c)).Distinct();
        foreach (var python in candidates)
        {
            try
            {
                var (code, _, _) = Run(python!, ["-c", "import torch"], TimeSpan.FromSeconds(60));
                if (code == 0) return python!;
            }
            catch (System.ComponentModel.Win32Exception) { } // not installed under that name
        }
        throw new InvalidOperationException(
            "no python3 with PyTorch found: install Debian's package with `apt-get install python3-torch` " +
            "(or set RLACTORS_PYTHON to a python that imports torch); .ci/run installs it");
    }

    private static (int Code, string Stdout, string Stderr) Run(string file, IEnumerable<string> args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {timeout.TotalSeconds} s");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Every parameter random (norm weights around 1, biases around 0), so that a misplaced norm or bias shows.</summary>
    private static void Randomise(HfDecoderLm model, ulong seed)
    {
        using var gen = new Generator(seed);
        using var _ = no_grad();
        foreach (var (name, p) in model.named_parameters())
        {
            using var draw = empty(p.shape).normal_(0, 1, gen);
            if (name.EndsWith("norm.weight")) p.copy_(1 + 0.2 * draw);
            else if (name.EndsWith(".bias")) p.copy_(0.3 * draw);
            else p.copy_(0.25 * draw);
        }
    }

    private float[][][] Reference(string python, string modelDir)
    {
        string input = Path.Combine(modelDir, "reference-input.json"), result = Path.Combine(modelDir, "reference-output.json");
        File.WriteAllText(input, JsonSerializer.Serialize(new { rows = Rows }));
        string script = Path.Combine(AppContext.BaseDirectory, "Reference", "hf_reference.py");
        var (code, stdout, stderr) = Run(python, [script, modelDir, input, result], TimeSpan.FromMinutes(3));
        Assert.True(code == 0, $"{python} {script} exited {code}: {stdout}{stderr}");
        var json = JsonNode.Parse(File.ReadAllText(result))!;
        output.WriteLine($"reference: torch {json["torch"]}");
        return json["logits"]!.AsArray().Select(row => row!.AsArray().Select(pos => pos!.AsArray().Select(v => (float)(double)v!).ToArray()).ToArray()).ToArray();
    }

    /// <summary>Largest |C# − reference| over the real positions of a left-padded batch of <see cref="Rows"/>.</summary>
    private static double MaxDifference(HfDecoderLm model, float[][][] reference)
    {
        using var _ = no_grad();
        using var batch = SequenceBatch.Build(Rows, null, 0, model.Device);
        using var logits = model.Forward(batch.Tokens, batch.Positions, batch.KeyValid, null);
        double worst = 0;
        for (int r = 0; r < Rows.Length; r++)
        {
            int offset = batch.PromptLength - Rows[r].Length;
            var mine = logits[r].narrow(0, offset, Rows[r].Length).data<float>().ToArray();
            var theirs = reference[r].SelectMany(x => x).ToArray();
            Assert.Equal(theirs.Length, mine.Length);
            for (int i = 0; i < mine.Length; i++) worst = Math.Max(worst, Math.Abs(mine[i] - theirs[i]));
        }
        return worst;
    }

    public static TheoryData<string> Models => new() { "llama-gqa-llama3-rope-untied", "llama-biases-linear-rope-tied-sharded", "qwen2-tied-bf16-file" };

    [Theory]
    [MemberData(nameof(Models))]
    public void Logits_agree_with_the_independent_pytorch_reference(string name)
    {
        string python = FindPythonWithTorch();
        var (config, fileDtype, shardBytes) = name switch
        {
            "llama-gqa-llama3-rope-untied" => (Llama(), ScalarType.Float32, HfCheckpoint.DefaultMaxShardBytes),
            "llama-biases-linear-rope-tied-sharded" => (Llama(tied: true) with
            {
                AttentionBias = true, MlpBias = true, RopeScaling = new RopeScaling("linear", 2), RopeTheta = 10000,
                NumKeyValueHeads = 4, HeadDim = 16,
            }, ScalarType.Float32, 20_000L),
            _ => (Qwen2(), ScalarType.BFloat16, HfCheckpoint.DefaultMaxShardBytes),
        };
        using var dir = Temp();
        using (var written = new HfDecoderLm(config, initSeed: 31, fileDtype))
        {
            Randomise(written, 77);
            HfCheckpoint.Save(written, dir.Path, shardBytes);
        }
        using var model = HfCheckpoint.Load(dir.Path, ScalarType.Float32);
        var reference = Reference(python, dir.Path);
        double worst = MaxDifference(model, reference);
        double scale = reference.SelectMany(r => r.SelectMany(x => x)).Max(v => Math.Abs(v));
        output.WriteLine($"{name}: max |logit difference| {worst:E2} (largest |logit| {scale:F2}, tolerance {Tolerance:E0})");
        Assert.True(scale > 1, $"logits too small ({scale}) for the comparison to mean anything");
        Assert.InRange(worst, 0, Tolerance);
    }
}
