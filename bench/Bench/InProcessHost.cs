using System.Diagnostics;
using Akka.Actor;
using Microsoft.Extensions.DependencyInjection;
using RlActors.Actors.Experiment;
using RlActors.Actors.Grpo;
using RlActors.Actors.Runtime;

namespace RlActors.Bench;

/// <summary>A GRPO experiment hosted by a cluster node in this process, the way <c>run</c> hosts one, with the node's
/// <paramref name="roles"/>; <c>beforeStart</c> gets the running actor system and its port before the experiment starts
/// (e.g. to let worker processes join); <c>finished</c> runs when it has finished, before the node leaves.</summary>
internal static class InProcessHost
{
    public static StepLog Run(GrpoSettings settings, IReadOnlyList<string> roles, Action<ActorSystem, int>? beforeStart = null,
        Action? finished = null)
    {
        var observer = new StepLog();
        int port = ClusterNode.FreePort();
        using var host = ClusterNode.Build(new NodeOptions("127.0.0.1", port, null, roles, [], []));
        host.StartAsync().GetAwaiter().GetResult();
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            ClusterNode.WhenUp(system, CancellationToken.None).GetAwaiter().GetResult();
            beforeStart?.Invoke(system, port);
            system.ActorOf(GrpoPlan.Props(settings, observer), "experiment");
            if (observer.Done.Task.GetAwaiter().GetResult() != 0) throw new InvalidOperationException("the experiment failed: " + observer.Error);
            finished?.Invoke();
        }
        finally { host.StopAsync().GetAwaiter().GetResult(); }
        return observer;
    }
}

/// <summary>Keeps what an experiment reports: the time (seconds since it was made) of every phase and step, and each
/// step's metrics.</summary>
internal sealed class StepLog : IExperimentObserver
{
    private readonly Stopwatch watch = Stopwatch.StartNew();
    public List<double> Stamps { get; } = new();
    public List<StepReport> Steps { get; } = new();
    public TaskCompletionSource<int> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public string? Error { get; private set; }
    public void Log(string line) { }
    public void PhaseDone(string phase, double seconds) => Stamps.Add(watch.Elapsed.TotalSeconds);
    public void StepCompleted(StepReport report) { Stamps.Add(watch.Elapsed.TotalSeconds); Steps.Add(report); }
    public void Evaluation(EvalReport report) { }
    public void Finished(byte[] finalWeights) => Done.TrySetResult(0);
    public void CheckpointTaken(long step, RlActors.Policies.Checkpoints.TrainingCheckpoint checkpoint) { }
    public void Failed(string reason) { Error = reason; Done.TrySetResult(1); }
    public void Stopped(long step, string reason) { Error = $"stopped after step {step}: {reason}"; Done.TrySetResult(1); }
}
