using System.Diagnostics;
using RlActors.Environments;
using RlActors.Environments.Arithmetic;
using RlActors.Environments.Tasks;
using RlActors.Environments.Tokenizers;
using RlActors.Policies.Algorithms;
using RlActors.Policies.Checkpoints;
using RlActors.Policies.Grpo;
using RlActors.Policies.Lm;
using static TorchSharp.torch;

namespace RlActors.Policies.Training;

/// <summary>Every setting of a language-model RL run (kind grpo): SFT warm-up, then RL (GRPO by default, any LM algorithm) on
/// the arithmetic task or a JSONL data set.</summary>
public sealed record GrpoRunOptions
{
    /// <summary>Master seed: model init, data order and sampling generators derive from it.</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>Torch device: "cpu" or "cuda" (needs a CUDA libtorch, see README).</summary>
    public string Device { get; init; } = "cpu";
    /// <summary>Model shape of the toy GPT (model.type = "gpt"). With a data-set task (<see cref="Data"/>) the vocabulary size
    /// follows that task's tokenizer. Unused with <see cref="Pretrained"/>.</summary>
    public LmConfig Model { get; init; } = new() { VocabSize = CharTokenizer.Default.VocabSize };
    /// <summary>A Hugging Face-layout model to start from instead of a fresh GPT (model.type = "hf"); needs a data-set task and
    /// <see cref="Tokenizer"/>.</summary>
    public PretrainedModel? Pretrained { get; init; }
    /// <summary>The pretrained model's tokenizer and prompt template (null: the task's character table).</summary>
    public TokenizerSpec? Tokenizer { get; init; }
    /// <summary>Problem distribution of the arithmetic task (training and evaluation); unused when <see cref="Data"/> is set.</summary>
    public ArithmeticOptions Task { get; init; } = new();
    /// <summary>A JSONL data-set task instead of the arithmetic generator (null: arithmetic).</summary>
    public JsonlTaskOptions? Data { get; init; }
    /// <summary>Supervised warm-up.</summary>
    public SftOptions Sft { get; init; } = new();
    /// <summary>GRPO hyperparameters. Its sampling settings (prompts per step, group size, temperature, top-k, max new
    /// tokens) are used by every algorithm, so algorithms compare on the same rollouts.</summary>
    public GrpoOptions Grpo { get; init; } = new();
    /// <summary>The RL algorithm, by its name in <see cref="LmAlgorithms"/> ("grpo", "ppo").</summary>
    public string Algorithm { get; init; } = "grpo";
    /// <summary>Options record of <see cref="Algorithm"/> (e.g. <see cref="PpoOptions"/>); null gives its defaults, and for
    /// "grpo" <see cref="Grpo"/>.</summary>
    public object? AlgorithmOptions { get; init; }
    /// <summary>Number of GRPO steps after SFT.</summary>
    public int GrpoSteps { get; init; } = 600;
    /// <summary>Held-out problems for greedy evaluation (≥ 500: a 200-problem evaluation moves ±3.5 points by chance).</summary>
    public int EvalProblems { get; init; } = 500;
    /// <summary>Evaluate every this many GRPO steps (and always after SFT and at the end); 0 only at those two points.</summary>
    public int EvalEvery { get; init; } = 100;
    /// <summary>Seed of the held-out set; fixed across run seeds so runs are compared on the same problems.</summary>
    public ulong EvalSeed { get; init; } = 20_261_128;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid key.</summary>
    public void Validate()
    {
        Model.Validate();
        Task.Validate();
        Sft.Validate();
        Grpo.Validate();
        if (Device is not ("cpu" or "cuda") && !Device.StartsWith("cuda:", StringComparison.Ordinal))
            throw new ArgumentException($"device must be 'cpu' or 'cuda' (got '{Device}')");
        var algorithm = LmAlgorithms.Find(Algorithm);
        if (AlgorithmOptions is not null && !algorithm.OptionsType.IsInstanceOfType(AlgorithmOptions))
            throw new ArgumentException($"algorithm '{Algorithm}' takes {algorithm.OptionsType.Name} options, not {AlgorithmOptions.GetType().Name}");
        if (GrpoSteps < 0) throw new ArgumentException($"grpo.steps must be >= 0 (got {GrpoSteps})");
        if (EvalProblems < 1) throw new ArgumentException($"eval.problems must be >= 1 (got {EvalProblems})");
        if (EvalEvery < 0) throw new ArgumentException($"eval.every must be >= 0 (got {EvalEvery})");
        Data?.Validate();
        if (Pretrained is not null)
        {
            Pretrained.Validate();
            if (Data is null) throw new ArgumentException("model.type = \"hf\" needs a data-set task (task.type = \"jsonl\"): the arithmetic task's rewards read its character ids");
            if (Tokenizer is null) throw new ArgumentException("model.tokenizer: a pretrained model needs its tokenizer");
        }
        Tokenizer?.Validate();
        if (Tokenizer is not null && Pretrained is null) throw new ArgumentException("model.tokenizer and model.prompt-* need model.type = \"hf\"");
        if (Data is null && Model.VocabSize != CharTokenizer.Default.VocabSize)
            throw new ArgumentException($"model.vocab-size must be {CharTokenizer.Default.VocabSize} for the arithmetic tokenizer (got {Model.VocabSize})");
    }
}

