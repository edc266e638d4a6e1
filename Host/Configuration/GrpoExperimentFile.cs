using System.Globalization;
using Akka.Configuration;
using Akka.Configuration.Hocon;
using RlActors.Actors.Experiment;
using RlActors.Actors.Protocol;
using RlActors.Environments.Arithmetic;
using RlActors.Policies.Algorithms;
using RlActors.Policies.Grpo;
using RlActors.Policies.Training;
using RlActors.Rewards.Capo;
using static RlActors.Host.Configuration.ConfigReader;
using RlActors.Host.Kinds;

namespace RlActors.Host.Configuration;

/// <summary>A parsed experiment file: its name, the trainer options and the text it came from.</summary>
public sealed record GrpoExperiment(string Name, GrpoRunOptions Options, int LogEvery, string SourceText)
{
    /// <summary>Scheduling of the actor runtime.</summary>
    public RuntimeOptions Runtime { get; init; } = new();
    /// <summary>The file's text with the command line's overrides appended: what the store records, so a resume
    /// rebuilds exactly this experiment.</summary>
    public string EffectiveText { get; init; } = SourceText;
    /// <summary>Reward components, combined by weight. Default: the arithmetic outcome verifier alone.</summary>
    public IReadOnlyList<RewardSpecDto> Rewards { get; init; } = [new RewardSpecDto("outcome", null, 1.0, 10)];
    /// <summary>CAPO settings (keys <c>capo.*</c>), used by a reward of type "capo".</summary>
    public CapoSettings Capo { get; init; } = new();
    /// <summary>Whether the file set any <c>capo.*</c> key.</summary>
    internal bool CapoKeysSet { get; init; }
    /// <summary>Whether the file set <c>capo.judge.seed</c> (otherwise it follows the experiment seed).</summary>
    internal bool CapoSeedSet { get; init; }
    /// <summary>Whether a reward component is CAPO (the runtime then starts voter actors).</summary>
    public bool UsesCapo => Rewards.Any(r => r.Type == CapoRewardType);
    /// <summary>The reward type name of CAPO's token-level reward.</summary>
    public const string CapoRewardType = "capo";
    /// <summary>The task type (key <c>task.type</c>): arithmetic or jsonl.</summary>
    internal string TaskType { get; init; } = ArithmeticTask;
    /// <summary>The first arithmetic-only <c>task.*</c> key the file set, or null.</summary>
    internal string? ArithmeticKeySet { get; init; }
    /// <summary>The first JSONL-only <c>task.*</c> key the file set, or null.</summary>
    internal string? JsonlKeySet { get; init; }
    /// <summary>The task types.</summary>
    internal const string ArithmeticTask = "arithmetic", JsonlTask = "jsonl";
    /// <summary>The model type (key <c>model.type</c>): gpt (the toy GPT, keys model.d-model ..) or hf (a Hugging Face-layout directory).</summary>
    internal string ModelType { get; init; } = GptModel;
    /// <summary>The first GPT-only <c>model.*</c> key the file set, or null.</summary>
    internal string? GptKeySet { get; init; }
    /// <summary>The first hf-only <c>model.*</c> key the file set, or null.</summary>
    internal string? HfKeySet { get; init; }
    /// <summary>The model types.</summary>
    internal const string GptModel = "gpt", HfModel = "hf";
    /// <summary>Settings of a pretrained model (keys model.path .. model.eos-token), gathered before they are checked.</summary>
    internal HfKeys Hf { get; init; } = new();
}

/// <summary>The <c>model.*</c> keys of <c>model.type = "hf"</c> as the file gives them.</summary>
internal sealed record HfKeys(string? Path = null, string Dtype = "float32", string? Tokenizer = null, string Template = "auto",
    string Format = "{prompt}\n", string? SystemPrompt = null, string? EosToken = null);

/// <summary>
/// Reads HOCON experiment files. Every key is listed in <see cref="Keys"/> with its meaning; an unknown key, a
/// value of the wrong type or out of range is a <see cref="ConfigError"/> naming the key and the file.
/// </summary>
public static class GrpoExperimentFile
{
    /// <summary>A GRPO run's unit of work is a slot of prompts, sampled by a sampler and scored by a reward worker.</summary>
    private static readonly WorkKeys Work = new(
        "prompts-per-slot", "prompts per unit of sampler work (0: a whole step; use smaller slots with several samplers)",
        "slot-timeout", "seconds before an unreturned slot goes to another sampler",
        "samplers-per-node", "sampler actors on each node with the sampler role",
        "score-timeout", "seconds before an unanswered scoring request is sent again", Asynchronous: true);

