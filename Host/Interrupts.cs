using System.Runtime.InteropServices;

namespace RlActors.Host;

/// <summary>
/// SIGINT (Ctrl+C) and SIGTERM for the commands that stop gracefully (<c>run</c>, <c>resume</c>, <c>node</c>). The first signal
/// cancels <see cref="Token"/> and nothing else: the command stops its experiment at a step boundary, saves a checkpoint
/// and shuts down by itself. The default action of the signal (terminating the process at once) is cancelled. Akka's CLR
/// shutdown hook must be off in such a command's actor system (<c>akka.coordinated-shutdown.run-by-clr-shutdown-hook = off</c>):
/// Akka 1.5 registers its own SIGTERM handler for it, which would run CoordinatedShutdown under the experiment.
/// System.CommandLine's handler (a forced exit 2 s after the signal) is not installed for these commands. A second signal exits at once with the signal's exit code. If the command is still
/// running <see cref="HardLimit"/> after the first signal, the process exits with 1 and says so: it never hangs.
/// </summary>
public sealed class Interrupts : IDisposable
{
    /// <summary>Exit code after SIGINT (128 + 2), the shell's convention.</summary>
    public const int SigintExitCode = 130;
    /// <summary>Exit code after SIGTERM (128 + 15), the shell's convention.</summary>
    public const int SigtermExitCode = 143;

    private readonly CancellationTokenSource cts = new();
    private readonly List<PosixSignalRegistration> registrations = new();
    private readonly TextWriter error;
    private readonly string secondSignalNote;
    private int signals;
    private Timer? watchdog;

    private Interrupts(TextWriter error, string secondSignalNote) => (this.error, this.secondSignalNote) = (error, secondSignalNote);

    /// <summary>The signal received first, if any.</summary>
    public PosixSignal? Signal { get; private set; }

    /// <summary>Cancelled by the first SIGINT or SIGTERM.</summary>
    public CancellationToken Token => cts.Token;

    /// <summary>The exit code for the signal received: 130 for SIGINT (or none), 143 for SIGTERM.</summary>
    public int ExitCode => Signal == PosixSignal.SIGTERM ? SigtermExitCode : SigintExitCode;

    /// <summary>"SIGINT" or "SIGTERM".</summary>
    public string SignalName => Signal == PosixSignal.SIGTERM ? "SIGTERM" : "SIGINT";

    /// <summary>The longest a command may take to stop after the first signal before the process exits with 1.</summary>
    public static readonly TimeSpan HardLimit = TimeSpan.FromSeconds(90);

    /// <summary>Handles SIGINT and SIGTERM from now until disposed; messages go to <paramref name="error"/>.
    /// <paramref name="secondSignalNote"/> says what exiting at once on a second signal skips.</summary>
    public static Interrupts Register(TextWriter error, string secondSignalNote = "without a shutdown checkpoint (resume continues from the last checkpoint stored)")
    {
        var i = new Interrupts(error, secondSignalNote);
        // A process started in the background by a non-interactive shell (`cmd &` in a script, CI) inherits SIGINT
        // ignored, and .NET then never sees it. These commands promise a graceful stop on SIGINT: take it back.
        if (!OperatingSystem.IsWindows()) _ = SetSignalHandler(SigintNumber, IntPtr.Zero /* SIG_DFL */);
        i.registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGINT, i.OnSignal));
        i.registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGTERM, i.OnSignal));
        return i;
    }

    private const int SigintNumber = 2;

    [DllImport("libc", EntryPoint = "signal")]
    private static extern IntPtr SetSignalHandler(int signal, IntPtr handler);

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true; // no default action: this process stops by itself
        if (Interlocked.Increment(ref signals) == 1)
        {
            Signal = context.Signal;
            watchdog = new Timer(_ =>
            {
                error.WriteLine($"failed: still running {HardLimit.TotalSeconds:F0} s after {SignalName}; exiting without a clean shutdown");
                error.Flush();
                Environment.Exit(1);
            }, null, HardLimit, Timeout.InfiniteTimeSpan);
            // Callbacks of the token only tell actors and complete tasks; run them off the signal thread all the same.
            ThreadPool.UnsafeQueueUserWorkItem(_ => cts.Cancel(), null);
            return;
        }
        var signal = context.Signal == PosixSignal.SIGTERM ? "SIGTERM" : "SIGINT";
        error.WriteLine($"{signal} again: exiting at once, {secondSignalNote}");
        error.Flush();
        Environment.Exit(context.Signal == PosixSignal.SIGTERM ? SigtermExitCode : SigintExitCode);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var r in registrations) r.Dispose();
        watchdog?.Dispose();
        cts.Dispose();
    }
}
