using RlActors.Host.Configuration;

namespace RlActors.Host;

/// <summary>Maps failures to exit codes: bad input 2, runtime failure 1, interrupted 130 (SIGINT) or 143 (SIGTERM).</summary>
public static class Cli
{
    /// <summary>The exit code of an interrupted command (set by the entry point from the signal received).</summary>
    public static Func<int> InterruptedExitCode { get; set; } = () => Interrupts.SigintExitCode;

    /// <summary>Runs <paramref name="body"/>, printing one clear line on failure.</summary>
    public static async Task<int> Guard(Func<Task<int>> body)
    {
        try { return await body(); }
        catch (ConfigError e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return 2;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("interrupted");
            return InterruptedExitCode();
        }
        catch (Exception e)
        {
            await Console.Error.WriteLineAsync($"failed: {Describe(e)}");
            return 1;
        }
    }

    /// <summary>A failure as one line: this project's own exceptions carry messages written for users, so they are
    /// shown as they are; anything else (a bug, a library's error) keeps its type name, which is what a bug report needs.</summary>
    public static string Describe(Exception e) =>
        e.GetType().Namespace?.StartsWith("RlActors", StringComparison.Ordinal) == true ? e.Message : $"{e.GetType().Name}: {e.Message}";
}
