using System.Collections.Concurrent;

namespace RlActors.Policies.Runtime;

/// <summary>
/// A dedicated thread for torch work. libtorch's CPU kernels parallelise with OpenMP, which keeps one thread team
/// per calling OS thread: calling torch from arbitrary thread-pool threads (as Task.Run does) builds several teams
/// that spin against each other on a 2-core machine. Measured here: the actor pipeline's GRPO step took 2.1x the
/// library loop's until all torch work in a process went through one thread. Work items run one at a time, in order.
/// </summary>
public sealed class TorchThread : IDisposable
{
    private readonly BlockingCollection<Action> queue = new();
    private readonly Thread thread;

    /// <summary>The process-wide torch thread.</summary>
    public static TorchThread Shared { get; } = new("torch");

    /// <summary>Starts a background thread named <paramref name="name"/>.</summary>
    public TorchThread(string name)
    {
        thread = new Thread(Loop) { IsBackground = true, Name = name };
        thread.Start();
    }

    private void Loop()
    {
        foreach (var work in queue.GetConsumingEnumerable()) work();
    }

    /// <summary>Queues <paramref name="work"/>; the task completes with its result or exception. Work not yet
    /// started when <paramref name="ct"/> is cancelled is skipped.</summary>
    public Task<T> Run<T>(Func<T> work, CancellationToken ct = default)
    {
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (Environment.CurrentManagedThreadId == thread.ManagedThreadId)
        {
            // Already on the torch thread: run inline (queueing would deadlock a caller that waits).
            try { tcs.SetResult(work()); } catch (Exception e) { tcs.SetException(e); }
            return tcs.Task;
        }
        queue.Add(() =>
        {
            if (ct.IsCancellationRequested) { tcs.TrySetCanceled(ct); return; }
            try { tcs.SetResult(work()); }
            catch (Exception e) { tcs.SetException(e); }
        }, CancellationToken.None);
        return tcs.Task;
    }

    /// <inheritdoc />
    public void Dispose() => queue.CompleteAdding();
}