    private static readonly ConfigKey<GrpoExperiment>[] FixedKeys =
    [
        new("kind", "experiment kind: grpo (the default: SFT then GRPO on the arithmetic task, the keys of this section), ccl (supervised counter-current learning, the keys of the ccl section) or flow (Flow-GRPO / TempFlow-GRPO, the keys of the flow section)",
            (e, v, k) => Str(v, k) switch
            {
                ExperimentKinds.Grpo => e,
                var s when ExperimentKinds.Find(s) is not null => throw new ConfigError($"{k}: this command takes GRPO experiments only; kind = \"{s}\" experiments are run with 'run' and continued with 'resume'"),
                var s => throw new ConfigError($"{k}: expected one of {string.Join(", ", ExperimentKinds.Names)}, got '{s}'"),
            }),
        new("name", "experiment name; output goes to runs/<name>/ unless --out is given", (e, v, k) => e with { Name = Str(v, k) }),
        new("seed", "master seed (model init, data order, sampling)", (e, v, k) => e with { Options = e.Options with { Seed = (ulong)Long(v, k, 0) } }),
        new("device", "torch device: cpu or cuda", (e, v, k) => e with { Options = e.Options with { Device = Str(v, k) } }),
        new("log-every", "print a metrics line every N GRPO steps", (e, v, k) => e with { LogEvery = Int(v, k, 1) }),
        new("model.type", "the policy: gpt (the default: a small GPT trained from scratch, keys model.d-model .. model.mlp-ratio) or hf (a Llama / Qwen2 checkpoint in the Hugging Face layout, keys model.path .. model.eos-token; needs task.type = \"jsonl\")",
            (e, v, k) => Str(v, k) is GrpoExperiment.GptModel or GrpoExperiment.HfModel ? e with { ModelType = Str(v, k) }
                : throw new ConfigError($"{k}: expected {GrpoExperiment.GptModel} or {GrpoExperiment.HfModel}, got '{Str(v, k)}'")),
        new("model.d-model", "gpt: width of the residual stream", (e, v, k) => M(e, k, m => m with { DModel = Int(v, k, 1) })),
        new("model.layers", "gpt: transformer blocks", (e, v, k) => M(e, k, m => m with { Layers = Int(v, k, 1) })),
        new("model.heads", "gpt: attention heads (must divide d-model)", (e, v, k) => M(e, k, m => m with { Heads = Int(v, k, 1) })),
        new("model.context", "gpt: longest prompt + completion in tokens", (e, v, k) => M(e, k, m => m with { Context = Int(v, k, 2) })),
        new("model.mlp-ratio", "gpt: MLP width as a multiple of d-model", (e, v, k) => M(e, k, m => m with { MlpRatio = Int(v, k, 1) })),
        new("model.path", "hf: the model directory (config.json, model.safetensors or shards with model.safetensors.index.json, tokenizer files), read by the learner; samplers get the weights from it", (e, v, k) => H(e, k, h => h with { Path = Str(v, k) })),
        new("model.dtype", "hf: dtype the parameters are loaded and trained in: float32 (the default), bfloat16 or float16 (the whole update then runs in it, Adam's state too: no float32 master weights)", (e, v, k) => H(e, k, h => h with { Dtype = Str(v, k) })),
        new("model.tokenizer", "hf: the directory of the tokenizer files (tokenizer.json, or vocab.json + merges.txt, or one *.tiktoken; tokenizer_config.json) when not model.path; the same files must be at that path on every node (checked by SHA-256)", (e, v, k) => H(e, k, h => h with { Tokenizer = Str(v, k) })),
        new("model.prompt-template", "hf: how a task prompt becomes the model's text: auto (the chat markup of tokenizer_config.json's chat_template, else plain), plain (model.prompt-format), chatml (Qwen2) or llama3", (e, v, k) => H(e, k, h => h with { Template = Str(v, k) })),
        new("model.prompt-format", "hf: the plain template, holding {prompt} once (default \"{prompt}\\n\")", (e, v, k) => H(e, k, h => h with { Format = Str(v, k) })),
        new("model.system-prompt", "hf: a system turn before each prompt (chat templates)", (e, v, k) => H(e, k, h => h with { SystemPrompt = Str(v, k) })),
        new("model.eos-token", "hf: the token that ends a completion when not the tokenizer files' eos_token (e.g. \"<|im_end|>\" to train a ChatML base model in chat form)", (e, v, k) => H(e, k, h => h with { EosToken = Str(v, k) })),
        new("task.type", "the task: arithmetic (the default: the built-in generator, keys task.min-ops .. task.operators) or jsonl (a data set, keys task.train .. task.tolerance)",
            (e, v, k) => Str(v, k) is GrpoExperiment.ArithmeticTask or GrpoExperiment.JsonlTask ? e with { TaskType = Str(v, k) }
                : throw new ConfigError($"{k}: expected {GrpoExperiment.ArithmeticTask} or {GrpoExperiment.JsonlTask}, got '{Str(v, k)}'")),
        new("task.min-ops", "arithmetic: fewest operations per problem", (e, v, k) => T(e, k, t => t with { MinOps = Int(v, k, 1) })),
        new("task.max-ops", "arithmetic: most operations per problem", (e, v, k) => T(e, k, t => t with { MaxOps = Int(v, k, 1) })),
        new("task.operand-digits", "arithmetic: digits per operand", (e, v, k) => T(e, k, t => t with { OperandDigits = Int(v, k, 1) })),
        new("task.operators", "arithmetic: operators to draw from, a string over \"+-*\"", (e, v, k) => T(e, k, t => t with { Operators = Str(v, k) })),
        new("task.train", "jsonl: the training rows, one JSON object a line (path relative to the working directory; the same file must be at that path on every node that samples or scores, checked by SHA-256)", (e, v, k) => D(e, k, d => d with { Train = Str(v, k) })),
        new("task.test", "jsonl: the held-out rows for evaluation (or task.test-fraction)", (e, v, k) => D(e, k, d => d with { Test = Str(v, k) })),
        new("task.test-fraction", "jsonl: without task.test, hold out this fraction of the train rows, in (0, 1)", (e, v, k) => D(e, k, d => d with { TestFraction = Dbl(v, k) })),
        new("task.split-seed", "jsonl: seed of the task.test-fraction split", (e, v, k) => D(e, k, d => d with { SplitSeed = (ulong)Long(v, k, 0) })),
        new("task.prompt-field", "jsonl: the field holding the prompt (default prompt); the policy sees the prompt and a newline", (e, v, k) => D(e, k, d => d with { PromptField = Str(v, k) })),
        new("task.answer-field", "jsonl: the field holding the ground-truth answer (default answer)", (e, v, k) => D(e, k, d => d with { AnswerField = Str(v, k) })),
        new("task.solution-field", "jsonl: the field holding a worked solution, the completion SFT teaches (without it there is no SFT)", (e, v, k) => D(e, k, d => d with { SolutionField = Str(v, k) })),
        new("task.verifier", "jsonl: how an answer is judged: exact, numeric (within task.tolerance), last-number, gsm8k (the number after ####) or boxed (\\boxed{...}, as MATH)", (e, v, k) => D(e, k, d => d with { Verifier = Str(v, k) })),
        new("task.tolerance", "jsonl: absolute (and relative, for large values) tolerance of the numeric verifier", (e, v, k) => D(e, k, d => d with { Tolerance = Dbl(v, k) })),
        new("sft.steps", "supervised warm-up steps (0 skips SFT)", (e, v, k) => S(e, s => s with { Steps = Int(v, k, 0) })),
        new("sft.batch-size", "reference solutions per SFT step", (e, v, k) => S(e, s => s with { BatchSize = Int(v, k, 1) })),
        new("sft.learning-rate", "SFT Adam learning rate", (e, v, k) => S(e, s => s with { LearningRate = Dbl(v, k) })),
        new("sft.warmup-steps", "linear learning-rate warm-up steps", (e, v, k) => S(e, s => s with { WarmupSteps = Int(v, k, 0) })),
        new("sft.final-lr-fraction", "cosine decay to this fraction of the learning rate (1: constant)", (e, v, k) => S(e, s => s with { FinalLrFraction = Dbl(v, k) })),
        new("sft.max-grad-norm", "SFT gradient clipping (0 disables)", (e, v, k) => S(e, s => s with { MaxGradNorm = Dbl(v, k) })),
        new("grpo.steps", "GRPO steps after SFT", (e, v, k) => e with { Options = e.Options with { GrpoSteps = Int(v, k, 0) } }),
        new("grpo.group-size", "completions per prompt (G)", (e, v, k) => G(e, g => g with { GroupSize = Int(v, k, 2) })),
        new("grpo.prompts-per-step", "prompts per GRPO step", (e, v, k) => G(e, g => g with { PromptsPerStep = Int(v, k, 1) })),
        new("grpo.learning-rate", "GRPO Adam learning rate", (e, v, k) => G(e, g => g with { LearningRate = Dbl(v, k) })),
        new("grpo.adam-beta1", "Adam beta1", (e, v, k) => G(e, g => g with { AdamBeta1 = Dbl(v, k) })),
        new("grpo.adam-beta2", "Adam beta2", (e, v, k) => G(e, g => g with { AdamBeta2 = Dbl(v, k) })),
        new("grpo.adam-eps", "Adam epsilon", (e, v, k) => G(e, g => g with { AdamEps = Dbl(v, k) })),
        new("grpo.clip-low", "PPO clip range below 1", (e, v, k) => G(e, g => g with { ClipLow = Dbl(v, k) })),
        new("grpo.clip-high", "PPO clip range above 1", (e, v, k) => G(e, g => g with { ClipHigh = Dbl(v, k) })),
        new("grpo.kl-coef", "weight of KL to the frozen reference (k3); 0 disables the reference", (e, v, k) => G(e, g => g with { KlCoef = Dbl(v, k) })),
        new("grpo.normalize-std", "divide advantages by the group std", (e, v, k) => G(e, g => g with { NormalizeStd = Bool(v, k) })),
        new("grpo.std-epsilon", "added to the std before dividing", (e, v, k) => G(e, g => g with { StdEpsilon = Dbl(v, k) })),
        new("grpo.aggregation", "token-mean or sequence-mean", (e, v, k) => G(e, g => g with { Aggregation = Agg(v, k) })),
        new("grpo.max-grad-norm", "gradient clipping (0 disables)", (e, v, k) => G(e, g => g with { MaxGradNorm = Dbl(v, k) })),
        new("grpo.update-epochs", "PPO epochs per batch", (e, v, k) => G(e, g => g with { UpdateEpochs = Int(v, k, 1) })),
        new("grpo.mini-batches", "minibatches per epoch", (e, v, k) => G(e, g => g with { MiniBatches = Int(v, k, 1) })),
        new("grpo.temperature", "sampling temperature", (e, v, k) => G(e, g => g with { Temperature = Dbl(v, k) })),
        new("grpo.top-k", "sampling top-k (0 keeps all)", (e, v, k) => G(e, g => g with { TopK = Int(v, k, 0) })),
        new("grpo.max-new-tokens", "most tokens per completion", (e, v, k) => G(e, g => g with { MaxNewTokens = Int(v, k, 1) })),
        new("algorithm", "the RL algorithm after SFT: grpo (the default; its keys are grpo.*) or ppo (PPO with a learned critic, GAE; keys ppo.*). Sampling (grpo.prompts-per-step, group-size, temperature, top-k, max-new-tokens) is shared, so algorithms compare on the same rollouts",
            (e, v, k) => Str(v, k) is var a && LmAlgorithms.Names.Contains(a) ? e with { Options = e.Options with { Algorithm = a } }
                : throw new ConfigError($"{k}: expected one of {string.Join(", ", LmAlgorithms.Names)}, got '{Str(v, k)}'")),
        new("eval.problems", "held-out problems for greedy evaluation", (e, v, k) => e with { Options = e.Options with { EvalProblems = Int(v, k, 1) } }),
        new("eval.every", "evaluate every N GRPO steps (0: only after SFT and at the end)", (e, v, k) => e with { Options = e.Options with { EvalEvery = Int(v, k, 0) } }),
        .. RuntimeKeys.For<GrpoExperiment>(e => e.Runtime, (e, r) => e with { Runtime = r }, Work),
        new("rewards", "list of reward components: [{ type = \"outcome\" | \"Ns.Type, Assembly\", assembly = \"path.dll\", weight = 1.0, timeout = 10 }]", (e, v, k) => e with { Rewards = RewardList(v, k) }),
        new("capo.critiques", "CAPO: critiques per response (N)", (e, v, k) => C(e, c => c with { Critiques = Int(v, k, 1) })),
        new("capo.vote", "CAPO: voting rule over critiques: union, intersection, majority (flagged by more than half) or average (flagged by at least tau)", (e, v, k) => C(e, c => c with { Vote = Str(v, k) })),
        new("capo.tau", "CAPO: threshold of the average rule, in (0, 1]", (e, v, k) => C(e, c => c with { Tau = Dbl(v, k) })),
        new("capo.penalty", "CAPO: P, subtracted from every token of a voted-wrong step (default 0.25)", (e, v, k) => C(e, c => c with { Penalty = Dbl(v, k) })),
        new("capo.correct-reward", "CAPO: C for a correct final answer", (e, v, k) => C(e, c => c with { CorrectReward = Dbl(v, k) })),
        new("capo.incorrect-reward", "CAPO: C for a wrong or missing final answer", (e, v, k) => C(e, c => c with { IncorrectReward = Dbl(v, k) })),
        new("capo.penalize-correct", "CAPO: also penalise wrong steps of responses whose final answer is right", (e, v, k) => C(e, c => c with { PenalizeCorrectAnswers = Bool(v, k) })),
        new("capo.penalize-missing-steps", "CAPO: penalise the answer of a response that wrote fewer steps than the problem has operations, as a cut-off answer is (default true; false lets the policy skip the working to avoid step penalties)", (e, v, k) => C(e, c => c with { PenalizeMissingSteps = Bool(v, k) })),
        new("capo.deadline", "CAPO: seconds a vote waits for its critiques; later ones are left out and counted", (e, v, k) => C(e, c => c with { DeadlineSeconds = Pos(v, k) })),
        new("capo.compare-with-oracle", "CAPO: report prm_precision/recall/f1 of the votes against the arithmetic oracle", (e, v, k) => C(e, c => c with { CompareWithOracle = Bool(v, k) })),
        new("capo.voters-per-node", "CAPO: GenPRM voter actors on each node with the voter role", (e, v, k) => C(e, c => c with { VotersPerNode = Int(v, k, 1) })),
        new("capo.max-failed-fraction", "CAPO: a step in which more than this fraction of critiques did not vote logs a WARNING naming the judge and the reasons (default 0.5)", (e, v, k) => C(e, c => c with { MaxFailedFraction = Dbl(v, k) })),
        new("capo.on-judge-failure", "CAPO: \"warn\" (default) or \"stop\": a step over capo.max-failed-fraction ends the run with exit 1", (e, v, k) => C(e, c => c with { OnJudgeFailure = Str(v, k) })),
        new("capo.judge.type", "CAPO judge: oracle, noisy-oracle or openai", (e, v, k) => J(e, j => j with { Type = Str(v, k) })),
        new("capo.judge.false-positive", "noisy-oracle: probability of flagging a correct step", (e, v, k) => J(e, j => j with { FalsePositiveRate = Dbl(v, k) })),
        new("capo.judge.false-negative", "noisy-oracle: probability of missing a wrong step", (e, v, k) => J(e, j => j with { FalseNegativeRate = Dbl(v, k) })),
        new("capo.judge.correlation", "noisy-oracle: share of errors common to all critiques of a response (0: independent)", (e, v, k) => J(e, j => j with { Correlation = Dbl(v, k) })),
        new("capo.judge.seed", "noisy-oracle: seed of its errors (default: derived from the experiment seed)", (e, v, k) => J(e, j => j with { Seed = (ulong)Long(v, k, 0) }) with { CapoSeedSet = true }),
        new("capo.judge.base-url", "openai: base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1", (e, v, k) => J(e, j => j with { OpenAi = j.OpenAi with { BaseUrl = Str(v, k) } })),
        new("capo.judge.model", "openai: model name", (e, v, k) => J(e, j => j with { OpenAi = j.OpenAi with { Model = Str(v, k) } })),
        new("capo.judge.api-key-env", "openai: NAME of the environment variable holding the API key (the key itself is never read from files, logged or stored)", (e, v, k) => J(e, j => j with { OpenAi = j.OpenAi with { ApiKeyEnv = Str(v, k) } })),
        new("capo.judge.temperature", "openai: sampling temperature", (e, v, k) => J(e, j => j with { OpenAi = j.OpenAi with { Temperature = Dbl(v, k) } })),
        new("capo.judge.max-tokens", "openai: most tokens per critique", (e, v, k) => J(e, j => j with { OpenAi = j.OpenAi with { MaxTokens = Int(v, k, 1) } })),
        new("capo.judge.use-n", "openai: ask for several critiques with n in one request (false: parallel requests)", (e, v, k) => J(e, j => j with { OpenAi = j.OpenAi with { UseN = Bool(v, k) } })),
        new("capo.judge.timeout", "openai: per-request timeout in seconds", (e, v, k) => J(e, j => j with { OpenAi = j.OpenAi with { TimeoutSeconds = Pos(v, k) } })),
        new("capo.judge.max-retries", "openai: retries on 429 and 5xx, with exponential backoff", (e, v, k) => J(e, j => j with { OpenAi = j.OpenAi with { MaxRetries = Int(v, k, 0) } })),
        new("capo.judge.backoff", "openai: first retry backoff in seconds (doubles each retry; Retry-After overrides)", (e, v, k) => J(e, j => j with { OpenAi = j.OpenAi with { BackoffSeconds = Dbl(v, k) } })),
        new("capo.judge.max-backoff", "openai: longest wait before a retry, in seconds", (e, v, k) => J(e, j => j with { OpenAi = j.OpenAi with { MaxBackoffSeconds = Dbl(v, k) } })),
        new("capo.judge.concurrency", "openai: most requests in flight per voter", (e, v, k) => J(e, j => j with { OpenAi = j.OpenAi with { MaxConcurrency = Int(v, k, 1) } })),
        new("eval.seed", "seed of the held-out set", (e, v, k) => e with { Options = e.Options with { EvalSeed = (ulong)Long(v, k, 0) } }),
    ];

