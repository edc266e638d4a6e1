using System.Diagnostics;
using RlActors.Actors.Persistence;
using RlActors.Policies.Checkpoints;
using RlActors.Policies.Lm;
using static TorchSharp.torch;

namespace RlActors.Bench;

/// <summary>
/// Save and load time of a checkpoint of a ~10M-parameter policy with Adam state, through the SQLite checkpoint
/// store (encode + chunked transactional write; read + SHA-256 verify + decode + load into a model). Median of 5.
/// </summary>
public static class CheckpointBench
{
    public static (long Parameters, long Bytes, double SaveSeconds, double LoadSeconds) Run(TextWriter log)
    {
        var config = new LmConfig { VocabSize = 23, DModel = 512, Layers = 3, Heads = 8, Context = 64 };
        using var model = new TransformerLm(config, 1);
        var adam = optim.Adam(model.parameters(), 1e-4);
        using (var scope = NewDisposeScope())
        {
            var tokens = randint(0, 23, new long[] { 4, 33 }, generator: new Generator(1));
            var logits = model.call(tokens.narrow(1, 0, 32));
            nn.functional.cross_entropy(logits.reshape(-1, 23), tokens.narrow(1, 1, 32).reshape(-1)).backward();
            adam.step();
        }
        byte[] optimizerState;
        using (var ms = new MemoryStream())
        {
            using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) adam.save_state_dict(w);
            optimizerState = ms.ToArray();
        }
        string dir = Directory.CreateTempSubdirectory("rl-ckpt-bench-").FullName;
        try
        {
            var location = StoreLocation.Sqlite(Path.Combine(dir, "bench.db"));
            StorePreflight.Check(location, TimeSpan.FromSeconds(5));
            var store = new CheckpointStore(location);
            store.EnsureSchema();
            var saves = new List<double>();
            var loads = new List<double>();
            long bytes = 0;
            for (int i = 0; i < 6; i++)
            {
                var w = Stopwatch.StartNew();
                var blob = new TrainingCheckpoint { Step = i, PolicyVersion = i, PolicyWeights = model.SaveWeights(), OptimizerState = optimizerState }.Encode();
                store.Save("bench", $"step-{i}", i, i, blob);
                double save = w.Elapsed.TotalSeconds;
                bytes = blob.Length;
                w.Restart();
                var loaded = store.Load("bench", $"step-{i}")!;
                var checkpoint = TrainingCheckpoint.Decode(loaded.Data);
                model.LoadWeights(checkpoint.PolicyWeights);
                double load = w.Elapsed.TotalSeconds;
                if (i > 0) { saves.Add(save); loads.Add(load); } // the first is warm-up
            }
            long parameters = model.parameters().Sum(p => p.numel());
            log.WriteLine($"  checkpoint of {parameters:N0} parameters + Adam: {bytes / 1e6:F1} MB");
            return (parameters, bytes, saves.Order().ElementAt(saves.Count / 2), loads.Order().ElementAt(loads.Count / 2));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
