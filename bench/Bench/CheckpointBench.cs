using System.Diagnostics;
using RlActors.Actors.Persistence;
using RlActors.Policies.Checkpoints;
using RlActors.Policies.Lm;
using static TorchSharp.torch;

namespace RlActors.Bench;

/// <summary>
/// Save and load time of a checkpoint of a ~10M-parameter policy with Adam state through the SQLite checkpoint store,
/// the way the runtime does it. Save = snapshot on the torch thread (policy weights and Adam state to bytes, as
/// <c>GrpoTrainer.SaveCheckpoint</c>) + streamed write into the store (<c>TrainingCheckpoint.WriteTo</c> into
/// <c>CheckpointStore.Save</c>: chunked, hashed on the way, one transaction). Load = read + SHA-256 check of the stored
/// blob + decode (its own checksum) + load weights and Adam state into the model. Median of 5 after one warm-up.
/// </summary>
public static class CheckpointBench
{
    /// <summary>Medians in seconds: Save = Snapshot + Write.</summary>
    public sealed record Result(long Parameters, long Bytes, double Snapshot, double Write, double Save, double Load);

    public static Result Run(TextWriter log)
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
        int optimizerSize = 0;
        byte[] SaveOptimizer() // as GrpoLearner.SaveOptimizer
        {
            using var ms = new MemoryStream(optimizerSize);
            using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) adam.save_state_dict(w);
            // save may close the stream: TryGetBuffer still works then. A buffer of exactly the right size is returned as is.
            if (!ms.TryGetBuffer(out var written)) return ms.ToArray();
            optimizerSize = written.Count;
            return written.Offset == 0 && written.Count == written.Array!.Length ? written.Array : written.ToArray();
        }
        string dir = Directory.CreateTempSubdirectory("rl-ckpt-bench-").FullName;
        try
        {
            var location = StoreLocation.Sqlite(Path.Combine(dir, "bench.db"));
            StorePreflight.Check(location, TimeSpan.FromSeconds(5));
            var store = new CheckpointStore(location);
            store.EnsureSchema();
            var (snapshots, writes, saves, loads) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
            long bytes = 0;
            for (int i = 0; i < 6; i++)
            {
                int gen2 = GC.CollectionCount(2);
                var w = Stopwatch.StartNew();
                var checkpoint = new TrainingCheckpoint { Step = i, PolicyVersion = i, PolicyWeights = model.SaveWeights(), OptimizerState = SaveOptimizer() };
                double snapshot = w.Elapsed.TotalSeconds;
                gen2 = GC.CollectionCount(2) - gen2;
                var info = store.Save("bench", $"step-{i}", i, i, checkpoint.WriteTo);
                double written = w.Elapsed.TotalSeconds;
                store.Prune("bench", 3); // as the runtime does after each save (keep-checkpoints = 3)
                double save = w.Elapsed.TotalSeconds;
                bytes = info.Size;
                w.Restart();
                var loaded = store.Load("bench", $"step-{i}")!;
                double read = w.Elapsed.TotalSeconds;
                var back = TrainingCheckpoint.Decode(loaded.Data);
                double decode = w.Elapsed.TotalSeconds;
                model.LoadWeights(back.PolicyWeights);
                using (var r = new BinaryReader(new MemoryStream(back.OptimizerState, writable: false))) adam.load_state_dict(r);
                double load = w.Elapsed.TotalSeconds;
                log.WriteLine($"  save {save * 1e3:F0} ms (snapshot {snapshot * 1e3:F0} with {gen2} full GCs, write {(written - snapshot) * 1e3:F0}, prune {(save - written) * 1e3:F0}); " +
                              $"load {load * 1e3:F0} ms (read+verify {read * 1e3:F0}, decode {(decode - read) * 1e3:F0}, into the model {(load - decode) * 1e3:F0})");
                if (i == 0) continue; // warm-up
                snapshots.Add(snapshot); writes.Add(save - snapshot); saves.Add(save); loads.Add(load);
            }
            long parameters = model.parameters().Sum(p => p.numel());
            log.WriteLine($"  checkpoint of {parameters:N0} parameters + Adam: {bytes / 1e6:F1} MB");
            return new Result(parameters, bytes, Median(snapshots), Median(writes), Median(saves), Median(loads));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static double Median(List<double> xs) => xs.Order().ElementAt(xs.Count / 2);
}