    /// <summary>Every key an experiment file may set, with its meaning.</summary>
    public static IEnumerable<(string Name, string Doc)> Keys => KeyTable.Select(k => (k.Name, k.Doc));

    /// <summary>The keys of the file: the fixed ones and every registered algorithm's options keys (<c>ppo.*</c>, ...), which an
    /// algorithm declares next to its options record.</summary>
    private static readonly ConfigKey<GrpoExperiment>[] KeyTable = [.. FixedKeys, .. LmAlgorithms.All.SelectMany(AlgorithmKeys)];

    private static IEnumerable<ConfigKey<GrpoExperiment>> AlgorithmKeys(LmAlgorithmEntry algorithm) => algorithm.Keys.Select(key =>
        new ConfigKey<GrpoExperiment>($"{algorithm.Name}.{key.Name}", key.Doc, (e, v, k) =>
        {
            object value = key.Type switch
            {
                AlgorithmKeyType.Number => Dbl(v, k),
                AlgorithmKeyType.Count => Int(v, k, 1),
                _ => Bool(v, k),
            };
            object options = e.Options.AlgorithmOptions is { } o && algorithm.OptionsType.IsInstanceOfType(o) ? o : Activator.CreateInstance(algorithm.OptionsType)!;
            return e with { Options = e.Options with { AlgorithmOptions = key.Set(options, value) } };
        }));

