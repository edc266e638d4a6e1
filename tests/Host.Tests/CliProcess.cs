using System.Diagnostics;
using System.Text;

namespace RlActors.Host.Tests;

/// <summary>
/// One real <c>dotnet rlactors.dll ...</c> process with its standard output and error captured. Every wait has a
/// hard timeout: when it passes, the whole process tree is killed and the test fails with everything the process
/// printed. Disposing kills a process that is still running, so nothing outlives its test.
/// </summary>
internal sealed class CliProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly object gate = new();
    private readonly StringBuilder stdout = new();
    private readonly StringBuilder stderr = new();
    private readonly StringBuilder both = new();
    private readonly List<string> lines = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Found)> waiters = new();
    private readonly string display;

    private CliProcess(string workDir, IReadOnlyList<string> args)
    {
        display = "rlactors " + string.Join(' ', args.Select(a => a.Contains(' ') ? $"\"{a}\"" : a));
        var info = new ProcessStartInfo(DotnetHost())
        {
            WorkingDirectory = workDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Repo.RlactorsDll);
        foreach (var a in args) info.ArgumentList.Add(a);
        process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) Received(e.Data, stdout); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Received(e.Data, stderr); };
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>Starts <c>dotnet rlactors.dll args</c> in <paramref name="workDir"/>.</summary>
    public static CliProcess Start(string workDir, params string[] args) => new(workDir, args);

    /// <summary>Runs to the end within <paramref name="timeout"/> and returns the finished process.</summary>
    public static async Task<CliProcess> RunAsync(string workDir, TimeSpan timeout, params string[] args)
    {
        var cli = Start(workDir, args);
        try { await cli.WaitForExitAsync(timeout); }
        catch { await cli.DisposeAsync(); throw; }
        return cli;
    }

    /// <summary>Standard output so far.</summary>
    public string Stdout { get { lock (gate) return stdout.ToString(); } }

    /// <summary>Standard error so far.</summary>
    public string Stderr { get { lock (gate) return stderr.ToString(); } }

    /// <summary>Both streams, interleaved in arrival order.</summary>
    public string Output { get { lock (gate) return both.ToString(); } }

    /// <summary>The exit code (after <see cref="WaitForExitAsync"/>).</summary>
    public int ExitCode => process.ExitCode;

    /// <summary>Waits for the process to exit and all its output to arrive; kills it and fails after <paramref name="timeout"/>.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try { await process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            Kill();
            throw new TimeoutException($"{display} did not exit within {timeout.TotalSeconds:F0} s; killed. Output:\n{Output}");
        }
        return process.ExitCode;
    }

    /// <summary>Waits for a line (either stream) that <paramref name="match"/> accepts and returns it; kills the
    /// process and fails if it exits first or <paramref name="timeout"/> passes.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout, string what)
    {
        var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (gate)
        {
            var seen = lines.FirstOrDefault(match);
            if (seen is not null) return seen;
            waiters.Add((match, found));
        }
        using var cts = new CancellationTokenSource(timeout);
        var exited = process.WaitForExitAsync(cts.Token);
        var first = await Task.WhenAny(found.Task, exited);
        if (first == found.Task) return await found.Task;
        lock (gate)
        {
            var late = lines.FirstOrDefault(match);
            if (late is not null) return late;
        }
        bool timedOut = !process.HasExited;
        Kill();
        throw new TimeoutException(timedOut
            ? $"{display}: no line with {what} within {timeout.TotalSeconds:F0} s; killed. Output:\n{Output}"
            : $"{display} exited with {process.ExitCode} before printing {what}. Output:\n{Output}");
    }

    /// <summary>True once the process has exited.</summary>
    public bool HasExited => process.HasExited;

    /// <summary>Sends a signal (e.g. "TERM", "INT") to the process with the system's <c>kill</c> command.</summary>
    public void Signal(string name)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-s", name, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])
            { UseShellExecute = false })!;
        kill.WaitForExit();
        if (kill.ExitCode != 0) throw new InvalidOperationException($"kill -s {name} {process.Id} exited with {kill.ExitCode}");
    }

    /// <summary>Kills the process tree if it is still running.</summary>
    public void Kill()
    {
        try { if (!process.HasExited) process.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { } // exited meanwhile
    }

    /// <summary>A description of the process and its output, for assertion messages.</summary>
    public override string ToString() => $"{display}\n--- output ---\n{Output}";

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Kill();
        try { await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)); }
        catch (TimeoutException) { }
        process.Dispose();
    }

    private void Received(string line, StringBuilder stream)
    {
        List<TaskCompletionSource<string>> hits = new();
        lock (gate)
        {
            stream.AppendLine(line);
            both.AppendLine(line);
            lines.Add(line);
            foreach (var w in waiters.Where(w => w.Match(line)).ToList())
            {
                waiters.Remove(w);
                hits.Add(w.Found);
            }
        }
        foreach (var h in hits) h.TrySetResult(line);
    }

    /// <summary>The dotnet host running the tests (the SDK sets DOTNET_HOST_PATH for test runs), else dotnet on the PATH.</summary>
    private static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return "dotnet";
    }
}
