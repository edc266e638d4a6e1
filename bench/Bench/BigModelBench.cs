using System.Diagnostics;
using RlActors.Actors.Experiment;
using RlActors.Actors.Grpo;
using RlActors.Actors.Protocol;
using RlActors.Actors.Runtime;
using RlActors.Environments.Arithmetic;
using RlActors.Policies.Grpo;
using RlActors.Policies.Lm;
using RlActors.Policies.Training;

namespace RlActors.Bench;

/// <summary>
/// The case issue 14 opened with: a d512 x 8-layer policy (~25M parameters, ~100 MB of weights, over the 32 MiB remote
/// frame) with one <c>rlactors node --roles sampler</c> process. Before the weight side channel its first step took 124 s
/// (the weights never arrived, the slot timed out). Runs the same synchronous experiment twice: the host alone (its own
/// sampler), then the host with the learner and reward roles only and every rollout from the node, which must fetch each
/// new version's 100 MB. Reports every step's time of both, so the first step and the steady state can be compared.
/// </summary>
public static class BigModelBench
{
    /// <summary>The step times of the two runs and the weights' size.</summary>
    public sealed record Result(IReadOnlyList<double> HostAlone, IReadOnlyList<double> WithNode, long WeightBytes, string Setup, string Load)
    {
        /// <summary>Median step time after the first step.</summary>
        public static double Steady(IReadOnlyList<double> steps) => SamplerScalingBench.Median(steps.Skip(1));
    }

    private static GrpoRunOptions Options(int steps) => new()
    {
        Seed = 1,
        Model = new LmConfig { VocabSize = CharTokenizer.Default.VocabSize, DModel = 512, Layers = 8, Heads = 8, Context = 96 },
        Sft = new SftOptions { Steps = 0 },
        Grpo = new GrpoOptions { PromptsPerStep = 8, GroupSize = 4, MaxNewTokens = 24 },
        GrpoSteps = steps,
        EvalEvery = 0,
        EvalProblems = 1,
    };

    public static Result Run(TextWriter log, int steps)
    {
        var o = Options(steps);
        long bytes;
        using (var probe = new TransformerLm(o.Model, 0)) bytes = probe.SaveWeights().LongLength;
        string setup = $"d{o.Model.DModel} L{o.Model.Layers} ({o.Model.ParameterCount() / 1e6:F1}M parameters, {bytes / 1e6:F0} MB of weights), no SFT, " +
                       $"{o.Grpo.PromptsPerStep} prompts x G{o.Grpo.GroupSize}, max-new-tokens {o.Grpo.MaxNewTokens}, sync, {steps} steps";
        log.WriteLine($"  {setup}");
        string loadBefore = SamplerScalingBench.LoadAverage();
        var rewards = new[] { new RewardSpecDto("outcome", null, 1.0, 10) };
        var runtime = new RuntimeOptions { MaxStaleness = 0, UnitSize = 0, WorkersPerNode = 1, UnitTimeout = TimeSpan.FromSeconds(120) };

        var alone = InProcessHost.Run(new GrpoSettings("big-alone", o, runtime, rewards), Roles.All);
        var aloneSteps = alone.Steps.Select(s => s.Metrics[RuntimeMetrics.StepSeconds]).ToList();
        log.WriteLine($"  host alone: steps {string.Join(", ", aloneSteps.Select(s => s.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))} s");

        string dll = ResumeBench.RlactorsDll();
        var nodes = new List<Process>();
        try
        {
            var withNode = InProcessHost.Run(new GrpoSettings("big-node", o, runtime, rewards), [Roles.Learner, Roles.Reward], (system, port) =>
            {
                nodes.Add(SamplerScalingBench.StartSampler(dll, port, core: null));
                SamplerScalingBench.WaitForSamplers(system, 1, nodes);
            });
            var nodeSteps = withNode.Steps.Select(s => s.Metrics[RuntimeMetrics.StepSeconds]).ToList();
            log.WriteLine($"  with a sampler node: steps {string.Join(", ", nodeSteps.Select(s => s.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))} s");
            return new Result(aloneSteps, nodeSteps, bytes, setup, $"{loadBefore} -> {SamplerScalingBench.LoadAverage()}");
        }
        finally
        {
            foreach (var p in nodes)
            {
                if (!p.WaitForExit(30_000)) p.Kill(entireProcessTree: true);
                p.Dispose();
            }
        }
    }
}