/// <summary>
/// The bare RLVR baseline as one readable loop, no actors: SFT warm-up, then RL steps in which the policy
/// samples G completions per prompt, the outcome verifier scores them, and the algorithm (<see cref="GrpoRunOptions.Algorithm"/>,
/// GRPO by default) takes an update. Every random draw comes from generators this object owns.
/// </summary>
public sealed class GrpoTrainer : IDisposable
{
    /// <summary>Reward of one completion; the default is the outcome verifier (1 for a right answer, else 0).</summary>
    public delegate double RewardFunction(ArithmeticProblem problem, ParsedResponse response);

    /// <summary>
    /// Scores whole groups at once, with optional per-token extras (token-level credit such as CAPO's step
    /// penalties) and metrics. <paramref name="completions"/>[p] holds the G completions of <paramref name="problems"/>[p].
    /// </summary>
    public delegate GroupScoring GroupScorer(long step, IReadOnlyList<ArithmeticProblem> problems, IReadOnlyList<int[][]> completions);

    /// <summary>What a <see cref="GroupScorer"/> returns.</summary>
    /// <param name="Rewards">Per group, one sequence reward per completion.</param>
    /// <param name="TokenExtras">Per group (or null), per completion and token: added to the normalised advantage unnormalised.</param>
    /// <param name="Metrics">Extra metrics of the step (e.g. critiques_valid), or null.</param>
    public sealed record GroupScoring(float[][] Rewards, float[][]?[]? TokenExtras, IReadOnlyDictionary<string, double>? Metrics);

    /// <summary>When set, scores each step's groups instead of the per-completion reward function.</summary>
    public GroupScorer? Scorer { get; set; }

    private readonly GrpoRunOptions o;
    private readonly ArithmeticDataset sftData;
    private readonly ArithmeticDataset rlData;
    // A data-set task: its training rows in two epoch-wise shuffled orders (SFT and RL), the next draw of each.
    private readonly JsonlTask? data;
    private readonly TaskRuntime? rlRows;
    private readonly EpochOrder? sftOrder;
    private long sftDraw, rlDraw;
    private readonly Generator sampler;
    private readonly RewardFunction reward;
    private ILmAlgorithm? algorithm;

    /// <summary>The policy being trained.</summary>
    public ICausalLm Policy { get; }
    /// <summary>The fixed held-out problems (empty for a data-set task, which evaluates on its test rows).</summary>
    public IReadOnlyList<ArithmeticProblem> HeldOut { get; }
    /// <summary>The task's tokenizer: the pretrained model's, else <see cref="CharTokenizer.Default"/> for arithmetic and the
    /// data set's own character table otherwise.</summary>
    public ITokenizer Tokenizer { get; }
    /// <summary>GRPO steps taken.</summary>
    public int GrpoStepsDone { get; private set; }

