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
    /// <summary>openai: base URL ending in /v1, e.g. http://127.0.0.1:8000/v1.</summary>
    public string? BaseUrl { get; init; }
    /// <summary>openai: model name.</summary>
    public string? Model { get; init; }
    /// <summary>openai: name of the environment variable holding the API key (null: no Authorization header).</summary>
    public string? ApiKeyEnv { get; init; }
    /// <summary>openai: sampling temperature.</summary>
    public double Temperature { get; init; } = 0.7;
    /// <summary>openai: most tokens per critique.</summary>
    public int MaxTokens { get; init; } = 1024;
    /// <summary>openai: ask for several critiques with <c>n</c> in one request (false: parallel requests).</summary>
    public bool UseN { get; init; } = true;
    /// <summary>openai: per-request timeout in seconds.</summary>
    public double TimeoutSeconds { get; init; } = 60;
    /// <summary>openai: retries on 429 and 5xx.</summary>
    public int MaxRetries { get; init; } = 3;
    /// <summary>openai: most requests in flight per judge.</summary>
    public int MaxConcurrency { get; init; } = 8;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid key (as <c>capo.judge.*</c>).</summary>
    public void Validate()
    {
        if (!Types.Contains(Type)) throw new ArgumentException($"capo.judge.type must be one of {string.Join(", ", Types)} (got '{Type}')");
        if (FalsePositiveRate is < 0 or > 1) throw new ArgumentException($"capo.judge.false-positive must be in [0, 1] (got {FalsePositiveRate})");
        if (FalseNegativeRate is < 0 or > 1) throw new ArgumentException($"capo.judge.false-negative must be in [0, 1] (got {FalseNegativeRate})");
        if (Correlation is < 0 or > 1) throw new ArgumentException($"capo.judge.correlation must be in [0, 1] (got {Correlation})");
        if (Type == "openai")
        {
            if (string.IsNullOrWhiteSpace(BaseUrl) || !Uri.TryCreate(BaseUrl, UriKind.Absolute, out var u) || u.Scheme is not ("http" or "https"))
                throw new ArgumentException($"capo.judge.base-url must be an http(s) URL such as http://127.0.0.1:8000/v1 (got '{BaseUrl}')");
            if (string.IsNullOrWhiteSpace(Model)) throw new ArgumentException("capo.judge.model is required for the openai judge");
        }
        if (TimeoutSeconds <= 0) throw new ArgumentException($"capo.judge.timeout must be > 0 (got {TimeoutSeconds})");
        if (MaxRetries < 0) throw new ArgumentException($"capo.judge.max-retries must be >= 0 (got {MaxRetries})");
        if (MaxConcurrency < 1) throw new ArgumentException($"capo.judge.concurrency must be >= 1 (got {MaxConcurrency})");
        if (MaxTokens < 1) throw new ArgumentException($"capo.judge.max-tokens must be >= 1 (got {MaxTokens})");
    }

    /// <summary>Builds the judge (dispose it when it is <see cref="IDisposable"/>).</summary>
    public IGenPrmJudge Create() => Type switch
    {
        "oracle" => new OracleJudge(),
        "noisy-oracle" => new NoisyOracleJudge(FalsePositiveRate, FalseNegativeRate, Correlation, Seed),
        "openai" => new OpenAiJudge(new OpenAiJudgeOptions
        {
            BaseUrl = BaseUrl!, Model = Model!, ApiKeyEnv = ApiKeyEnv, Temperature = Temperature, MaxTokens = MaxTokens,
            UseN = UseN, TimeoutSeconds = TimeoutSeconds, MaxRetries = MaxRetries, MaxConcurrency = MaxConcurrency,
        }),
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
    /// <summary>P: subtracted from the reward of every token of a voted-wrong step.</summary>
    public double Penalty { get; init; } = 1.0;
    /// <summary>C for a correct final answer.</summary>
    public double CorrectReward { get; init; } = 1.0;
    /// <summary>C for a wrong or missing final answer.</summary>
    public double IncorrectReward { get; init; }
    /// <summary>Whether wrong steps are penalised in responses whose final answer is right (errors that cancel).</summary>
    public bool PenalizeCorrectAnswers { get; init; } = true;
    /// <summary>Seconds a vote waits for its critiques; late ones are left out and counted as timed out.</summary>
    public double DeadlineSeconds { get; init; } = 30;
    /// <summary>Compare voted wrong steps with the arithmetic oracle (prm_precision/recall/f1 metrics).</summary>
    public bool CompareWithOracle { get; init; } = true;
    /// <summary>Voter actors on each node with the voter role.</summary>
    public int VotersPerNode { get; init; } = 4;
    /// <summary>The judge.</summary>
    public JudgeSpec Judge { get; init; } = new();

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid key.</summary>
    public void Validate()
    {
        if (Critiques < 1) throw new ArgumentException($"capo.critiques must be >= 1 (got {Critiques})");
        try { Voting.ParseRule(Vote); }
        catch (ArgumentException e) { throw new ArgumentException($"capo.vote: {e.Message}"); }
        if (Tau is <= 0 or > 1) throw new ArgumentException($"capo.tau must be in (0, 1] (got {Tau})");
        if (!double.IsFinite(Penalty) || Penalty < 0) throw new ArgumentException($"capo.penalty must be >= 0 (got {Penalty})");
        if (DeadlineSeconds <= 0) throw new ArgumentException($"capo.deadline must be > 0 (got {DeadlineSeconds})");
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
