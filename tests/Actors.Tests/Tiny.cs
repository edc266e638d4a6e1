using RlActors.Actors.Protocol;
using RlActors.Environments.Arithmetic;
using RlActors.Policies.Grpo;
using RlActors.Policies.Lm;
using RlActors.Policies.Training;
using static RlActors.Actors.Protocol.WeightsProtocol;
using static RlActors.Actors.Protocol.WorkerProtocol;

namespace RlActors.Actors.Tests;

/// <summary>Tiny models, tasks and options shared by the actor tests (seconds, not minutes, on 2 cores).</summary>
internal static class Tiny
{
    public static readonly ArithmeticOptions TaskOptions = new() { MinOps = 1, MaxOps = 2, OperandDigits = 1, Operators = "+-" };

    public static LmConfig Model => new()
    {
        VocabSize = CharTokenizer.Default.VocabSize, DModel = 16, Layers = 1, Heads = 2, Context = 48, MlpRatio = 2,
    };

    public static TaskSpec Task(ulong dataSeed = 7) => TaskSpec.Arithmetic(TaskOptions, dataSeed);

    public static ArithmeticGenerator Generator(TaskSpec t) => t.Generator();

    /// <summary>Options of a tiny run: SFT 5 steps, then <paramref name="grpoSteps"/> GRPO steps of 4 prompts x 4.</summary>
    public static GrpoRunOptions Options(int grpoSteps = 3, ulong seed = 1) => new()
    {
        Seed = seed,
        Model = Model,
        Task = TaskOptions,
        Sft = new SftOptions { Steps = 5, BatchSize = 16 },
        Grpo = new GrpoOptions { PromptsPerStep = 4, GroupSize = 4, MaxNewTokens = 20 },
        GrpoSteps = grpoSteps,
        EvalProblems = 20,
        EvalEvery = 0,
    };

    public static PolicyWeights Weights(long version, TransformerLm model)
    {
        return new PolicyWeights(version, CausalLms.SpecOf(model), model.SaveWeights());
    }

    /// <summary>The architecture spec of a GPT of <see cref="Model"/>'s shape, as weights carry it.</summary>
    public static string ModelSpec { get; } = System.Text.Json.Nodes.JsonNode.Parse(
        $"{{\"type\":\"gpt\",\"config\":{System.Text.Json.JsonSerializer.Serialize(Model)}}}")!.ToJsonString();

    /// <summary>Pads every row to the longest with <see cref="CharTokenizer.Pad"/> (a group's rows share one length).</summary>
    public static int[][] PadRows(params int[][] rows)
    {
        int length = rows.Max(r => r.Length);
        return rows.Select(r => r.Concat(Enumerable.Repeat(CharTokenizer.Pad, length - r.Length)).ToArray()).ToArray();
    }

    /// <summary>The reference solution of a problem, with a wrong final answer (same shape otherwise).</summary>
    public static int[] WrongAnswerIds(ArithmeticProblem p)
    {
        string text = p.ReferenceCompletion;
        int a = text.LastIndexOf("A:", StringComparison.Ordinal);
        string wrong = text[..(a + 2)] + (p.Answer + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return [.. ArithmeticLm.Tokenizer.Encode(wrong), CharTokenizer.Eos];
    }
}