    /// <summary>Builds a fresh model and data streams from <paramref name="options"/>.</summary>
    public GrpoTrainer(GrpoRunOptions options, RewardFunction? reward = null)
    {
        options.Validate();
        o = options;
        this.reward = reward ?? ((p, r) => ArithmeticVerifier.OutcomeReward(p, r));
        var model = options.Model;
        if (options.Data is { } d)
        {
            // Draw k of RL is row RowOf(k) of the order seeded like the arithmetic RL stream, as in the actor runtime.
            rlRows = TaskRuntime.OfJsonl(d, SplitMix64.Stream(options.Seed, 2), options.Tokenizer);
            data = rlRows.Jsonl!;
            sftOrder = new EpochOrder(data.Train.Count!.Value, SplitMix64.Stream(options.Seed, 1));
            model = model with { VocabSize = data.Tokenizer.VocabSize };
        }
        Tokenizer = rlRows?.Tokenizer ?? CharTokenizer.Default;
        var device = TorchSharp.torch.device(options.Device);
        if (options.Pretrained is { } pretrained)
        {
            // Checked on config.json before gigabytes of weights are read.
            Hf.HfPretrained.CheckVocabulary(Tokenizer, pretrained.Config(), options.Tokenizer!.Directory);
            Policy = pretrained.Load(device);
        }
        else Policy = new TransformerLm(model, (long)(options.Seed * 1_000_003 % long.MaxValue), device);
        sftData = new ArithmeticDataset(options.Task, SplitMix64.Stream(options.Seed, 1));
        rlData = new ArithmeticDataset(options.Task, SplitMix64.Stream(options.Seed, 2));
        sampler = new Generator(SplitMix64.Stream(options.Seed, 3), TorchSharp.torch.device(options.Device));
        HeldOut = data is null ? ArithmeticDataset.HeldOut(options.Task, options.EvalSeed, options.EvalProblems) : [];
    }


    /// <summary>Whether <see cref="RunSft"/> trains: SFT steps are set and the task has reference solutions (a data-set
    /// task without a solution field has none, so it starts RL from the initial model).</summary>
    public bool HasSft => o.Sft.Steps > 0 && (data is null || data.Options.SolutionField is not null);

    /// <summary>Runs the SFT warm-up; <paramref name="progress"/> gets (step, loss).</summary>
    public void RunSft(Action<int, double>? progress = null)
    {
        if (!HasSft) return;
        using var sft = new SftTrainer(Policy, o.Sft, Tokenizer.EosId, Tokenizer.PadId);
        for (int s = 1; s <= o.Sft.Steps; s++)
        {
            double loss = data is null ? sft.Step(sftData) : SftStepOnRows(sft);
            progress?.Invoke(s, loss);
        }
    }

    // One SFT step on the next batch of train rows: prompt, then solution and the end token.
    private double SftStepOnRows(SftTrainer sft)
    {
        var rows = Enumerable.Range(0, o.Sft.BatchSize).Select(_ => data!.Train.Get(sftOrder!.RowOf(sftDraw++))).ToList();
        return sft.Step(rows.Select(rlRows!.PromptIds).ToList(), rows.Select(r => rlRows!.SolutionIds(r)!).ToList());
    }

    /// <summary>Greedy accuracy on the held-out set (a data-set task: its first eval.problems test rows, by its verifier).</summary>
    public ArithmeticLm.EvalResult Evaluate() => data is null
        ? ArithmeticLm.Evaluate(Policy, HeldOut, o.Grpo.MaxNewTokens)
        : EvaluateRows(Policy, rlRows!, o.EvalProblems, o.Grpo.MaxNewTokens);

