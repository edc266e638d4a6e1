using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace RlActors.Rewards.Capo;

/// <summary>The settings of <see cref="OpenAiJudge"/>.</summary>
public sealed record OpenAiJudgeOptions
{
    /// <summary>The API root, e.g. "http://localhost:8000/v1" (vLLM), "http://localhost:11434/v1" (Ollama); requests go to {BaseUrl}/chat/completions. Required.</summary>
    public string BaseUrl { get; init; } = "";

    /// <summary>The model name the server knows. Required.</summary>
    public string Model { get; init; } = "";

    /// <summary>
    /// The name of the environment variable holding the API key, sent as "Authorization: Bearer …"; null for servers
    /// without authentication. The key itself is never part of the configuration, logs, critiques or errors.
    /// </summary>
    public string? ApiKeyEnv { get; init; }

    /// <summary>Sampling temperature; critiques should differ, so above 0. Default 0.7.</summary>
    public double Temperature { get; init; } = 0.7;

    /// <summary>The most tokens per critique. Default 1024.</summary>
    public int MaxTokens { get; init; } = 1024;

    /// <summary>
    /// Whether to ask for all critiques of a response in one request with "n" (vLLM and hosted APIs support it);
    /// false sends one request per critique, in parallel (for servers that ignore n). Default true.
    /// </summary>
    public bool UseN { get; init; } = true;

    /// <summary>Timeout of one HTTP request, in seconds; a request that takes longer gives TimedOut critiques (not retried). Default 60.</summary>
    public double TimeoutSeconds { get; init; } = 60;

    /// <summary>Retries after a 429, a 5xx or a connection error, with exponential backoff. Default 3.</summary>
    public int MaxRetries { get; init; } = 3;

    /// <summary>The first backoff in seconds; it doubles with each retry. A Retry-After header in seconds overrides it. Default 0.5.</summary>
    public double BackoffSeconds { get; init; } = 0.5;

    /// <summary>The longest wait before a retry, in seconds, whatever the backoff or Retry-After say. Default 30.</summary>
    public double MaxBackoffSeconds { get; init; } = 30;

    /// <summary>The most HTTP requests this judge has in flight at once. Default 8.</summary>
    public int MaxConcurrency { get; init; } = 8;

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentException">A setting is missing or out of range; the message names it.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(BaseUrl)
            || !Uri.TryCreate(BaseUrl, UriKind.Absolute, out Uri? uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            throw new ArgumentException($"BaseUrl must be an absolute http(s) URL such as http://localhost:8000/v1, not '{BaseUrl}'.", nameof(BaseUrl));
        if (string.IsNullOrWhiteSpace(Model))
            throw new ArgumentException("Model must name the model the server serves.", nameof(Model));
        if (ApiKeyEnv is not null && string.IsNullOrWhiteSpace(ApiKeyEnv))
            throw new ArgumentException("ApiKeyEnv must name an environment variable, or be left out.", nameof(ApiKeyEnv));
        if (!double.IsFinite(Temperature) || Temperature < 0)
            throw new ArgumentException($"Temperature must be a non-negative number, not {Temperature}.", nameof(Temperature));
        if (MaxTokens < 1)
            throw new ArgumentException($"MaxTokens must be at least 1, not {MaxTokens}.", nameof(MaxTokens));
        if (!double.IsFinite(TimeoutSeconds) || TimeoutSeconds <= 0)
            throw new ArgumentException($"TimeoutSeconds must be positive, not {TimeoutSeconds}.", nameof(TimeoutSeconds));
        if (MaxRetries < 0)
            throw new ArgumentException($"MaxRetries must be at least 0, not {MaxRetries}.", nameof(MaxRetries));
        if (!double.IsFinite(BackoffSeconds) || BackoffSeconds < 0)
            throw new ArgumentException($"BackoffSeconds must be non-negative, not {BackoffSeconds}.", nameof(BackoffSeconds));
        if (!double.IsFinite(MaxBackoffSeconds) || MaxBackoffSeconds < 0)
            throw new ArgumentException($"MaxBackoffSeconds must be non-negative, not {MaxBackoffSeconds}.", nameof(MaxBackoffSeconds));
        if (MaxConcurrency < 1)
            throw new ArgumentException($"MaxConcurrency must be at least 1, not {MaxConcurrency}.", nameof(MaxConcurrency));
    }
}