    /// <summary>Reads <paramref name="path"/> and applies <paramref name="overrides"/> ("key=value").</summary>
    public static GrpoExperiment Load(string path, IReadOnlyList<string> overrides)
    {
        if (!File.Exists(path)) throw new ConfigError($"experiment file not found: {path}");
        string text = File.ReadAllText(path);
        return Parse(text, path, overrides);
    }

    /// <summary>Parses experiment text; <paramref name="origin"/> names it in error messages.</summary>
    public static GrpoExperiment Parse(string text, string origin, IReadOnlyList<string> overrides)
    {
        var read = ConfigReader.Apply(text, origin, overrides, KeyTable,
            source => new GrpoExperiment(Path.GetFileNameWithoutExtension(origin), new GrpoRunOptions(), 10, source));
        var exp = read.Value with { EffectiveText = read.EffectiveText };
        var algorithm = LmAlgorithms.Find(exp.Options.Algorithm);
        if (exp.Options.AlgorithmOptions is { } set && !algorithm.OptionsType.IsInstanceOfType(set))
        {
            string other = LmAlgorithms.All.First(a => a.OptionsType.IsInstanceOfType(set)).Name;
            throw new ConfigError($"{origin}: {other}.* keys are set but algorithm = \"{exp.Options.Algorithm}\"; add algorithm = \"{other}\" or remove them");
        }
        exp = WithModel(exp, origin);
        exp = WithTask(exp, origin);
        try
        {
            exp.Options.Validate(); exp.Capo.Validate();
            if (exp.Runtime.UnitSize > exp.Options.Grpo.PromptsPerStep)
                throw new ArgumentException($"runtime.prompts-per-slot must be in [0, grpo.prompts-per-step = {exp.Options.Grpo.PromptsPerStep}] (got {exp.Runtime.UnitSize})");
            algorithm.Validate(exp.Options.AlgorithmOptions ?? Activator.CreateInstance(algorithm.OptionsType)!);
        }
        catch (ArgumentException e) { throw read.Blame.Invalid(e, TaskProperties); }
        if (exp.Options.Data is null) CheckLengths(exp.Options, read.Blame);
        exp = WithCapo(exp, origin);
        CheckName(exp.Name, origin);
        return exp;
    }

