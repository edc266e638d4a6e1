using RlActors.Rewards.Capo;
using static RlActors.Rewards.Tests.Capo.CapoTestData;
using static RlActors.Rewards.Tests.Capo.LoopbackChatServer;

namespace RlActors.Rewards.Tests.Capo;

public class CapoOpenAiJudgeTests
{
    private static readonly CritiqueRequest ThreeStepRequest = Request(ThreeOps, "7+5=12\n12-3=8\n8*2=16\nA:16");

    private static OpenAiJudge Judge(LoopbackChatServer server, OpenAiJudgeOptions? o = null) =>
        new((o ?? new OpenAiJudgeOptions()) with
        {
            BaseUrl = server.BaseUrl,
            Model = "judge-model",
            BackoffSeconds = 0.01,
            TimeoutSeconds = o?.TimeoutSeconds ?? 20,
        });

    [Fact]
    public async Task The_judge_asks_for_n_critiques_in_one_request_and_parses_each_choice()
    {
        await using var server = Answering(_ => Ok(Completion(
            "Step 2 is wrong.\nWrong steps: [2]", "All good.\nWrong steps: none", "**Wrong steps:** 2, 3", "I am not sure.")));
        using OpenAiJudge judge = Judge(server, new OpenAiJudgeOptions { Temperature = 0.9, MaxTokens = 300 });

        IReadOnlyList<Critique> critiques = await judge.CritiqueAsync(ThreeStepRequest, 4, 0, default);

        Assert.Equal([CritiqueStatus.Valid, CritiqueStatus.Valid, CritiqueStatus.Valid, CritiqueStatus.Unparseable],
            critiques.Select(c => c.Status));
        Assert.Equal([2], critiques[0].WrongSteps);
        Assert.Empty(critiques[1].WrongSteps);
        Assert.Equal([2, 3], critiques[2].WrongSteps);

        Received request = Assert.Single(server.Requests);
        Assert.Equal(("POST", "/v1/chat/completions"), (request.Method, request.Path));
        Assert.Equal("judge-model", request.Body.GetProperty("model").GetString());
        Assert.Equal(4, request.N);
        Assert.Equal(0.9, request.Body.GetProperty("temperature").GetDouble());
        Assert.Equal(300, request.Body.GetProperty("max_tokens").GetInt32());
        var messages = request.Body.GetProperty("messages").EnumerateArray().ToArray();
        Assert.Equal(["system", "user"], messages.Select(m => m.GetProperty("role").GetString()));
        Assert.Equal(ThreeStepRequest.System, messages[0].GetProperty("content").GetString());
        Assert.Equal(ThreeStepRequest.User, messages[1].GetProperty("content").GetString());
        Assert.Null(request.Authorization);
        Assert.Equal("openai", judge.Name);
    }

    [Fact]
    public async Task Too_many_requests_is_retried_and_then_succeeds()
    {
        await using var server = Answering(r => r.Number == 1
            ? new Reply(429, "{\"error\":{\"message\":\"slow down\"}}", new Dictionary<string, string> { ["Retry-After"] = "0" })
            : Ok(Completion("Wrong steps: [2]", "Wrong steps: [2]")));
        using OpenAiJudge judge = Judge(server);

        IReadOnlyList<Critique> critiques = await judge.CritiqueAsync(ThreeStepRequest, 2, 0, default);

        Assert.All(critiques, c => Assert.Equal([2], c.WrongSteps));
        Assert.Equal(2, server.Requests.Count);
    }

    [Fact]
    public async Task Server_errors_are_retried_up_to_the_limit_then_the_critiques_fail_with_the_status()
    {
        await using var server = Answering(_ => new Reply(503, "{\"error\":\"overloaded\"}"));
        using OpenAiJudge judge = Judge(server, new OpenAiJudgeOptions { MaxRetries = 2 });

        IReadOnlyList<Critique> critiques = await judge.CritiqueAsync(ThreeStepRequest, 3, 0, default);

        Assert.Equal(3, critiques.Count);
        Assert.All(critiques, c =>
        {
            Assert.Equal(CritiqueStatus.Failed, c.Status);
            Assert.Contains("503", c.Detail);
            Assert.Contains("3 attempts", c.Detail);
        });
        Assert.Equal(3, server.Requests.Count);
    }