/// <summary>
/// A GenPRM judge behind any OpenAI-compatible chat-completions endpoint (vLLM, Ollama, llama.cpp's server, hosted
/// APIs). Name "openai". Thread-safe; dispose it to release its HTTP connections.
/// </summary>
/// <remarks>
/// <para>Each request is <c>POST {BaseUrl}/chat/completions</c> with the model, the two messages of
/// <see cref="CritiquePrompt"/>, temperature, max_tokens and n; each <c>choices[].message.content</c> is read with
/// <see cref="CritiqueParser"/>. A choice cut off at max_tokens (finish_reason "length") is only used when it
/// already holds a keyed "Wrong steps: …" line; otherwise it is Unparseable.</para>
/// <para>Errors never throw (only cancellation of the caller's token does); they become critiques that abstain:
/// a request over <see cref="OpenAiJudgeOptions.TimeoutSeconds"/> gives TimedOut; 429, 5xx and connection errors
/// are retried up to <see cref="OpenAiJudgeOptions.MaxRetries"/> times (waiting Retry-After seconds when the server
/// sends them, else an exponential backoff, both capped) and then give Failed; any other status gives Failed with
/// the status code; a body that is not a chat completion gives Failed.</para>
/// <para>n: when the server returns fewer choices than asked (it ignores or caps n), the missing critiques are
/// requested one per request, in parallel, so the judge still returns <c>count</c> critiques (those requests may
/// fail on their own, giving Failed or TimedOut critiques). Extra choices are ignored.</para>
/// <para>The API key is read from the environment variable <see cref="OpenAiJudgeOptions.ApiKeyEnv"/> on every call
/// (so a rotated key is picked up). When the variable is not set, no request is made and the critiques are Failed
/// with a Detail naming the variable. The key never appears in a Detail: error text from the server is redacted.</para>
/// <para>At most <see cref="OpenAiJudgeOptions.MaxConcurrency"/> requests are in flight at once; the timeout of a
/// request starts when it gets its slot.</para>
/// </remarks>
public sealed class OpenAiJudge : IGenPrmJudge, IDisposable
{
    /// <summary>The name used in configuration and metrics.</summary>
    public const string JudgeName = "openai";

    private readonly OpenAiJudgeOptions _options;
    private readonly HttpClient _http;
    private readonly SemaphoreSlim _slots;
    private readonly Uri _endpoint;