    /// <summary>The task's property names, as its validation names them, and the keys that set them.</summary>
    private static readonly Dictionary<string, string> TaskProperties = new()
    {
        ["MinOps"] = "task.min-ops", ["MaxOps"] = "task.max-ops", ["OperandDigits"] = "task.operand-digits", ["Operators"] = "task.operators",
    };

    /// <summary>The arithmetic task's lengths come from its own format (<see cref="ArithmeticLengths"/>).</summary>
    private static void CheckLengths(GrpoRunOptions o, ConfigBlame blame)
    {
        var t = o.Task;
        string task = $"task.max-ops = {t.MaxOps}, task.operand-digits = {t.OperandDigits}, task.operators = \"{t.Operators}\"";
        int prompt = ArithmeticLengths.LongestPrompt(t);
        CheckContext(o, prompt, $"the longest prompt ({task})", prompt + ArithmeticLengths.LongestReference(t),
            $"the longest prompt with its reference solution ({task})", blame.Error);
    }

    /// <summary>
    /// One rule for every task: the longest prompt with <c>grpo.max-new-tokens</c> after it (sampling and evaluation), and
    /// with SFT the longest training sequence (<paramref name="sft"/>, null without one), must fit <c>model.context</c>.
    /// </summary>
    private static void CheckContext(GrpoRunOptions o, int prompt, string promptText, int? sft, string sftText, Func<string, Exception> error)
    {
        int context = o.Model.Context, maxNew = o.Grpo.MaxNewTokens;
        // An hf model's context is its config.json's max_position_embeddings, which the file cannot raise.
        string name = o.Pretrained is null ? $"model.context = {context}" : $"the model's max_position_embeddings ({context}, {o.Pretrained.Path}/config.json)";
        string raise(int n) => o.Pretrained is null ? $"raise model.context to {n}" : "shorten the task's prompts";
        if (prompt + maxNew > context)
            throw error($"{name} is too short: {promptText} has {prompt} tokens and " +
                        $"grpo.max-new-tokens = {maxNew} come after it, {prompt + maxNew} in all; {raise(prompt + maxNew)} or lower grpo.max-new-tokens");
        if (o.Sft.Steps > 0 && sft is int n && n > context)
            throw error($"{name} is too short for SFT: {sftText} has {n} tokens; {raise(n)}");
    }