    /// <summary>
    /// Greedy accuracy of <paramref name="model"/> on the first <paramref name="count"/> test rows of <paramref name="task"/>
    /// (all of them when there are fewer), each completion judged by the task's verifier. A data set has no steps to
    /// check, so the step accuracy is reported as 0.
    /// </summary>
    public static ArithmeticLm.EvalResult EvaluateRows(ICausalLm model, TaskRuntime task, int count, int maxNewTokens, int batchSize = 250)
    {
        bool wasTraining = model.Module.training;
        model.eval();
        var data = task.Jsonl ?? throw new ArgumentException("EvaluateRows needs a data-set task");
        var tok = task.Tokenizer;
        var rows = data.Test.Rows.Take(count).ToList();
        var greedy = new SampleOptions { Temperature = 0, MaxNewTokens = maxNewTokens };
        int correct = 0;
        for (int start = 0; start < rows.Count; start += batchSize)
        {
            var chunk = rows.Skip(start).Take(batchSize).ToList();
            var result = LmSampler.Sample(model, chunk.Select(task.PromptIds).ToList(), greedy, null, tok.EosId, tok.PadId);
            for (int i = 0; i < chunk.Count; i++)
                if (data.IsCorrect(tok.Decode(result.Completions[i]), chunk[i])) correct++;
        }
        model.train(wasTraining);
        return new ArithmeticLm.EvalResult((double)correct / rows.Count, 0, new Dictionary<ResponseStatus, int>(), rows.Count);
    }

    /// <summary>The RL algorithm, built on first use (after SFT: a reference or critic copies the policy as it is then).</summary>
    public ILmAlgorithm Algorithm => algorithm ??= LmAlgorithms.Create(o.Algorithm,
        new LmAlgorithmContext(Policy, Tokenizer.EosId, Tokenizer.PadId, Seed: 0),
        o.AlgorithmOptions ?? (o.Algorithm == "grpo" ? o.Grpo : null));

    /// <summary>One RL step: sample, score, update (GRPO: group advantages and a clipped step). Returns the step's metrics.</summary>
    public Dictionary<string, double> GrpoStep()
    {
        var g = o.Grpo;
        var watch = Stopwatch.StartNew();

        if (data is not null) return GrpoStepOnRows(watch);
        // 1. Sample G completions for each prompt, laid out group after group.
        var problems = rlData.NextBatch(g.PromptsPerStep);
        var prompts = problems.SelectMany(p => Enumerable.Repeat(ArithmeticLm.PromptIds(p), g.GroupSize)).ToList();
        var sample = SampleGroups(prompts);
        double sampleSeconds = watch.Elapsed.TotalSeconds;

        // 2. Score each completion with the verifier (or the group scorer).
        var groups = new List<ScoredGroup>();
        var rewards = new List<float>();
        int correct = 0;
        var perGroup = Enumerable.Range(0, problems.Count).Select(p => sample.Completions.Skip(p * g.GroupSize).Take(g.GroupSize).ToArray()).ToArray();
        var scoring = Scorer?.Invoke(GrpoStepsDone + 1, problems, perGroup);
        for (int p = 0; p < problems.Count; p++)
        {
            var completions = perGroup[p];
            var groupRewards = scoring?.Rewards[p] ?? new float[g.GroupSize];
            for (int j = 0; j < g.GroupSize; j++)
            {
                var parsed = StepParser.Parse(completions[j], ArithmeticLm.Tokenizer);
                if (scoring is null) groupRewards[j] = (float)reward(problems[p], parsed);
                if (ArithmeticVerifier.IsCorrect(problems[p], parsed)) correct++;
            }
            groups.Add(new ScoredGroup(prompts[p * g.GroupSize], completions, groupRewards, scoring?.TokenExtras?[p]));
            rewards.AddRange(groupRewards);
        }

        // 3. The algorithm's update on the scored groups (GRPO: group-relative advantages spread over each
        // completion's tokens up to its end token, then a clipped step).
        var metrics = Update(groups, rewards.Average(), (double)correct / prompts.Count, sampleSeconds, watch);
        if (scoring?.Metrics is { } extra) foreach (var (key, value) in extra) metrics[key] = value;
        return metrics;
    }

    /// <summary>Samples one completion per prompt row (each prompt repeated group-size times) with the run's sampling settings.</summary>
    private SampleResult SampleGroups(IReadOnlyList<int[]> prompts)
    {
        var g = o.Grpo;
        Policy.eval();
        return LmSampler.Sample(Policy, prompts,
            new SampleOptions { Temperature = g.Temperature, TopK = g.TopK, MaxNewTokens = g.MaxNewTokens }, sampler,
            Tokenizer.EosId, Tokenizer.PadId);
    }