    [Fact]
    public async Task A_client_error_fails_at_once_naming_the_status_code()
    {
        await using var server = Answering(_ => new Reply(400, "{\"error\":{\"message\":\"unknown model\"}}"));
        using OpenAiJudge judge = Judge(server);

        IReadOnlyList<Critique> critiques = await judge.CritiqueAsync(ThreeStepRequest, 2, 0, default);

        Assert.All(critiques, c =>
        {
            Assert.Equal(CritiqueStatus.Failed, c.Status);
            Assert.Contains("HTTP 400", c.Detail);
            Assert.Contains("unknown model", c.Detail);
        });
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task A_request_slower_than_the_timeout_gives_timed_out_critiques()
    {
        await using var server = new LoopbackChatServer(async (_, stop) =>
        {
            await Task.Delay(Timeout.Infinite, stop); // never answers; released when the server stops
            return Ok(Completion("Wrong steps: none"));
        });
        // Long enough for the request to reach the server on a loaded machine (0.3 s once did not), so that the single
        // request below shows the timeout was not retried.
        using OpenAiJudge judge = Judge(server, new OpenAiJudgeOptions { TimeoutSeconds = 1.5 });

        IReadOnlyList<Critique> critiques = await judge.CritiqueAsync(ThreeStepRequest, 2, 0, default);

        Assert.All(critiques, c =>
        {
            Assert.Equal(CritiqueStatus.TimedOut, c.Status);
            Assert.Contains("1.5 s", c.Detail);
        });
        Assert.Single(server.Requests); // timeouts are not retried
    }

    [Fact]
    public async Task Cancelling_the_caller_token_throws_instead_of_reporting_a_timeout()
    {
        await using var server = new LoopbackChatServer(async (_, stop) =>
        {
            await Task.Delay(Timeout.Infinite, stop);
            return Ok(Completion("Wrong steps: none"));
        });
        using OpenAiJudge judge = Judge(server);
        using var cts = new CancellationTokenSource();
        Task<IReadOnlyList<Critique>> pending = judge.CritiqueAsync(ThreeStepRequest, 1, 0, cts.Token);
        while (server.Requests.Count == 0)
            await Task.Delay(10);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
    }

    [Theory]
    [InlineData("this is not json {")]
    [InlineData("{\"object\":\"error\",\"message\":\"oops\"}")]
    [InlineData("[1, 2, 3]")]
    public async Task A_malformed_reply_body_fails_the_critiques(string body)
    {
        await using var server = Answering(_ => Ok(body));
        using OpenAiJudge judge = Judge(server);

        IReadOnlyList<Critique> critiques = await judge.CritiqueAsync(ThreeStepRequest, 2, 0, default);

        Assert.Equal(2, critiques.Count);
        Assert.All(critiques, c =>
        {
            Assert.Equal(CritiqueStatus.Failed, c.Status);
            Assert.Contains("reply", c.Detail);
        });
    }

    [Fact]
    public async Task When_the_server_ignores_n_the_missing_critiques_are_requested_one_by_one()
    {
        await using var server = Answering(r => Ok(Completion($"Wrong steps: [{1 + (r.Number - 1) % 3}]")));
        using OpenAiJudge judge = Judge(server);

        IReadOnlyList<Critique> critiques = await judge.CritiqueAsync(ThreeStepRequest, 4, 0, default);

        Assert.Equal(4, critiques.Count);
        Assert.All(critiques, c => Assert.Equal(CritiqueStatus.Valid, c.Status));
        Assert.Equal(4, server.Requests.Count);
        Assert.Equal([4, 1, 1, 1], server.Requests.Select(r => r.N));
    }

    [Fact]
    public async Task Extra_choices_are_ignored()
    {
        await using var server = Answering(_ => Ok(Completion("Wrong steps: [1]", "Wrong steps: [2]", "Wrong steps: [3]")));
        using OpenAiJudge judge = Judge(server);

        IReadOnlyList<Critique> critiques = await judge.CritiqueAsync(ThreeStepRequest, 2, 0, default);

        Assert.Equal([[1], [2]], critiques.Select(c => c.WrongSteps));
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task Without_n_the_judge_sends_parallel_requests_within_the_concurrency_limit()
    {
        await using var server = new LoopbackChatServer(async (_, stop) =>
        {
            await Task.Delay(50, stop);
            return Ok(Completion("Wrong steps: [2]"));
        });
        using OpenAiJudge judge = Judge(server, new OpenAiJudgeOptions { UseN = false, MaxConcurrency = 2 });

        IReadOnlyList<Critique> critiques = await judge.CritiqueAsync(ThreeStepRequest, 6, 0, default);

        Assert.Equal(6, critiques.Count);
        Assert.All(critiques, c => Assert.Equal([2], c.WrongSteps));
        Assert.Equal(6, server.Requests.Count);
        Assert.All(server.Requests, r => Assert.Equal(1, r.N));
        Assert.InRange(server.MaxInFlight, 1, 2);
    }

    [Fact]
    public async Task A_critique_cut_off_at_max_tokens_counts_only_if_its_wrong_steps_line_was_written()
    {
        await using var server = Answering(_ => Ok(CompletionWith(
            ("Step 1 is right.\nStep 2", "length"),
            ("Wrong steps: [2]\nTo explain further, step", "length"),
            ("Step 1 is right.\nStep 2", "stop"))));
        using OpenAiJudge judge = Judge(server);

        IReadOnlyList<Critique> critiques = await judge.CritiqueAsync(ThreeStepRequest, 3, 0, default);

        Assert.Equal(CritiqueStatus.Unparseable, critiques[0].Status);
        Assert.Contains("max_tokens", critiques[0].Detail);
        Assert.Equal([2], critiques[1].WrongSteps);
        Assert.Equal([2], critiques[2].WrongSteps); // a finished reply whose last line is a bare list
    }

    [Fact]
    public async Task The_API_key_is_sent_as_a_bearer_token_and_never_appears_in_a_detail()
    {
        string variable = "CAPO_TEST_KEY_" + Guid.NewGuid().ToString("N");
        string key = "sk-test-" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, key);
        try
        {
            // The server echoes the header back in an error, as some proxies do.
            await using var server = Answering(r => r.Number == 1
                ? Ok(Completion("Wrong steps: none"))
                : new Reply(401, $"{{\"error\":\"bad credentials: {r.Authorization}\"}}"));
            using OpenAiJudge judge = Judge(server, new OpenAiJudgeOptions { ApiKeyEnv = variable });

            Assert.Equal(CritiqueStatus.Valid, (await judge.CritiqueAsync(ThreeStepRequest, 1, 0, default))[0].Status);
            Critique failed = (await judge.CritiqueAsync(ThreeStepRequest, 1, 0, default))[0];

            Assert.All(server.Requests, r => Assert.Equal("Bearer " + key, r.Authorization));
            Assert.Equal(CritiqueStatus.Failed, failed.Status);
            Assert.Contains("401", failed.Detail);
            Assert.DoesNotContain(key, failed.Detail);
            Assert.DoesNotContain(key, judge.Options.ToString());
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task A_missing_API_key_variable_fails_the_critiques_naming_the_variable_without_calling_the_server()
    {
        string variable = "CAPO_MISSING_KEY_" + Guid.NewGuid().ToString("N");
        await using var server = Answering(_ => Ok(Completion("Wrong steps: none")));
        using OpenAiJudge judge = Judge(server, new OpenAiJudgeOptions { ApiKeyEnv = variable });

        IReadOnlyList<Critique> critiques = await judge.CritiqueAsync(ThreeStepRequest, 3, 0, default);

        Assert.Equal(3, critiques.Count);
        Assert.All(critiques, c =>
        {
            Assert.Equal(CritiqueStatus.Failed, c.Status);
            Assert.Contains(variable, c.Detail);
        });
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task A_server_that_is_not_there_fails_after_retries()
    {
        int port;
        {
            var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            probe.Start();
            port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
        }
        using var judge = new OpenAiJudge(new OpenAiJudgeOptions
        {
            BaseUrl = $"http://127.0.0.1:{port}/v1", Model = "m", MaxRetries = 1, BackoffSeconds = 0.01, TimeoutSeconds = 20,
        });
        Critique c = (await judge.CritiqueAsync(ThreeStepRequest, 1, 0, default))[0];
        Assert.Equal(CritiqueStatus.Failed, c.Status);
        Assert.Contains("2 attempts", c.Detail);
    }

    [Theory]
    [InlineData("", "m", "BaseUrl")]
    [InlineData("localhost:8000/v1", "m", "BaseUrl")]
    [InlineData("ftp://host/v1", "m", "BaseUrl")]
    [InlineData("http://host/v1", " ", "Model")]
    public void Invalid_settings_are_rejected_naming_the_setting(string baseUrl, string model, string name)
    {
        var e = Assert.Throws<ArgumentException>(() => new OpenAiJudge(new OpenAiJudgeOptions { BaseUrl = baseUrl, Model = model }));
        Assert.Equal(name, e.ParamName);
        Assert.Equal("MaxConcurrency", Assert.Throws<ArgumentException>(() =>
            new OpenAiJudgeOptions { BaseUrl = "http://h/v1", Model = "m", MaxConcurrency = 0 }.Validate()).ParamName);
        Assert.Equal("TimeoutSeconds", Assert.Throws<ArgumentException>(() =>
            new OpenAiJudgeOptions { BaseUrl = "http://h/v1", Model = "m", TimeoutSeconds = 0 }.Validate()).ParamName);
    }
}