    /// <summary>
    /// model.type = "hf": the directory's config.json must load (errors name the file and key), GPT keys are refused, and
    /// the tokenizer is opened and its files' SHA-256 pinned into the settings the nodes get. A gpt model refuses hf keys.
    /// </summary>
    private static GrpoExperiment WithModel(GrpoExperiment exp, string origin)
    {
        if (exp.ModelType == GrpoExperiment.GptModel)
        {
            if (exp.HfKeySet is { } key)
                throw new ConfigError($"{origin}: {key} is a key of model.type = \"hf\" but the model is the toy GPT; add model.type = \"hf\"");
            return exp;
        }
        if (exp.GptKeySet is { } gpt)
            throw new ConfigError($"{origin}: {gpt} is a key of model.type = \"gpt\"; an hf model's shape comes from its config.json, remove it");
        var h = exp.Hf;
        if (h.Path is null) throw new ConfigError($"{origin}: model.path: missing (model.type = \"hf\" needs the model directory)");
        if (!Directory.Exists(h.Path)) throw new ConfigError($"model.path = \"{h.Path}\": the directory does not exist (a Hugging Face model directory: a downloaded checkpoint, or one written by 'rlactors make-hf-model --out {h.Path} --corpus <train.jsonl>')");
        var pretrained = new Policies.Lm.PretrainedModel(h.Path, h.Dtype);
        var tokenizer = new Environments.Tokenizers.TokenizerSpec
        {
            Directory = h.Tokenizer ?? h.Path, Template = h.Template, Format = h.Format, SystemPrompt = h.SystemPrompt, EosToken = h.EosToken,
        };
        Policies.Hf.HfConfig config;
        try
        {
            pretrained.Validate();
            tokenizer.Validate();
            config = pretrained.Config();
            tokenizer = tokenizer.Pinned();
        }
        catch (ArgumentException e) { throw new ConfigError($"{origin}: {e.Message}"); }
        catch (InvalidDataException e) { throw new ConfigError($"model.path: {e.Message}"); }
        catch (Environments.Tasks.TaskDataException e) { throw new ConfigError($"model.tokenizer: {e.Message}"); }
        try { Policies.Hf.HfPretrained.CheckVocabulary(tokenizer.Open().Tokenizer, config, tokenizer.Directory); }
        catch (InvalidDataException e) { throw new ConfigError($"model.tokenizer: {e.Message}"); }
        return exp with { Options = exp.Options with { Pretrained = pretrained, Tokenizer = tokenizer, Model = exp.Options.Model with { Context = config.MaxPositionEmbeddings } } };
    }

