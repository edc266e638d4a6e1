namespace RlActors.Actors.Protocol;

/// <summary>Marker of every message that may cross a node boundary; all of them go through <see cref="Serialization.ProtocolSerializer"/>.</summary>
public interface IRlMessage;

/// <summary>
/// What the task is, enough for any node to open it and turn a draw index into a train row: its kind
/// (<see cref="ArithmeticKind"/> or <see cref="JsonlKind"/>), its settings as JSON (the arithmetic options, or the JSONL
/// task's files, fields, verifier and the host's file hashes) and the seed of the training order (the arithmetic stream's
/// seed, or the epoch-wise shuffle of the train rows), and with a pretrained model its tokenizer
/// (<see cref="Environments.Tokenizers.TokenizerSpec"/> as JSON; null: the task's character table).
/// </summary>
public sealed record TaskSpec(string Kind, string Settings, ulong DataSeed, string? Tokenizer = null)
{
    /// <summary>The kind of the built-in arithmetic generator.</summary>
    public const string ArithmeticKind = "arithmetic";
    /// <summary>The kind of a JSONL data set.</summary>
    public const string JsonlKind = "jsonl";

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<TaskSpec, Environments.Tasks.TaskRuntime> Opened = new();

    /// <summary>The arithmetic task whose training stream has seed <paramref name="dataSeed"/>.</summary>
    public static TaskSpec Arithmetic(Environments.Arithmetic.ArithmeticOptions options, ulong dataSeed) =>
        new(ArithmeticKind, System.Text.Json.JsonSerializer.Serialize(new ArithmeticSettings(options.MinOps, options.MaxOps, options.OperandDigits, options.Operators)), dataSeed);

    private sealed record ArithmeticSettings(int MinOps, int MaxOps, int OperandDigits, string Operators);

    /// <summary>The task of a trainer's options: the data set when one is set, else the arithmetic task (training order
    /// seeded with stream 2 of the master seed, as the learner's own RL stream).</summary>
    public static TaskSpec Of(Policies.Training.GrpoRunOptions o) => o.Data is { } d
        ? new(JsonlKind, d.ToJson(), Environments.SplitMix64.Stream(o.Seed, 2), o.Tokenizer?.ToJson())
        : Arithmetic(o.Task, Environments.SplitMix64.Stream(o.Seed, 2));

    /// <summary>A short description for logs, e.g. <c>jsonl:data/train.jsonl</c>.</summary>
    public string Id => Kind == JsonlKind ? $"jsonl:{Environments.Tasks.JsonlTaskOptions.FromJson(Settings).Train}" : $"arithmetic:{Settings}";

    /// <summary>The task on this node (opened once per process; a JSONL task reads its files here).</summary>
    /// <exception cref="Environments.Tasks.TaskDataException">A file of the task is missing, malformed or differs from the host's.</exception>
    public Environments.Tasks.TaskRuntime Open() => Opened.GetOrAdd(this, spec => spec.Kind switch
    {
        ArithmeticKind => Environments.Tasks.TaskRuntime.Arithmetic(ArithmeticOptions(), DataSeed),
        JsonlKind => Environments.Tasks.TaskRuntime.OfJsonl(Environments.Tasks.JsonlTaskOptions.FromJson(Settings), DataSeed,
            Tokenizer is null ? null : Environments.Tokenizers.TokenizerSpec.FromJson(Tokenizer)),
        _ => throw new Environments.Tasks.TaskDataException($"unknown task kind '{Kind}' (this node knows {ArithmeticKind} and {JsonlKind})"),
    });

    /// <summary>The generator of the arithmetic task's training stream (problem i is <c>Generator().Get(i)</c> on every node).</summary>
    public Environments.Arithmetic.ArithmeticGenerator Generator() => new(ArithmeticOptions(), DataSeed);

    private Environments.Arithmetic.ArithmeticOptions ArithmeticOptions()
    {
        if (Kind != ArithmeticKind) throw new InvalidOperationException($"task {Id} is not the arithmetic task");
        var a = System.Text.Json.JsonSerializer.Deserialize<ArithmeticSettings>(Settings)!;
        return new Environments.Arithmetic.ArithmeticOptions { MinOps = a.MinOps, MaxOps = a.MaxOps, OperandDigits = a.OperandDigits, Operators = a.Operators };
    }
}

