using System.Diagnostics;
using RlActors.Policies.Algorithms;
using RlActors.Policies.Grpo;
using RlActors.Policies.Hf;
using RlActors.Policies.Lm;
using static TorchSharp.torch;

namespace RlActors.Bench;

/// <summary>
/// The Hugging Face-layout decoder on CPU at two sizes (~25M and ~100M parameters, Llama shape with grouped-query
/// attention and tied embeddings over a 32k vocabulary): KV-cached sampling throughput, a GRPO learner step (the real
/// <see cref="GrpoAlgorithm"/>: a no-grad scoring pass, then forward + backward + Adam over two minibatches) as model-FLOPs
/// utilisation against the measured matmul rate, the resident memory, and the HF-layout checkpoint save and load.
/// </summary>
public static class HfBench
{
    /// <summary>One model size's numbers (seconds, bytes).</summary>
    public sealed record Result(string Name, long Parameters, int SampleRows, int SampleNew, double SampleSeconds,
        int LearnRows, int LearnTokens, double LearnSeconds, double LearnFlops, double MatmulFlops, long RssModel, long PeakRss, long SavedBytes,
        double SaveSeconds, double LoadSeconds);

    /// <summary>The two configurations measured.</summary>
    public static IReadOnlyList<(string Name, HfConfig Config)> Configs { get; } =
    [
        ("hf-25M", Shape(hidden: 512, layers: 6, heads: 8, kvHeads: 2, intermediate: 1408, vocab: 16384)),
        ("hf-100M", Shape(hidden: 768, layers: 12, heads: 12, kvHeads: 4, intermediate: 2048, vocab: 32000)),
    ];

    private static HfConfig Shape(int hidden, int layers, int heads, int kvHeads, int intermediate, int vocab) => new()
    {
        ModelType = "llama", HiddenSize = hidden, NumHiddenLayers = layers, NumAttentionHeads = heads, NumKeyValueHeads = kvHeads,
        IntermediateSize = intermediate, VocabSize = vocab, MaxPositionEmbeddings = 512, TieWordEmbeddings = true,
        RopeTheta = 500000, RmsNormEps = 1e-5, EosTokenIds = [2], BosTokenId = 1,
    };

    private static long Rss() { using var p = Process.GetCurrentProcess(); p.Refresh(); return p.WorkingSet64; }
    private static long PeakRss() { using var p = Process.GetCurrentProcess(); p.Refresh(); return p.PeakWorkingSet64; }

    /// <summary>Measures one configuration; <paramref name="median"/>(body) times a body (warm-up, then the median of repetitions),
    /// <paramref name="matmul"/>() measures the matmul FLOP/s, just before the learner step so that its MFU compares like with
    /// like on a machine whose load changes.</summary>
    public static Result Run(string name, HfConfig config, Func<Action, double> median, Func<double> matmul, TextWriter log)
    {
        var gen = new Generator(5);
        using var model = new HfDecoderLm(config, initSeed: 7);
        long rssModel = Rss();
        long parameters = model.parameters().Sum(p => p.NumberOfElements);
        log.WriteLine($"{name}: {config}, {parameters / 1e6:F1}M parameters, RSS {rssModel / 1e6:F0} MB");

        // Sampling: 16 prompts of 32 tokens, 64 new tokens each, KV cache; end and padding ids are never drawn, so every row runs to the end.
        const int sampleRows = 16, promptLength = 32, sampleNew = 64;
        var prompts = Enumerable.Range(0, sampleRows)
            .Select(r => Enumerable.Range(0, promptLength).Select(j => 3 + (r * 131 + j * 17) % (config.VocabSize - 3)).ToArray()).ToList();
        model.eval();
        var sampling = new SampleOptions { Temperature = 1, MaxNewTokens = sampleNew };
        double sample = median(() => LmSampler.Sample(model, prompts, sampling, gen, eosId: -1, padId: -1));
        log.WriteLine($"  sampling {sampleRows} x {sampleNew}: {sample:F2} s ({sampleRows * sampleNew / sample:F0} tok/s)");

        // GRPO learner step: 2 prompts x 4 completions of 96 tokens after 32-token prompts (kl 0, 1 epoch, 2 minibatches).
        const int groups = 2, groupSize = 4, completion = 96;
        var grpoOptions = new GrpoOptions { PromptsPerStep = groups, GroupSize = groupSize, LearningRate = 1e-5, KlCoef = 0, UpdateEpochs = 1, MiniBatches = 2 };
        using var algorithm = LmAlgorithms.Create("grpo", new LmAlgorithmContext(model, EosId: 2, PadId: 0, Seed: 1), grpoOptions);
        var rng = new Random(3);
        var batch = Enumerable.Range(0, groups).Select(g => new ScoredGroup(
            prompts[g],
            Enumerable.Range(0, groupSize).Select(_ => Enumerable.Range(0, completion).Select(_ => 3 + rng.Next(config.VocabSize - 3)).ToArray()).ToArray(),
            Enumerable.Range(0, groupSize).Select(j => (float)j).ToArray())).ToList();
        double matmulFlops = matmul();
        double learn = median(() => algorithm.Train(batch));
        int rows = groups * groupSize, tokensPerRow = promptLength + completion - 1;
        // Scoring pass (1 forward) + training pass (forward + backward ≈ 3 forwards) per token of every row.
        double flops = 4 * config.ForwardFlopsPerToken(tokensPerRow) * rows * tokensPerRow;
        long peak = PeakRss();
        log.WriteLine($"  GRPO learner step {rows} rows x {tokensPerRow} tokens: {learn:F2} s, peak RSS {peak / 1e6:F0} MB");

        // HF-layout checkpoint: save (config.json + model.safetensors) and load back.
        string dir = Directory.CreateTempSubdirectory("rl-hf-bench-").FullName;
        try
        {
            double save = median(() => HfCheckpoint.Save(model, dir));
            long saved = new FileInfo(Path.Combine(dir, HfCheckpoint.WeightsFile)).Length;
            double load = median(() => HfCheckpoint.Load(dir).Dispose());
            log.WriteLine($"  checkpoint {saved / 1e6:F0} MB: save {save:F2} s, load {load:F2} s");
            return new Result(name, parameters, sampleRows, sampleNew, sample, rows, rows * tokensPerRow, learn, flops, matmulFlops, rssModel, peak, saved, save, load);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
