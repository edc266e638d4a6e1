using System.Text.Json;
using System.Text.Json.Serialization;

namespace RlActors.Rewards.Capo;

/// <summary>
/// Which GenPRM judge to ask and how (config keys <c>capo.judge.*</c>). Travels as JSON inside critique requests so a
/// voter on any node builds the same judge. Holds the <em>name</em> of the API key's environment variable, never the key.
/// </summary>
public sealed record JudgeSpec
{
    /// <summary>The judge kinds: "oracle", "noisy-oracle", "openai".</summary>
    public static readonly IReadOnlyList<string> Types = ["oracle", "noisy-oracle", "openai"];

    /// <summary>oracle | noisy-oracle | openai.</summary>
    public string Type { get; init; } = "oracle";
    /// <summary>noisy-oracle: probability that a correct step is reported wrong.</summary>
    public double FalsePositiveRate { get; init; } = 0.2;
    /// <summary>noisy-oracle: probability that a wrong step is reported correct.</summary>
    public double FalseNegativeRate { get; init; } = 0.2;
    /// <summary>noisy-oracle: share of per-step errors common to every critique of a response (0 independent, 1 identical).</summary>
    public double Correlation { get; init; }
    /// <summary>noisy-oracle: seed of the flips.</summary>
    public ulong Seed { get; init; }
    /// <summary>openai: the server, model, key variable, sampling and retry settings.</summary>
    public OpenAiJudgeOptions OpenAi { get; init; } = new();

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid key (as <c>capo.judge.*</c>).</summary>
    public void Validate()
    {
        if (!Types.Contains(Type)) throw new ArgumentException($"capo.judge.type must be one of {string.Join(", ", Types)} (got '{Type}')");
        if (FalsePositiveRate is < 0 or > 1) throw new ArgumentException($"capo.judge.false-positive must be in [0, 1] (got {FalsePositiveRate})");
        if (FalseNegativeRate is < 0 or > 1) throw new ArgumentException($"capo.judge.false-negative must be in [0, 1] (got {FalseNegativeRate})");
        if (Correlation is < 0 or > 1) throw new ArgumentException($"capo.judge.correlation must be in [0, 1] (got {Correlation})");
        if (Type == "openai")
        {
            try { OpenAi.Validate(); }
            catch (ArgumentException e)
            {
                string key = e.ParamName is { } p && OpenAiKeys.TryGetValue(p, out var k) ? k : "capo.judge";
                throw new ArgumentException($"{key}: {e.Message.Split(" (Parameter")[0]}");
            }
        }
    }

    /// <summary>The config key of each <see cref="OpenAiJudgeOptions"/> property.</summary>
    public static readonly IReadOnlyDictionary<string, string> OpenAiKeys = new Dictionary<string, string>
    {
        [nameof(OpenAiJudgeOptions.BaseUrl)] = "capo.judge.base-url", [nameof(OpenAiJudgeOptions.Model)] = "capo.judge.model",
        [nameof(OpenAiJudgeOptions.ApiKeyEnv)] = "capo.judge.api-key-env", [nameof(OpenAiJudgeOptions.Temperature)] = "capo.judge.temperature",
        [nameof(OpenAiJudgeOptions.MaxTokens)] = "capo.judge.max-tokens", [nameof(OpenAiJudgeOptions.TimeoutSeconds)] = "capo.judge.timeout",
        [nameof(OpenAiJudgeOptions.MaxRetries)] = "capo.judge.max-retries", [nameof(OpenAiJudgeOptions.BackoffSeconds)] = "capo.judge.backoff",
        [nameof(OpenAiJudgeOptions.MaxBackoffSeconds)] = "capo.judge.max-backoff", [nameof(OpenAiJudgeOptions.MaxConcurrency)] = "capo.judge.concurrency",
    };

    /// <summary>The judge for log lines: "openai at URL (model M)", "oracle", "noisy-oracle". Never the key.</summary>
    public string Describe() => Type == "openai" ? $"openai at {OpenAi.BaseUrl} (model {OpenAi.Model})" : Type;

    /// <summary>Builds the judge (dispose it when it is <see cref="IDisposable"/>).</summary>
    public IGenPrmJudge Create() => Type switch
    {
        "oracle" => new OracleJudge(),
        "noisy-oracle" => new NoisyOracleJudge(FalsePositiveRate, FalseNegativeRate, Correlation, Seed),
        "openai" => new OpenAiJudge(OpenAi),
        _ => throw new ArgumentException($"capo.judge.type must be one of {string.Join(", ", Types)} (got '{Type}')"),
    };

    /// <summary>The JSON form carried in messages.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, CapoJson.Options);

    /// <summary>Reads <see cref="ToJson"/>'s output.</summary>
    public static JudgeSpec FromJson(string json) =>
        JsonSerializer.Deserialize<JudgeSpec>(json, CapoJson.Options) ?? throw new ArgumentException("empty judge settings");
}

/// <summary>
/// CAPO's settings (config keys <c>capo.*</c>): how many critiques per response, how they are voted, how voted wrong
/// steps become token rewards, and the judge. Travels as JSON in the reward spec of the <c>capo</c> reward component.
/// </summary>
public sealed record CapoSettings
{
    /// <summary>Critiques per response (N).</summary>
    public int Critiques { get; init; } = 4;
    /// <summary>union | intersection | majority | average.</summary>
    public string Vote { get; init; } = "majority";
    /// <summary>average: a step is wrong when at least this fraction of valid critiques flags it.</summary>
    public double Tau { get; init; } = 0.5;
    /// <summary>P: subtracted from the reward of every token of a voted-wrong step. Default 0.25: added unnormalised
    /// to unit-scale group-normalised outcome advantages, P = 1 lost to outcome-only GRPO over 6 seeds and P = 0.25 beat
    /// it (docs/capo.md).</summary>
    public double Penalty { get; init; } = 0.25;
    /// <summary>C for a correct final answer.</summary>
    public double CorrectReward { get; init; } = 1.0;
    /// <summary>C for a wrong or missing final answer.</summary>
    public double IncorrectReward { get; init; }
    /// <summary>Whether wrong steps are penalised in responses whose final answer is right (errors that cancel).</summary>
    public bool PenalizeCorrectAnswers { get; init; } = true;
    /// <summary>Whether a response that writes fewer steps than its problem has operations is penalised on its answer
    /// span, as a cut-off answer is (closes the "skip the working" hack; see <see cref="CapoCreditOptions.PenalizeMissingSteps"/>).</summary>
    public bool PenalizeMissingSteps { get; init; } = true;
    /// <summary>Seconds a vote waits for its critiques; late ones are left out and counted as timed out.</summary>
    public double DeadlineSeconds { get; init; } = 30;
    /// <summary>Compare voted wrong steps with the arithmetic oracle (prm_precision/recall/f1 metrics).</summary>
    public bool CompareWithOracle { get; init; } = true;
    /// <summary>Voter actors on each node with the voter role.</summary>
    public int VotersPerNode { get; init; } = 4;
    /// <summary>The judge.</summary>
    public JudgeSpec Judge { get; init; } = new();
    /// <summary>A step in which more than this fraction of the critiques did not vote (failed, timed out, unparseable) logs a
    /// WARNING naming the judge and the reasons, or stops the run (<see cref="OnJudgeFailure"/>). Default 0.5.</summary>
    public double MaxFailedFraction { get; init; } = 0.5;
    /// <summary>"warn" (default) or "stop": what a step over <see cref="MaxFailedFraction"/> does.</summary>
    public string OnJudgeFailure { get; init; } = "warn";

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid key.</summary>
    public void Validate()
    {
        if (Critiques < 1) throw new ArgumentException($"capo.critiques must be >= 1 (got {Critiques})");
        try { Voting.ParseRule(Vote); }
        catch (ArgumentException e) { throw new ArgumentException($"capo.vote: {e.Message}"); }
        if (Tau is <= 0 or > 1) throw new ArgumentException($"capo.tau must be in (0, 1] (got {Tau})");
        if (!double.IsFinite(Penalty) || Penalty < 0) throw new ArgumentException($"capo.penalty must be >= 0 (got {Penalty})");
        if (DeadlineSeconds <= 0) throw new ArgumentException($"capo.deadline must be > 0 (got {DeadlineSeconds})");
        if (MaxFailedFraction is < 0 or > 1 || double.IsNaN(MaxFailedFraction)) throw new ArgumentException($"capo.max-failed-fraction must be in [0, 1] (got {MaxFailedFraction})");
        if (OnJudgeFailure is not ("warn" or "stop")) throw new ArgumentException($"capo.on-judge-failure must be \"warn\" or \"stop\" (got '{OnJudgeFailure}')");
        if (VotersPerNode < 1) throw new ArgumentException($"capo.voters-per-node must be >= 1 (got {VotersPerNode})");
        Judge.Validate();
    }

    /// <summary>The scoring options.</summary>
    public CapoOptions ToOptions() => new()
    {
        Critiques = Critiques,
        Rule = Voting.ParseRule(Vote),
        Tau = Tau,
        Credit = new CapoCreditOptions
        {
            CorrectReward = CorrectReward, IncorrectReward = IncorrectReward, Penalty = Penalty, PenalizeCorrectAnswers = PenalizeCorrectAnswers,
            PenalizeMissingSteps = PenalizeMissingSteps,
        },
    };

    /// <summary>The JSON form carried in the reward spec.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, CapoJson.Options);

    /// <summary>Reads <see cref="ToJson"/>'s output.</summary>
    public static CapoSettings FromJson(string json) =>
        JsonSerializer.Deserialize<CapoSettings>(json, CapoJson.Options) ?? throw new ArgumentException("empty CAPO settings");
}

internal static class CapoJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.KebabCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
