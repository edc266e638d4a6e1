using RlActors.Actors.Protocol;
using RlActors.Actors.Workers;
using RlActors.Policies.Lm;
using static RlActors.Actors.Protocol.SamplerProtocol;
using static RlActors.Actors.Protocol.WeightsProtocol;
using static RlActors.Actors.Protocol.WorkerProtocol;

namespace RlActors.Actors.Grpo;

/// <summary>
/// The sampler's work (role <c>sampler</c>, run by a <see cref="PullWorkerActor"/>): for a <see cref="SampleTask"/>, load the
/// policy version it names (fetched from the experiment when this node lacks it), map its draws to the task's rows, encode their
/// prompts and draw G completions each from a generator seeded by the slot.
/// </summary>
public sealed class GrpoSampler(string device = "cpu") : IWorkHandler
{
    private ICausalLm? model;              // touched only on the torch thread
    private string? modelSpec;             // the architecture of model
    private PolicyWeights? pending;        // set on the actor's thread, loaded by the next Work
    private long version = -1;

    /// <inheritdoc />
    public string WorkKind => GrpoPlan.SampleWork;

    /// <inheritdoc />
    public bool Accepts(object message) => message is SampleTask;

    /// <inheritdoc />
    public IEnumerable<object> Missing(object unit)
    {
        var task = (SampleTask)unit;
        if (task.PolicyVersion != version) yield return new GetWeights(task.PolicyVersion);
    }

    /// <inheritdoc />
    public bool Supply(object message)
    {
        if (message is not PolicyWeights w) return false;
        pending = w;
        version = w.Version;
        return true;
    }

    /// <inheritdoc />
    public object Work(object unit, string workerId)
    {
        var task = (SampleTask)unit;
        var weights = pending;
        pending = null;
        if (weights is not null) LoadWeights(weights);
        try { task.Task.Open(); }
        catch (Environments.Tasks.TaskDataException e) { return new CannotSample(task.Experiment, $"sampler {workerId}: {e.Message}"); }
        return SampleSlot(model!, task, workerId);
    }

    private void LoadWeights(PolicyWeights w)
    {
        if (model is null || modelSpec != w.Model)
        {
            model?.Dispose();
            model = CausalLms.ForWeights(w.Model, TorchSharp.torch.device(device));
            modelSpec = w.Model;
            model.eval();
        }
        model.LoadWeights(w.Bytes);
    }

    /// <summary>The work of one slot: map its draws to train rows, encode their prompts with the task's tokenizer, draw
    /// G completions each from a generator seeded by the slot (call on the torch thread).</summary>
    public static SlotRollouts SampleSlot(ICausalLm model, SampleTask task, string samplerId)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var t = task.Task.Open();
        var draws = task.ProblemIndices;
        var rows = draws.Select(t.RowOfDraw).ToArray();
        int g = task.Sampling.GroupSize;
        var prompts = rows.SelectMany(r => Enumerable.Repeat(t.PromptIds(r), g)).ToList();
        using var rng = new TorchSharp.torch.Generator(task.SampleSeed, model.Device);
        var options = new SampleOptions { Temperature = task.Sampling.Temperature, TopK = task.Sampling.TopK, MaxNewTokens = task.Sampling.MaxNewTokens };
        var result = LmSampler.Sample(model, prompts, options, rng, t.Tokenizer.EosId, t.Tokenizer.PadId);
        var groups = new RolloutGroup[rows.Length];
        for (int i = 0; i < rows.Length; i++)
            groups[i] = new RolloutGroup($"{task.Experiment}/{task.Step}/{task.Slot}/{draws[i]}", rows[i], prompts[i * g],
                result.Completions.Skip(i * g).Take(g).ToArray(), result.LogProbs.Skip(i * g).Take(g).ToArray());
        return new SlotRollouts(task.Experiment, task.Step, task.Slot, task.PolicyVersion, samplerId, groups, result.GeneratedTokens, watch.Elapsed.TotalSeconds);
    }

    /// <inheritdoc />
    public void Dispose() => model?.Dispose();
}
