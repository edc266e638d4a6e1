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
            await Console.Error.WriteLineAsync($"failed: {e.GetType().Name}: {e.Message}");
            return 1;
        }
    }
}
