using Spectre.Console;

namespace RlActors.Host;

/// <summary>A live progress bar (step, reward, accuracy, tokens/s, ETA) on an interactive terminal; nothing extra when
/// the output is redirected, where the observer's plain lines are the progress.</summary>
public static class LiveProgress
{
    /// <summary>Waits for the run to end, showing a progress bar meanwhile when the console is interactive.</summary>
    public static async Task<int> Show(RunObserver observer, long totalSteps)
    {
        bool interactive = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive && AnsiConsole.Profile.Capabilities.Ansi;
        if (!interactive || totalSteps == 0) return await observer.Completion.Task;
        return await AnsiConsole.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask(observer.Title, maxValue: totalSteps);
                observer.Progress = (step, summary) =>
                {
                    task.Value = step;
                    task.Description = Markup.Escape(summary);
                };
                observer.LineSink = line => AnsiConsole.MarkupLine(Markup.Escape(line));
                try { return await observer.Completion.Task; }
                finally { observer.Progress = null; observer.LineSink = null; }
            });
    }
}