    /// <summary>The rewards that read the arithmetic problem (its steps), which a data-set task does not have.</summary>
    private static readonly string[] ArithmeticRewards = ["format", "step-correctness", GrpoExperiment.CapoRewardType];

    /// <summary>
    /// A JSONL task: reads its files (a missing file, a malformed line or field is an error naming the file and line),
    /// pins their SHA-256 into the settings the nodes get, checks that prompts and solutions fit <c>model.context</c>, and
    /// refuses rewards that need the arithmetic problem. Keys of the other task type are an error.
    /// </summary>
    private static GrpoExperiment WithTask(GrpoExperiment exp, string origin)
    {
        if (exp.TaskType == GrpoExperiment.ArithmeticTask)
        {
            if (exp.JsonlKeySet is { } key)
                throw new ConfigError($"{origin}: {key} is a key of task.type = \"jsonl\" but the task is arithmetic; add task.type = \"jsonl\"");
            return exp;
        }
        if (exp.ArithmeticKeySet is { } arithmetic)
            throw new ConfigError($"{origin}: {arithmetic} is a key of the arithmetic task but task.type = \"jsonl\"; remove it");
        var d = exp.Options.Data ?? new Environments.Tasks.JsonlTaskOptions();
        if (string.IsNullOrWhiteSpace(d.Train)) throw new ConfigError($"{origin}: task.train: missing (task.type = \"jsonl\" needs a train file)");
        if (d.Test is null && d.TestFraction == 0) throw new ConfigError($"{origin}: task.test: missing (give a test file, or task.test-fraction to split the train file)");
        for (int i = 0; i < exp.Rewards.Count; i++)
            if (ArithmeticRewards.Contains(exp.Rewards[i].Type))
                throw new ConfigError($"{origin}: rewards[{i}]: reward '{exp.Rewards[i].Type}' needs the arithmetic task's problems, not task.type = \"jsonl\" (use outcome, which applies task.verifier, or a plug-in)");
        Environments.Tasks.JsonlTask task;
        try { task = Environments.Tasks.JsonlTask.Open(d); }
        catch (ArgumentException e) { throw new ConfigError($"{origin}: {e.Message}"); }
        catch (Environments.Tasks.TaskDataException e) { throw new ConfigError(e.Message); }
        catch (IOException e) { throw new ConfigError($"{d.Train}: {e.Message}"); }
        var o = exp.Options with { Data = task.Pinned };
        if (o.Pretrained is null) o = o with { Model = o.Model with { VocabSize = task.Tokenizer.VocabSize } };
        // Lengths in the policy's tokens: one per character with the task's character table, the model tokenizer's otherwise.
        var (prompt, promptAndSolution) = Environments.Tasks.TaskRuntime.OfJsonl(task.Pinned, 0, o.Tokenizer).LongestTokens();
        string unit = o.Pretrained is null ? "(with its newline)" : "(rendered by model.prompt-template)";
        CheckContext(o, prompt, $"the longest prompt of the task {unit}",
            d.SolutionField is null ? null : promptAndSolution,
            "the longest train prompt with its solution and end token", m => new ConfigError($"{origin}: {m}"));
        return exp with { Options = o };
    }

