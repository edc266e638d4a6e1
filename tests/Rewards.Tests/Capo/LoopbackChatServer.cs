using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace RlActors.Rewards.Tests.Capo;

/// <summary>
/// A real HTTP server on 127.0.0.1 that speaks just enough of the OpenAI chat-completions protocol for the judge
/// tests: every request is recorded and answered by the test's handler.
/// </summary>
internal sealed class LoopbackChatServer : IAsyncDisposable
{
    /// <summary>A request as the server received it.</summary>
    public sealed record Received(int Number, string Method, string Path, string? Authorization, JsonElement Body)
    {
        public int N => Body.TryGetProperty("n", out JsonElement n) ? n.GetInt32() : 1;
    }

    /// <summary>What to answer.</summary>
    public sealed record Reply(int Status, string Body, IReadOnlyDictionary<string, string>? Headers = null);

    private readonly HttpListener _listener;
    private readonly Func<Received, CancellationToken, Task<Reply>> _handler;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly ConcurrentQueue<Received> _requests = new();
    private int _count, _inFlight, _maxInFlight;

    public LoopbackChatServer(Func<Received, CancellationToken, Task<Reply>> handler)
    {
        _handler = handler;
        for (int attempt = 0; ; attempt++)
        {
            int port = FreePort();
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                listener.Start();
                _listener = listener;
                BaseUrl = $"http://127.0.0.1:{port}/v1";
                break;
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                listener.Close(); // the port was taken in between: try another
            }
        }
        _loop = Task.Run(AcceptLoop);
    }

    /// <summary>The API root to configure the judge with.</summary>
    public string BaseUrl { get; }

    /// <summary>The requests received so far, in arrival order.</summary>
    public IReadOnlyList<Received> Requests => [.. _requests.OrderBy(r => r.Number)];

    /// <summary>The most requests that were being handled at the same time.</summary>
    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    /// <summary>A loopback port with nothing listening on it (bound once, then released), for "judge unreachable" cases.</summary>
    public static int ClosedPort()
    {
        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        int port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    /// <summary>A server whose handler answers synchronously.</summary>
    public static LoopbackChatServer Answering(Func<Received, Reply> handler) => new((r, _) => Task.FromResult(handler(r)));

    /// <summary>A chat-completion body with one choice per content.</summary>
    public static string Completion(params string[] contents) => CompletionWith(contents.Select(c => (c, "stop")).ToArray());

    /// <summary>A chat-completion body with one choice per (content, finish_reason).</summary>
    public static string CompletionWith(params (string Content, string FinishReason)[] choices) =>
        JsonSerializer.Serialize(new
        {
            id = "chatcmpl-test",
            @object = "chat.completion",
            model = "judge",
            choices = choices.Select((c, i) => new
            {
                index = i,
                message = new { role = "assistant", content = c.Content },
                finish_reason = c.FinishReason,
            }),
        });

    public static Reply Ok(string body) => new(200, body);

    private static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (HttpListenerException)
            {
                return;
            }
            _ = Task.Run(() => Handle(context));
        }
    }

    private async Task Handle(HttpListenerContext context)
    {
        int now = Interlocked.Increment(ref _inFlight);
        int seen;
        while (now > (seen = Volatile.Read(ref _maxInFlight)) && Interlocked.CompareExchange(ref _maxInFlight, now, seen) != seen)
        {
        }
        try
        {
            string text;
            using (var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8))
                text = await reader.ReadToEndAsync();
            using JsonDocument doc = JsonDocument.Parse(text.Length == 0 ? "{}" : text); // GET /models has no body
            var received = new Received(Interlocked.Increment(ref _count), context.Request.HttpMethod,
                context.Request.Url!.AbsolutePath, context.Request.Headers["Authorization"], doc.RootElement.Clone());
            _requests.Enqueue(received);
            Reply reply = await _handler(received, _stop.Token);
            context.Response.StatusCode = reply.Status;
            foreach (var (name, value) in reply.Headers ?? new Dictionary<string, string>())
                context.Response.Headers[name] = value;
            byte[] body = Encoding.UTF8.GetBytes(reply.Body);
            context.Response.ContentType = "application/json";
            context.Response.ContentLength64 = body.Length;
            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
        }
        catch (Exception)
        {
            try
            {
                context.Response.Abort();
            }
            catch (Exception)
            {
                // the client went away
            }
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        _listener.Close();
        try
        {
            await _loop;
        }
        catch (Exception)
        {
            // stopping
        }
        _stop.Dispose();
    }
}