    // GrpoStep on a data-set task: prompts from the train rows, the task's verifier as the reward (1 right, 0 wrong).
    private Dictionary<string, double> GrpoStepOnRows(Stopwatch watch)
    {
        if (Scorer is not null) throw new InvalidOperationException("a group scorer needs the arithmetic task");
        var g = o.Grpo;
        var rows = Enumerable.Range(0, g.PromptsPerStep).Select(_ => rlRows!.RowOfDraw(rlDraw++)).ToList();
        var prompts = rows.SelectMany(r => Enumerable.Repeat(rlRows!.PromptIds(r), g.GroupSize)).ToList();
        var sample = SampleGroups(prompts);
        double sampleSeconds = watch.Elapsed.TotalSeconds;
        var groups = new List<ScoredGroup>();
        var rewards = new List<float>();
        for (int p = 0; p < rows.Count; p++)
        {
            var completions = sample.Completions.Skip(p * g.GroupSize).Take(g.GroupSize).ToArray();
            var row = rlRows!.Row(rows[p]);
            var groupRewards = completions.Select(c => data!.IsCorrect(Tokenizer.Decode(c), row) ? 1f : 0f).ToArray();
            groups.Add(new ScoredGroup(prompts[p * g.GroupSize], completions, groupRewards, null));
            rewards.AddRange(groupRewards);
        }
        return Update(groups, rewards.Average(), rewards.Average(), sampleSeconds, watch);
    }

    /// <summary>The algorithm's update on a step's scored groups, with the step's reward, accuracy and timings.</summary>
    private Dictionary<string, double> Update(List<ScoredGroup> groups, double rewardMean, double accuracy, double sampleSeconds, Stopwatch watch)
    {
        var metrics = Ordered(Algorithm.Train(groups), groups, rewardMean, accuracy);
        metrics["sample_s"] = sampleSeconds;
        metrics["step_s"] = watch.Elapsed.TotalSeconds;
        GrpoStepsDone++;
        return metrics;
    }

    /// <summary>
    /// The learner's half of a GRPO step, for runtimes that sample and score elsewhere (the actor pipeline):
    /// advantages from already-scored groups (in the given order), then the clipped update.
    /// </summary>
    public Dictionary<string, double> TrainOn(IReadOnlyList<ScoredGroup> groups)
    {
        var metrics = Ordered(Algorithm.Train(groups), groups, groups.SelectMany(x => x.Rewards).Average(), accuracy: null);
        GrpoStepsDone++;
        return metrics;
    }

    /// <summary>The update's metrics, then reward_mean, accuracy (when known) and zero_std_groups, in that order. Every
    /// algorithm reports zero_std_groups (groups whose rewards are all equal: no learning signal for group-relative methods,
    /// and a sign that the task is too easy or too hard); GRPO's own count is kept, others are counted here.</summary>
    private static Dictionary<string, double> Ordered(Dictionary<string, double> update, IReadOnlyList<ScoredGroup> groups, double rewardMean, double? accuracy)
    {
        var metrics = update.Where(kv => kv.Key != GrpoMetrics.ZeroStdGroups).ToDictionary();
        metrics[GrpoMetrics.RewardMean] = rewardMean;
        if (accuracy is { } a) metrics[GrpoMetrics.Accuracy] = a;
        metrics[GrpoMetrics.ZeroStdGroups] = update.TryGetValue(GrpoMetrics.ZeroStdGroups, out var zero)
            ? zero : groups.Count(g => g.Rewards.All(r => r == g.Rewards[0]));
        return metrics;
    }