/// <summary>How samplers draw completions.</summary>
public sealed record SamplingSpec(int GroupSize, double Temperature, int TopK, int MaxNewTokens);

/// <summary>The G completions of one prompt, tagged so the learner can refuse stale or duplicated data.</summary>
/// <param name="RolloutId">Unique id: experiment/step/slot/problem.</param>
/// <param name="ProblemIndex">Index of the train row (for the arithmetic task: of the problem in its stream).</param>
/// <param name="Prompt">Prompt ids.</param>
/// <param name="Completions">G completion rows, all of one length, padding after the end token.</param>
/// <param name="LogProbs">Log-probabilities of the sampled tokens under the sampling policy.</param>
public sealed record RolloutGroup(string RolloutId, long ProblemIndex, int[] Prompt, int[][] Completions, float[][] LogProbs);

/// <summary>
/// Pull-workers (<see cref="Workers.PullWorkerActor"/>: samplers, explorers) ↔ the experiment, for every kind: workers pull
/// units of work; the experiment never pushes more than was asked for, and serves the weights a unit names by version.
/// </summary>
public static class WorkerProtocol
{
    /// <summary>Where the experiment registers itself in the pub-sub mediator.</summary>
    public const string ExperimentPath = "/user/experiment";

    /// <summary>A worker asks for one unit of work of its kind (e.g. "sample", "explore"). At most one request per worker is
    /// outstanding; an experiment whose units are of another kind answers <see cref="NoMoreWork"/>.</summary>
    public sealed record RequestWork(string WorkerId, string WorkKind) : IRlMessage;

    /// <summary>The experiment has no work (it is over, or its work is of another kind): workers ask again later.</summary>
    public sealed record NoMoreWork(string Experiment) : IRlMessage;

    /// <summary>Ask for the weights of one version (answered by the kind's <see cref="IVersionedWeights"/> message).</summary>
    public sealed record GetWeights(long Version) : IRlMessage;

    /// <summary>The requested version is no longer (or not yet) available.</summary>
    public sealed record WeightsUnavailable(long Requested, long Current) : IRlMessage;

    /// <summary>A worker gives a unit back without doing it (its weights could not be had): the experiment hands it out again
    /// at once instead of waiting for the unit timeout.</summary>
    public sealed record WorkDropped(string Experiment, long Step, int Unit, string WorkerId, string Reason) : IRlMessage;
}

/// <summary>Samplers ↔ a language-model experiment: the units of work and their results.</summary>
public static class SamplerProtocol
{
    /// <summary>One slot: sample G completions for each listed draw of the task's training order (the sampler maps draws to
    /// train rows, <see cref="Environments.Tasks.TaskRuntime.RowOfDraw"/>) with policy version <paramref name="PolicyVersion"/>,
    /// drawing from a generator seeded with <paramref name="SampleSeed"/> (so a slot's rollouts depend only on (step, slot)).</summary>
    public sealed record SampleTask(string Experiment, long Step, int Slot, long PolicyVersion, long[] ProblemIndices,
        TaskSpec Task, SamplingSpec Sampling, ulong SampleSeed) : IWorkUnit
    {
        int IWorkUnit.Unit => Slot;
    }

    /// <summary>The rollouts of one slot.</summary>
    public sealed record SlotRollouts(string Experiment, long Step, int Slot, long PolicyVersion, string SamplerId,
        RolloutGroup[] Groups, long GeneratedTokens, double SampleSeconds) : IUnitResult
    {
        int IUnitResult.Unit => Slot;
        string IUnitResult.WorkerId => SamplerId;
        int IUnitResult.Items => Groups.Length;
    }

    /// <summary>A sampler cannot sample for this experiment at all (e.g. the task's data file is missing or differs on its
    /// node): the run stops with this reason.</summary>
    public sealed record CannotSample(string Experiment, string Reason) : IWorkRefused
    {
        string IWorkRefused.Failure => $"a sampler cannot sample: {Reason}";
    }
}

