using RlActors.Host.Configuration;

namespace RlActors.Host;

/// <summary>Maps failures to exit codes: bad input 2, runtime failure 1, interrupted 130.</summary>
public static class Cli
{
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
            return 130;
        }
        catch (Exception e)
        {
            await Console.Error.WriteLineAsync($"failed: {e.GetType().Name}: {e.Message}");
            return 1;
        }
    }
}