    /// <summary>
    /// Everything needed to continue this run exactly: weights, the algorithm's state (Adam, the reference policy, a
    /// critic ...), the sampling generator and both data cursors. The algorithm's <c>optimizer</c> and <c>reference</c>
    /// entries go to the checkpoint's fields of those names, its other entries to parts named <c>algorithm.&lt;entry&gt;</c>,
    /// and an algorithm other than GRPO writes its name as part <c>algorithm</c> (so a GRPO checkpoint is as before).
    /// Loading it into a fresh instance built with the same options (without running SFT again) and continuing gives
    /// bitwise the same numbers as never stopping (same thread count).
    /// </summary>
    public TrainingCheckpoint SaveCheckpoint()
    {
        var state = algorithm?.SaveState() ?? new Dictionary<string, byte[]>();
        var parts = new Dictionary<string, byte[]>
        {
            ["generator.sampler"] = RngState.Save(sampler),
            ["cursor.sft"] = data is null ? sftData.SaveCursor() : BitConverter.GetBytes(sftDraw),
            ["cursor.rl"] = data is null ? rlData.SaveCursor() : BitConverter.GetBytes(rlDraw),
        };
        if (o.Algorithm != "grpo") parts[AlgorithmPart] = System.Text.Encoding.UTF8.GetBytes(o.Algorithm);
        foreach (var (name, bytes) in state)
            if (name is not (OptimizerEntry or ReferenceEntry)) parts[AlgorithmPart + "." + name] = bytes;
        return new TrainingCheckpoint
        {
            Step = GrpoStepsDone,
            PolicyVersion = GrpoStepsDone,
            PolicyWeights = Policy.SaveWeights(),
            OptimizerState = state.GetValueOrDefault(OptimizerEntry) ?? [],
            ReferenceWeights = state.GetValueOrDefault(ReferenceEntry),
            Parts = parts,
        };
    }

    private const string AlgorithmPart = "algorithm", OptimizerEntry = "optimizer", ReferenceEntry = "reference";

    /// <summary>
    /// Restores a checkpoint made by <see cref="SaveCheckpoint"/> of a run with the same options; a checkpoint of
    /// another algorithm, or one missing a piece of the algorithm's state, throws <see cref="InvalidDataException"/>.
    /// </summary>
    public void LoadCheckpoint(TrainingCheckpoint c)
    {
        string written = c.Parts.TryGetValue(AlgorithmPart, out var n) ? System.Text.Encoding.UTF8.GetString(n) : "grpo";
        if (written != o.Algorithm)
            throw new InvalidDataException($"checkpoint was written by algorithm '{written}', this run uses algorithm '{o.Algorithm}'");
        Policy.LoadWeights(c.PolicyWeights);
        GrpoStepsDone = checked((int)c.Step);
        var state = new Dictionary<string, byte[]>();
        if (c.OptimizerState.Length > 0) state[OptimizerEntry] = c.OptimizerState;
        if (c.ReferenceWeights is not null) state[ReferenceEntry] = c.ReferenceWeights;
        foreach (var (name, bytes) in c.Parts)
            if (name.StartsWith(AlgorithmPart + ".", StringComparison.Ordinal)) state[name[(AlgorithmPart.Length + 1)..]] = bytes;
        if (state.Count > 0) Algorithm.LoadState(state); // none: saved before the first RL step
        if (c.Parts.TryGetValue("generator.sampler", out var g)) RngState.Restore(sampler, g);
        if (data is not null)
        {
            // A data-set task's cursors are the next draw of each order (8 bytes).
            if (c.Parts.TryGetValue("cursor.sft", out var ds)) sftDraw = DrawCursor(ds);
            if (c.Parts.TryGetValue("cursor.rl", out var dr)) rlDraw = DrawCursor(dr);
            return;
        }
        if (c.Parts.TryGetValue("cursor.sft", out var s)) sftData.Restore(ArithmeticDataset.LoadCursor(s));
        if (c.Parts.TryGetValue("cursor.rl", out var r)) rlData.Restore(ArithmeticDataset.LoadCursor(r));
    }

    private static long DrawCursor(byte[] bytes) => bytes.Length == 8
        ? BitConverter.ToInt64(bytes) : throw new InvalidDataException($"checkpoint: a data-set cursor has 8 bytes, not {bytes.Length} (was it written by an arithmetic run?)");

    /// <summary>The sampling generator's state (to checkpoint a run).</summary>
    public byte[] SamplerState() => RngState.Save(sampler);

    /// <inheritdoc />
    public void Dispose()
    {
        algorithm?.Dispose();
        sampler.Dispose();
        Policy.Dispose();
    }
}
