using System.Diagnostics;
using RlActors.Environments;
using RlActors.Environments.Arithmetic;
using RlActors.Policies.Checkpoints;
using RlActors.Policies.Grpo;
using RlActors.Policies.Lm;
using static TorchSharp.torch;

namespace RlActors.Policies.Training;

/// <summary>Every setting of the library trainer: SFT warm-up, then GRPO on the arithmetic task.</summary>
public sealed record RlvrOptions
{
    /// <summary>Master seed: model init, data order and sampling generators derive from it.</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>Torch device: "cpu" or "cuda" (needs a CUDA libtorch, see README).</summary>
    public string Device { get; init; } = "cpu";
    /// <summary>Model shape.</summary>
    public LmConfig Model { get; init; } = new() { VocabSize = CharTokenizer.Default.VocabSize };
    /// <summary>Problem distribution (training and evaluation).</summary>
    public ArithmeticOptions Task { get; init; } = new();
    /// <summary>Supervised warm-up.</summary>
    public SftOptions Sft { get; init; } = new();
    /// <summary>GRPO hyperparameters.</summary>
    public GrpoOptions Grpo { get; init; } = new();
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
        if (GrpoSteps < 0) throw new ArgumentException($"grpo.steps must be >= 0 (got {GrpoSteps})");
        if (EvalProblems < 1) throw new ArgumentException($"eval.problems must be >= 1 (got {EvalProblems})");
        if (EvalEvery < 0) throw new ArgumentException($"eval.every must be >= 0 (got {EvalEvery})");
        if (Model.VocabSize != CharTokenizer.Default.VocabSize)
            throw new ArgumentException($"model.vocab-size must be {CharTokenizer.Default.VocabSize} for the arithmetic tokenizer (got {Model.VocabSize})");
    }
}