/// <summary>Policy weights of the language-model policy by version. Samplers fetch the version a slot names when they do not have it.</summary>
public static class WeightsProtocol
{
    /// <summary>Weights of one version (TorchSharp's format) and the model's architecture (<paramref name="Model"/>, a
    /// <see cref="Policies.Lm.CausalLms"/> spec: the node builds the model from it). <paramref name="Remote"/>: set (and
    /// <paramref name="Bytes"/> empty) when the bytes were too large for a remote message and wait on the sender's weight
    /// server; the pull-worker fetches them (<see cref="Runtime.Weights.WeightDistribution.FetchAsync"/>) before its handler sees them.</summary>
    public sealed record PolicyWeights(long Version, string Model, byte[] Bytes,
        Runtime.Weights.WeightsRef? Remote = null) : IVersionedWeights
    {
        /// <inheritdoc />
        public IVersionedWeights WithBytes(byte[] bytes) => this with { Bytes = bytes, Remote = null };
    }
}

/// <summary>A plug-in or built-in reward as named in an experiment file.</summary>
/// <param name="Settings">Component-specific settings as JSON (e.g. CAPO's judge, vote and credit), or null.</param>
public sealed record RewardSpecDto(string Type, string? Assembly, double Weight, double TimeoutSeconds, string? Settings = null);

/// <summary>Experiment ↔ reward workers.</summary>
public static class RewardProtocol
{
    /// <summary>Score every group of one slot with the experiment's rewards.</summary>
    public sealed record ScoreSlot(string Experiment, long Step, int Slot, long PolicyVersion, TaskSpec Task,
        RewardSpecDto[] Rewards, RolloutGroup[] Groups) : IRlMessage;

    /// <summary>A worker cannot score for this experiment at all (e.g. a plug-in missing on its node): the run stops with this reason.</summary>
    public sealed record ScoringFailed(string Experiment, string Reason) : IWorkRefused
    {
        string IWorkRefused.Failure => $"a reward worker cannot score: {Reason}";
    }

    /// <summary>Combined rewards per group and completion; components that failed are named and counted.</summary>
    /// <param name="TokenExtras">Per group (null when the group has no per-token rewards), per completion and token:
    /// the combined per-token reward minus the completion's sequence reward (e.g. CAPO's −P on wrong steps). The
    /// learner adds it to the group-normalised sequence advantage unnormalised.</param>
    /// <param name="Counters">Sums of the components' additive counters over the slot's groups (e.g. critiques_valid).</param>
    public sealed record SlotScored(string Experiment, long Step, int Slot, float[][] Rewards, int[] Correct,
        int Failures, string[] FailedComponents, float[][]?[]? TokenExtras = null,
        IReadOnlyDictionary<string, double>? Counters = null) : IFollowUpResult
    {
        int IFollowUpResult.Unit => Slot;
    }
}

/// <summary>Vote aggregator ↔ GenPRM voter actors (role <c>voter</c>): one request asks one voter for critiques of one response.</summary>
public static class CritiqueProtocol
{
    /// <summary>Critique one response: the problem (operands and operators), the generated ids, and the judge to ask.</summary>
    /// <param name="RequestId">Unique per request; the reply carries it.</param>
    /// <param name="ResponseKey">Stable key of the response (group id / sample), which seeds the noisy oracle.</param>
    /// <param name="ProblemIndex">The problem's index in its stream.</param>
    /// <param name="Operands">The problem's operands.</param>
    /// <param name="Operators">The problem's operators.</param>
    /// <param name="Completion">The generated ids (no prompt).</param>
    /// <param name="Judge">The judge's settings as JSON (see Rewards.Capo.JudgeSpec).</param>
    /// <param name="Count">Critiques wanted.</param>
    /// <param name="FirstIndex">Index of the first critique of this response (critique indices seed the noisy oracle).</param>
    public sealed record CritiqueWork(string RequestId, string ResponseKey, long ProblemIndex, long[] Operands, string Operators,
        int[] Completion, string Judge, int Count, int FirstIndex) : IRlMessage;

    /// <summary>One critique: status (Rewards.Capo.CritiqueStatus as an int), the wrong steps, a detail for failures.</summary>
    public sealed record CritiqueDto(int Status, int[] WrongSteps, string? Detail);

    /// <summary>The critiques of one request, in critique-index order.</summary>
    public sealed record CritiqueDone(string RequestId, CritiqueDto[] Critiques) : IRlMessage;
}