    /// <summary>
    /// Attaches the CAPO settings to the reward of type "capo" (its timeout must outlast the vote's deadline); capo.*
    /// keys without a capo reward are an error, since they would silently do nothing.
    /// </summary>
    private static GrpoExperiment WithCapo(GrpoExperiment exp, string origin)
    {
        if (!exp.UsesCapo)
        {
            if (exp.CapoKeysSet)
                throw new ConfigError($"{origin}: capo.* keys are set but no reward has type = \"capo\"; add rewards = [{{ type = \"capo\" }}]");
            return exp;
        }
        var capo = exp.CapoSeedSet ? exp.Capo : exp.Capo with { Judge = exp.Capo.Judge with { Seed = Environments.SplitMix64.Stream(exp.Options.Seed, 11) } };
        var rewards = exp.Rewards.Select(r =>
        {
            if (r.Type != GrpoExperiment.CapoRewardType) return r;
            if (r.TimeoutSeconds <= capo.DeadlineSeconds)
                throw new ConfigError($"{origin}: the capo reward's timeout ({r.TimeoutSeconds} s) must be longer than capo.deadline ({capo.DeadlineSeconds} s)");
            return r with { Settings = capo.ToJson() };
        }).ToList();
        return exp with { Capo = capo, Rewards = rewards };
    }

    private static GrpoExperiment M(GrpoExperiment e, string key, Func<Policies.Lm.LmConfig, Policies.Lm.LmConfig> f) =>
        e with { Options = e.Options with { Model = f(e.Options.Model) }, GptKeySet = e.GptKeySet ?? key };
    private static GrpoExperiment H(GrpoExperiment e, string key, Func<HfKeys, HfKeys> f) => e with { Hf = f(e.Hf), HfKeySet = e.HfKeySet ?? key };
    private static GrpoExperiment T(GrpoExperiment e, string key, Func<Environments.Arithmetic.ArithmeticOptions, Environments.Arithmetic.ArithmeticOptions> f) =>
        e with { Options = e.Options with { Task = f(e.Options.Task) }, ArithmeticKeySet = e.ArithmeticKeySet ?? key };
    private static GrpoExperiment D(GrpoExperiment e, string key, Func<Environments.Tasks.JsonlTaskOptions, Environments.Tasks.JsonlTaskOptions> f) =>
        e with { Options = e.Options with { Data = f(e.Options.Data ?? new()) }, JsonlKeySet = e.JsonlKeySet ?? key };
    private static GrpoExperiment S(GrpoExperiment e, Func<SftOptions, SftOptions> f) => e with { Options = e.Options with { Sft = f(e.Options.Sft) } };
    private static GrpoExperiment G(GrpoExperiment e, Func<GrpoOptions, GrpoOptions> f) => e with { Options = e.Options with { Grpo = f(e.Options.Grpo) } };

    private static GrpoExperiment C(GrpoExperiment e, Func<CapoSettings, CapoSettings> f) => e with { Capo = f(e.Capo), CapoKeysSet = true };
    private static GrpoExperiment J(GrpoExperiment e, Func<JudgeSpec, JudgeSpec> f) => C(e, c => c with { Judge = f(c.Judge) });

    private static IReadOnlyList<RewardSpecDto> RewardList(HoconValue v, string key)
    {
        if (IsEmptyList(v)) throw new ConfigError($"{key}: the list is empty; it must hold at least one reward, e.g. [{{ type = \"outcome\" }}]");
        if (!v.IsArray()) throw new ConfigError($"{key}: expected a list of {{ type = ..., assembly = ..., weight = ... }}");
        var list = new List<RewardSpecDto>();
        int i = 0;
        foreach (var item in v.GetArray())
        {
            string at = $"{key}[{i++}]";
            if (!item.IsObject()) throw new ConfigError($"{at}: expected an object with a type");
            var items = item.GetObject().Items;
            foreach (var name in items.Keys)
                if (name is not ("type" or "assembly" or "weight" or "timeout"))
                    throw new ConfigError($"{at}.{name}: unknown key (expected type, assembly, weight, timeout)");
            if (!items.TryGetValue("type", out var type)) throw new ConfigError($"{at}.type: missing");
            string? assembly = items.TryGetValue("assembly", out var a) ? Str(a, $"{at}.assembly") : null;
            double weight = items.TryGetValue("weight", out var w) ? Dbl(w, $"{at}.weight") : 1.0;
            string typeName = Str(type, $"{at}.type");
            // CAPO waits for remote critiques (capo.deadline, 30 s by default): its default timeout outlasts that.
            double timeout = items.TryGetValue("timeout", out var t) ? Pos(t, $"{at}.timeout") : typeName == GrpoExperiment.CapoRewardType ? 60 : 10;
            list.Add(new RewardSpecDto(typeName, assembly, weight, timeout));
        }
        if (list.Count == 0) throw new ConfigError($"{key}: the list is empty; it must hold at least one reward, e.g. [{{ type = \"outcome\" }}]");
        return list;
    }

    private static LossAggregation Agg(HoconValue v, string key) => Str(v, key) switch
    {
        "token-mean" => LossAggregation.TokenMean,
        "sequence-mean" => LossAggregation.SequenceMean,
        var s => throw new ConfigError($"{key}: expected token-mean or sequence-mean, got '{s}'"),
    };
}
