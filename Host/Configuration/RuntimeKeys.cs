using RlActors.Actors.Experiment;
using static RlActors.Host.Configuration.ConfigReader;

namespace RlActors.Host.Configuration;

/// <summary>How a kind with workers names its unit of work in <c>runtime.*</c> (the keys keep the words its users know).</summary>
/// <param name="UnitKey">Key of <see cref="RuntimeOptions.UnitSize"/>, e.g. "prompts-per-slot".</param>
/// <param name="UnitDoc">Its meaning.</param>
/// <param name="TimeoutKey">Key of <see cref="RuntimeOptions.UnitTimeout"/>, e.g. "slot-timeout".</param>
/// <param name="TimeoutDoc">Its meaning.</param>
/// <param name="WorkersKey">Key of <see cref="RuntimeOptions.WorkersPerNode"/>, e.g. "samplers-per-node".</param>
/// <param name="WorkersDoc">Its meaning.</param>
/// <param name="FollowUpKey">Key of <see cref="RuntimeOptions.FollowUpTimeout"/> for a kind whose units have a follow-up (GRPO's
/// "score-timeout"), or null.</param>
/// <param name="FollowUpDoc">Its meaning.</param>
/// <param name="Asynchronous">Whether the kind may run ahead of the learner (runtime.max-staleness).</param>
public sealed record WorkKeys(string UnitKey, string UnitDoc, string TimeoutKey, string TimeoutDoc, string WorkersKey, string WorkersDoc,
    string? FollowUpKey = null, string? FollowUpDoc = null, bool Asynchronous = false);

/// <summary>
/// The <c>runtime.*</c> keys, parsed in this one place into <see cref="RuntimeOptions"/> for every kind. Every kind counts
/// <c>runtime.checkpoint-every</c> in steps (its own steps: RL steps, SGD steps) and keeps <c>runtime.keep-checkpoints</c>; a kind
/// with workers adds the keys of its unit of work (<see cref="WorkKeys"/>).
/// </summary>
public static class RuntimeKeys
{
    /// <summary>The keys of a kind whose record keeps its <see cref="RuntimeOptions"/> where <paramref name="get"/> and
    /// <paramref name="set"/> reach it; <paramref name="work"/> is null for a learner-only kind.</summary>
    public static IEnumerable<ConfigKey<T>> For<T>(Func<T, RuntimeOptions> get, Func<T, RuntimeOptions, T> set, WorkKeys? work)
    {
        ConfigKey<T> Key(string name, string doc, Func<RuntimeOptions, Akka.Configuration.Hocon.HoconValue, string, RuntimeOptions> f) =>
            new($"runtime.{name}", doc, (e, v, k) => set(e, f(get(e), v, k)));

        yield return Key("checkpoint-every", "save the learner's full state every N steps, and always after the last step and on a stop (0: only then)",
            (r, v, k) => r with { CheckpointEvery = Int(v, k, 0) });
        yield return Key("keep-checkpoints", "checkpoints kept in the store (older ones are pruned)", (r, v, k) => r with { KeepCheckpoints = Int(v, k, 1) });
        if (work is null) yield break;
        if (work.Asynchronous)
            yield return Key("max-staleness", "0: synchronous on-policy; n > 0: workers may run n policy versions ahead, older results are dropped",
                (r, v, k) => r with { MaxStaleness = Int(v, k, 0) });
        yield return Key(work.UnitKey, work.UnitDoc, (r, v, k) => r with { UnitSize = Int(v, k, 0) });
        yield return Key(work.TimeoutKey, work.TimeoutDoc, (r, v, k) => r with { UnitTimeout = TimeSpan.FromSeconds(Pos(v, k)) });
        if (work.FollowUpKey is { } followUp)
            yield return Key(followUp, work.FollowUpDoc!, (r, v, k) => r with { FollowUpTimeout = TimeSpan.FromSeconds(Pos(v, k)) });
        yield return Key(work.WorkersKey, work.WorkersDoc, (r, v, k) => r with { WorkersPerNode = Int(v, k, 1) });
    }
}