/// <summary>
/// The bare RLVR baseline as one readable loop, no actors: SFT warm-up, then GRPO steps in which the policy
/// samples G completions per prompt, the outcome verifier scores them, and the learner takes a clipped step.
/// Every random draw comes from generators this object owns.
/// </summary>
public sealed class ArithmeticRlvr : IDisposable
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

    private readonly RlvrOptions o;
    private readonly ArithmeticDataset sftData;
    private readonly ArithmeticDataset rlData;
    private readonly Generator sampler;
    private readonly RewardFunction reward;
    private GrpoLearner? learner;

    /// <summary>The policy being trained.</summary>
    public TransformerLm Policy { get; }
    /// <summary>The fixed held-out problems.</summary>
    public IReadOnlyList<ArithmeticProblem> HeldOut { get; }
    /// <summary>GRPO steps taken.</summary>
    public int GrpoStepsDone { get; private set; }

    /// <summary>Builds a fresh model and data streams from <paramref name="options"/>.</summary>
    public ArithmeticRlvr(RlvrOptions options, RewardFunction? reward = null)
    {
        options.Validate();
        o = options;
        this.reward = reward ?? ((p, r) => ArithmeticVerifier.OutcomeReward(p, r));
        Policy = new TransformerLm(options.Model, (long)(options.Seed * 1_000_003 % long.MaxValue), TorchSharp.torch.device(options.Device));
        sftData = new ArithmeticDataset(options.Task, SplitMix64.Stream(options.Seed, 1));
        rlData = new ArithmeticDataset(options.Task, SplitMix64.Stream(options.Seed, 2));
        sampler = new Generator(SplitMix64.Stream(options.Seed, 3), TorchSharp.torch.device(options.Device));
        HeldOut = ArithmeticDataset.HeldOut(options.Task, options.EvalSeed, options.EvalProblems);
    }


    /// <summary>Runs the SFT warm-up; <paramref name="progress"/> gets (step, loss).</summary>
    public void RunSft(Action<int, double>? progress = null)
    {
        using var sft = new SftTrainer(Policy, o.Sft);
        for (int s = 1; s <= o.Sft.Steps; s++)
        {
            double loss = sft.Step(sftData);
            progress?.Invoke(s, loss);
        }
    }

    /// <summary>Greedy accuracy on the held-out set.</summary>
    public ArithmeticLm.EvalResult Evaluate() => ArithmeticLm.Evaluate(Policy, HeldOut, o.Grpo.MaxNewTokens);

    /// <summary>One GRPO step: sample, score, compute advantages, update. Returns the step's metrics.</summary>
    public Dictionary<string, double> GrpoStep()
    {
        learner ??= new GrpoLearner(Policy, o.Grpo, CharTokenizer.Pad);
        var g = o.Grpo;
        var watch = Stopwatch.StartNew();

        // 1. Sample G completions for each prompt, laid out group after group.
        var problems = rlData.NextBatch(g.PromptsPerStep);
        var prompts = problems.SelectMany(p => Enumerable.Repeat(ArithmeticLm.PromptIds(p), g.GroupSize)).ToList();
        Policy.eval();
        var sample = LmSampler.Sample(Policy, prompts,
            new SampleOptions { Temperature = g.Temperature, TopK = g.TopK, MaxNewTokens = g.MaxNewTokens }, sampler,
            CharTokenizer.Eos, CharTokenizer.Pad);
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

        // 3. Group-relative advantages, spread over each completion's tokens up to its end token; 4. clipped update.
        var (batch, adv) = GroupBatch.Build(groups, g, CharTokenizer.Eos, CharTokenizer.Pad);
        var metrics = learner.Update(batch);
        metrics[GrpoMetrics.RewardMean] = rewards.Average();
        metrics[GrpoMetrics.Accuracy] = (double)correct / prompts.Count;
        metrics[GrpoMetrics.ZeroStdGroups] = adv.ZeroStdGroups;
        metrics["sample_s"] = sampleSeconds;
        metrics["step_s"] = watch.Elapsed.TotalSeconds;
        if (scoring?.Metrics is { } extra) foreach (var (key, value) in extra) metrics[key] = value;
        GrpoStepsDone++;
        return metrics;
    }

    /// <summary>
    /// The learner's half of a GRPO step, for runtimes that sample and score elsewhere (the actor pipeline):
    /// advantages from already-scored groups (in the given order), then the clipped update.
    /// </summary>
    public Dictionary<string, double> TrainOn(IReadOnlyList<ScoredGroup> groups)
    {
        learner ??= new GrpoLearner(Policy, o.Grpo, CharTokenizer.Pad);
        var (batch, adv) = GroupBatch.Build(groups, o.Grpo, CharTokenizer.Eos, CharTokenizer.Pad);
        var metrics = learner.Update(batch);
        metrics[GrpoMetrics.RewardMean] = groups.SelectMany(x => x.Rewards).Average();
        metrics[GrpoMetrics.ZeroStdGroups] = adv.ZeroStdGroups;
        GrpoStepsDone++;
        return metrics;
    }

    /// <summary>
    /// Everything needed to continue this run exactly: weights, Adam state, the reference policy, the sampling
    /// generator and both data cursors. Loading it into a fresh instance built with the same options (without
    /// running SFT again) and continuing gives bitwise the same numbers as never stopping (same thread count).
    /// </summary>
    public TrainingCheckpoint SaveCheckpoint() => new()
    {
        Step = GrpoStepsDone,
        PolicyVersion = GrpoStepsDone,
        PolicyWeights = Policy.SaveWeights(),
        OptimizerState = learner?.SaveOptimizer() ?? [],
        ReferenceWeights = learner?.Reference?.SaveWeights(),
        Parts = new Dictionary<string, byte[]>
        {
            ["generator.sampler"] = RngState.Save(sampler),
            ["cursor.sft"] = sftData.SaveCursor(),
            ["cursor.rl"] = rlData.SaveCursor(),
        },
    };

    /// <summary>Restores a checkpoint made by <see cref="SaveCheckpoint"/> of a run with the same options.</summary>
    public void LoadCheckpoint(TrainingCheckpoint c)
    {
        Policy.LoadWeights(c.PolicyWeights);
        GrpoStepsDone = checked((int)c.Step);
        if (c.OptimizerState.Length > 0 || c.ReferenceWeights is not null)
        {
            learner ??= new GrpoLearner(Policy, o.Grpo, CharTokenizer.Pad);
            if (c.OptimizerState.Length > 0) learner.LoadOptimizer(c.OptimizerState);
            if (c.ReferenceWeights is not null) learner.LoadReference(c.ReferenceWeights);
        }
        if (c.Parts.TryGetValue("generator.sampler", out var g)) RngState.Restore(sampler, g);
        if (c.Parts.TryGetValue("cursor.sft", out var s)) sftData.Restore(ArithmeticDataset.LoadCursor(s));
        if (c.Parts.TryGetValue("cursor.rl", out var r)) rlData.Restore(ArithmeticDataset.LoadCursor(r));
    }

    /// <summary>The sampling generator's state (to checkpoint a run).</summary>
    public byte[] SamplerState() => RngState.Save(sampler);

    /// <inheritdoc />
    public void Dispose()
    {
        learner?.Dispose();
        sampler.Dispose();
        Policy.Dispose();
    }
}