    /// <summary>Creates the judge.</summary>
    /// <param name="options">The settings; validated here.</param>
    /// <param name="handler">The HTTP handler to send with (tests, proxies); the caller keeps ownership. Null for a default one.</param>
    /// <exception cref="ArgumentException">The settings are invalid.</exception>
    public OpenAiJudge(OpenAiJudgeOptions options, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _endpoint = new Uri(options.BaseUrl.TrimEnd('/') + "/chat/completions");
        // A connect that hangs (a full accept queue drops SYNs; the kernel retries after 1, 3, 7, 15 s) fails after at most 10 s
        // and is retried, instead of holding the critique past the vote's deadline.
        _http = handler is null
            ? new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(Math.Min(10, options.TimeoutSeconds)) })
            : new HttpClient(handler, disposeHandler: false);
        _http.Timeout = Timeout.InfiniteTimeSpan; // the per-request timeout is ours, so it can tell timeouts from cancellation
        _slots = new SemaphoreSlim(options.MaxConcurrency, options.MaxConcurrency);
    }

    /// <inheritdoc />
    public string Name => JudgeName;

    /// <summary>The settings.</summary>
    public OpenAiJudgeOptions Options => _options;

    /// <inheritdoc />
    public async Task<IReadOnlyList<Critique>> CritiqueAsync(CritiqueRequest request, int count, int firstIndex, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegative(firstIndex);
        ct.ThrowIfCancellationRequested();
        if (count == 0)
            return [];

        string? key = null;
        if (_options.ApiKeyEnv is { } variable)
        {
            key = Environment.GetEnvironmentVariable(variable);
            if (string.IsNullOrEmpty(key))
                return Repeat(Critique.Abstain(CritiqueStatus.Failed, CritiqueFailure.ApiKey,
                    $"the API key environment variable {variable} is not set"), count);
        }

        if (!_options.UseN)
            return await Task.WhenAll(Enumerable.Range(0, count).Select(_ => OneAsync(request, key, ct))).ConfigureAwait(false);

        Batch first = await SendAsync(request, count, key, ct).ConfigureAwait(false);
        if (first.Failure is { } failure)
            return Repeat(failure, count);
        var critiques = new List<Critique>(count);
        critiques.AddRange(first.Critiques.Take(count));
        int missing = count - critiques.Count;
        if (missing > 0)
            critiques.AddRange(await Task.WhenAll(Enumerable.Range(0, missing).Select(_ => OneAsync(request, key, ct))).ConfigureAwait(false));
        return critiques;
    }

    /// <summary>
    /// Checks, before a run, that the server answers: <c>GET {BaseUrl}/models</c> within <paramref name="timeout"/>. Any HTTP
    /// answer but 401/403 counts as reachable (some servers have no /models). Returns null when it is, else the reason.
    /// </summary>
    public async Task<string?> CheckReachableAsync(TimeSpan timeout, CancellationToken ct)
    {
        string? key = _options.ApiKeyEnv is { } variable ? Environment.GetEnvironmentVariable(variable) : null;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        using var message = new HttpRequestMessage(HttpMethod.Get, new Uri(_options.BaseUrl.TrimEnd('/') + "/models"));
        if (!string.IsNullOrEmpty(key))
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        try
        {
            using HttpResponseMessage response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, deadline.Token).ConfigureAwait(false);
            int status = (int)response.StatusCode;
            return status is 401 or 403
                ? $"HTTP {status} {response.ReasonPhrase}: the server refused the API key" + (_options.ApiKeyEnv is { } v ? $" from {v}" : " (none sent: set capo.judge.api-key-env)")
                : null;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return $"no answer within {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s";
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return Redact(e.InnerException is { } inner ? $"{e.Message} ({inner.Message})" : e.Message, key);
        }
    }

    /// <summary>Releases the HTTP client (and its handler when the judge created it).</summary>
    public void Dispose()
    {
        _http.Dispose();
        _slots.Dispose();
    }

    private sealed record Batch(IReadOnlyList<Critique> Critiques, Critique? Failure);

    private static Critique[] Repeat(Critique critique, int count) => [.. Enumerable.Repeat(critique, count)];

    private async Task<Critique> OneAsync(CritiqueRequest request, string? key, CancellationToken ct)
    {
        Batch batch = await SendAsync(request, 1, key, ct).ConfigureAwait(false);
        if (batch.Failure is { } failure)
            return failure;
        return batch.Critiques.Count > 0
            ? batch.Critiques[0]
            : Critique.Abstain(CritiqueStatus.Failed, CritiqueFailure.BadReply, "the server returned no choices");
    }

    /// <summary>One request asking for <paramref name="n"/> choices, with retries.</summary>
    private async Task<Batch> SendAsync(CritiqueRequest request, int n, string? key, CancellationToken ct)
    {
        byte[] body = RequestBody(request, n);
        for (int attempt = 0; ; attempt++)
        {
            string retryReason, retryKind;
            TimeSpan? retryAfter = null;
            await _slots.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(TimeSpan.FromSeconds(_options.TimeoutSeconds));
                using var message = new HttpRequestMessage(HttpMethod.Post, _endpoint) { Content = new ByteArrayContent(body) };
                message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
                if (key is not null)
                    message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
                try
                {
                    using HttpResponseMessage response = await _http.SendAsync(message, HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false);
                    string text = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
                    int status = (int)response.StatusCode;
                    if (response.IsSuccessStatusCode)
                        return ReadCompletion(text, request.StepCount, key);
                    if (status != (int)HttpStatusCode.TooManyRequests && status < 500)
                        return Fail(CritiqueStatus.Failed, CritiqueFailure.HttpStatus, $"HTTP {status} {response.ReasonPhrase}: {Snippet(text)}", key);
                    retryReason = $"HTTP {status} {response.ReasonPhrase}: {Snippet(text)}";
                    retryKind = CritiqueFailure.HttpStatus;
                    retryAfter = RetryAfter(response);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    return Fail(CritiqueStatus.TimedOut, CritiqueFailure.Timeout,
                        $"no reply within {_options.TimeoutSeconds.ToString(CultureInfo.InvariantCulture)} s", key);
                }
                catch (Exception e) when (e is HttpRequestException or IOException)
                {
                    retryReason = $"request failed: {e.Message}";
                    retryKind = CritiqueFailure.Connect;
                }
            }
            finally
            {
                _slots.Release();
            }

            if (attempt >= _options.MaxRetries)
                return Fail(CritiqueStatus.Failed, retryKind, $"{retryReason} (gave up after {attempt + 1} attempts)", key);
            double seconds = retryAfter?.TotalSeconds ?? _options.BackoffSeconds * Math.Pow(2, attempt);
            seconds = Math.Clamp(seconds, 0, _options.MaxBackoffSeconds);
            if (seconds > 0)
                await Task.Delay(TimeSpan.FromSeconds(seconds), ct).ConfigureAwait(false);
        }
    }

    private static Batch Fail(CritiqueStatus status, string kind, string detail, string? key) =>
        new([], Critique.Abstain(status, kind, Redact(detail, key)));

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        RetryConditionHeaderValue? header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
            return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        if (header?.Date is { } date)
        {
            TimeSpan wait = date - DateTimeOffset.UtcNow;
            return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
        }
        return null;
    }

    private byte[] RequestBody(CritiqueRequest request, int n)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("model", _options.Model);
            json.WriteStartArray("messages");
            json.WriteStartObject();
            json.WriteString("role", "system");
            json.WriteString("content", request.System);
            json.WriteEndObject();
            json.WriteStartObject();
            json.WriteString("role", "user");
            json.WriteString("content", request.User);
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteNumber("temperature", _options.Temperature);
            json.WriteNumber("max_tokens", _options.MaxTokens);
            json.WriteNumber("n", n);
            json.WriteEndObject();
        }
        return stream.ToArray();
    }

    /// <summary>Reads a chat-completion body into one critique per choice, in order.</summary>
    private static Batch ReadCompletion(string body, int stepCount, string? key)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(body);
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("choices", out JsonElement choices) || choices.ValueKind != JsonValueKind.Array)
                return Fail(CritiqueStatus.Failed, CritiqueFailure.BadReply, $"the reply is not a chat completion (no choices array): {Snippet(body)}", key);
            var critiques = new List<Critique>();
            foreach (JsonElement choice in choices.EnumerateArray())
                critiques.Add(ReadChoice(choice, stepCount));
            return new Batch(critiques, null);
        }
        catch (JsonException e)
        {
            return Fail(CritiqueStatus.Failed, CritiqueFailure.BadReply, $"the reply is not valid JSON: {e.Message}", key);
        }
    }

    private static Critique ReadChoice(JsonElement choice, int stepCount)
    {
        if (choice.ValueKind != JsonValueKind.Object || !choice.TryGetProperty("message", out JsonElement message)
            || message.ValueKind != JsonValueKind.Object || !message.TryGetProperty("content", out JsonElement content))
            return Critique.Abstain(CritiqueStatus.Unparseable, "the choice has no message content");
        string? text = content.ValueKind switch
        {
            JsonValueKind.String => content.GetString(),
            JsonValueKind.Array => string.Concat(content.EnumerateArray()
                .Where(part => part.ValueKind == JsonValueKind.Object && part.TryGetProperty("text", out JsonElement t) && t.ValueKind == JsonValueKind.String)
                .Select(part => part.GetProperty("text").GetString())),
            _ => null,
        };
        if (string.IsNullOrWhiteSpace(text))
            return Critique.Abstain(CritiqueStatus.Unparseable, "the choice has no message content");
        bool cutOff = choice.TryGetProperty("finish_reason", out JsonElement reason)
            && reason.ValueKind == JsonValueKind.String && reason.GetString() == "length";
        Critique critique = CritiqueParser.Parse(text, stepCount, out bool keyed);
        if (cutOff && !(critique.IsValid && keyed))
            return Critique.Abstain(CritiqueStatus.Unparseable, CritiqueFailure.CutOff, "the critique was cut off at max_tokens before its 'Wrong steps:' line");
        return critique;
    }

    private static string Snippet(string text)
    {
        string flat = text.ReplaceLineEndings(" ").Trim();
        return flat.Length <= 200 ? flat : flat[..200] + "…";
    }

    private static string Redact(string text, string? key) =>
        string.IsNullOrEmpty(key) ? text : text.Replace(key, "[redacted]", StringComparison.Ordinal);
}
