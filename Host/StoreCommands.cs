using RlActors.Policies.Training;
using System.Globalization;
using System.Text.Json;
using RlActors.Actors.Persistence;
using RlActors.Host.Configuration;
using RlActors.Policies.Ccl;
using RlActors.Policies.Checkpoints;
using RlActors.Policies.Lm;
using RlActors.Host.Kinds;

namespace RlActors.Host;

/// <summary>The <c>list</c> and <c>show</c> commands: read experiments back from the store (journal + checkpoints).</summary>
public static class StoreCommands
{
    /// <summary>The state and events of <paramref name="name"/>; an unknown name is a <see cref="ConfigError"/> listing the known ones.</summary>
    /// <remarks>Read straight from the journal table (<see cref="ExperimentRecords"/>), without an ActorSystem.</remarks>
    public static Task<(ExperimentState State, IReadOnlyList<IExperimentEvent> Events)> Read(CheckpointStore store, string name)
    {
        var events = ExperimentRecords.Events(store.Location, name).Select(e => e.Event).ToList();
        if (events.Count == 0)
        {
            var names = ExperimentRecords.ListNames(store.Location);
            throw new ConfigError($"no experiment '{name}' in {store.Location}; known: {(names.Count == 0 ? "(none)" : string.Join(", ", names))}");
        }
        return Task.FromResult((ExperimentState.From(events), (IReadOnlyList<IExperimentEvent>)events));
    }

    /// <summary>Writes the weights of the latest valid checkpoint of <paramref name="name"/> as safetensors: the GRPO
    /// policy (an hf policy as a Hugging Face model directory), the CCL network (forward and feedback weights, and normalisation statistics if any) or the flow
    /// velocity field.</summary>
    public static async Task<int> Export(string name, string outPath, string? storeValue, TextWriter output)
    {
        var store = StoreSupport.Open(storeValue, existing: true);
        var (state, _) = await Read(store, name);
        string origin = $"{store.Location} experiment {name}";
        // Only the model's shape is needed: the kind parses the recorded text without preparing a run (no data set is loaded).
        var kind = RunnableExperiment.KindOf(state.ConfigText, []) ?? throw new ConfigError($"{origin}: its recorded kind is unknown to this version");
        var latest = store.LoadLatestValid(name, warning => Console.Error.WriteLine($"warning: {warning}"))
            ?? throw new ConfigError($"experiment '{name}' has no valid checkpoint to export (set runtime.checkpoint-every)");
        var checkpoint = TrainingCheckpoint.Decode(latest.Data);
        string what = kind.Export(state.ConfigText, origin, checkpoint, outPath);
        output.WriteLine($"wrote {outPath}: {what} of '{name}' at step {checkpoint.Step} (weights sha256 {checkpoint.WeightsSha256})");
        return 0;
    }

    /// <summary>Prints name, status, step and last update of every experiment in the store.</summary>
    public static Task<int> List(string? storeValue, TextWriter output)
    {
        var location = StoreSupport.Locate(storeValue);
        if (StoreSupport.IsMissing(location))
        {
            output.WriteLine($"no experiments: {location} does not exist yet (a run creates it)");
            return Task.FromResult(0);
        }
        var store = StoreSupport.Open(storeValue);
        var names = ExperimentRecords.ListNames(store.Location);
        if (names.Count == 0) { output.WriteLine("no experiments in this store"); return Task.FromResult(0); }
        output.WriteLine($"{"name",-28} {"status",-9} {"step",11} {"last update (UTC)",-20}");
        foreach (var name in names)
        {
            var s = ExperimentRecords.State(store.Location, name);
            output.WriteLine($"{name,-28} {s.Status,-9} {$"{s.Step}/{s.TotalSteps}",11} {s.LastUpdate?.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "-",-20}");
        }
        return Task.FromResult(0);
    }

    /// <summary>Prints one experiment; with <paramref name="json"/> a JSON object with fixed keys.</summary>
    public static async Task<int> Show(string name, string? storeValue, bool json, TextWriter output)
    {
        var store = StoreSupport.Open(storeValue, existing: true);
        var (s, _) = await Read(store, name);
        var latest = store.LoadLatestValid(name, warning => Console.Error.WriteLine($"warning: {warning}"));
        var checkpoint = latest is null ? null : TrainingCheckpoint.Decode(latest.Data);
        var doc = new Dictionary<string, object?>
        {
            ["name"] = s.Name, ["status"] = s.Status.ToString().ToLowerInvariant(), ["step"] = s.Step, ["total_steps"] = s.TotalSteps,
            ["policy_version"] = s.PolicyVersion, ["weights_sha256"] = checkpoint?.WeightsSha256,
            ["checkpoint"] = latest is null ? null : new Dictionary<string, object> { ["id"] = latest.Info.CheckpointId, ["step"] = latest.Info.Step, ["sha256"] = latest.Info.Sha256, ["size"] = latest.Info.Size },
            ["checkpoints"] = s.Checkpoints.Select(c => new Dictionary<string, object> { ["id"] = c.Id, ["step"] = c.Step }).ToList(),
            ["metrics"] = s.LastMetrics, ["config_sha256"] = s.ConfigSha256, ["seed"] = s.Seed, ["code_version"] = s.CodeVersion,
            ["resumes"] = s.Resumes, ["failure"] = s.Status == ExperimentStatus.Failed ? s.FailureReason : null,
            ["stopped_by"] = s.Status == ExperimentStatus.Stopped ? s.FailureReason : null, ["last_update"] = s.LastUpdate,
        };
        if (json) output.WriteLine(JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
        else foreach (var (k, v) in doc) output.WriteLine($"{k,-16} {(v is string or null ? v ?? "-" : JsonSerializer.Serialize(v))}");
        return 0;
    }
}
