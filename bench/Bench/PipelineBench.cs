using System.Diagnostics;
using RlActors.Actors.Experiment;
using RlActors.Actors.Protocol;
using RlActors.Actors.Runtime;
using RlActors.Policies.Training;
using RlActors.Actors.Grpo;

namespace RlActors.Bench;

/// <summary>
/// Steady-state GRPO step time of the actor pipeline (one cluster node with every role, in this process) against
/// the bare library loop, on the same configuration, in one run: library, actors, library again (the two library
/// medians are averaged to cancel drift). Steps 1–10 are warm-up; the median of the rest is reported.
/// </summary>
public static class PipelineBench
{
    public static (double Library, double Actors) Run(int steps, TextWriter log)
    {
        var options = new GrpoRunOptions
        {
            Seed = 1,
            Sft = new SftOptions { Steps = 100 },
            GrpoSteps = steps,
            EvalEvery = 0,
            EvalProblems = 20,
        };
        // Same thread discipline as the runtime: all torch work on the process's torch thread.
        double lib1 = RlActors.Policies.Runtime.TorchThread.Shared.Run(() => Library(options, steps)).GetAwaiter().GetResult();
        log.WriteLine($"  library loop: {lib1 * 1e3:F0} ms/step");
        double actors = Actors(options, steps);
        log.WriteLine($"  actor pipeline: {actors * 1e3:F0} ms/step");
        double lib2 = RlActors.Policies.Runtime.TorchThread.Shared.Run(() => Library(options, steps)).GetAwaiter().GetResult();
        log.WriteLine($"  library loop again: {lib2 * 1e3:F0} ms/step");
        return ((lib1 + lib2) / 2, actors);
    }

    private static double Median(IEnumerable<double> xs)
    {
        var a = xs.OrderBy(x => x).ToArray();
        return a[a.Length / 2];
    }

    private static double Library(GrpoRunOptions options, int steps)
    {
        using var run = new GrpoTrainer(options);
        run.RunSft();
        var times = new List<double>();
        for (int i = 0; i < steps; i++)
        {
            var w = Stopwatch.StartNew();
            run.GrpoStep();
            times.Add(w.Elapsed.TotalSeconds);
        }
        return Median(times.Skip(10));
    }

    private static double Actors(GrpoRunOptions options, int steps)
    {
        var settings = new GrpoSettings("bench", options, new RuntimeOptions(), [new RewardSpecDto("outcome", null, 1.0, 10)]);
        var stamps = InProcessHost.Run(settings, Roles.All).Stamps;
        return Median(Enumerable.Range(11, stamps.Count - 11).Select(i => stamps[i] - stamps[i - 1]));
    }
}
