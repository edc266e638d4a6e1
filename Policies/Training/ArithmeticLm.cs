using RlActors.Environments.Arithmetic;
using RlActors.Policies.Lm;

namespace RlActors.Policies.Training;

/// <summary>Glue between the arithmetic task's text and the language model's ids.</summary>
public static class ArithmeticLm
{
    /// <summary>The tokenizer every arithmetic model uses.</summary>
    public static CharTokenizer Tokenizer => CharTokenizer.Default;

    /// <summary>Prompt ids of a problem.</summary>
    public static int[] PromptIds(ArithmeticProblem p) => Tokenizer.Encode(p.Prompt);

    /// <summary>Reference completion ids of a problem, ending with the end token.</summary>
    public static int[] ReferenceIds(ArithmeticProblem p) => [.. Tokenizer.Encode(p.ReferenceCompletion), CharTokenizer.Eos];

    /// <summary>Outcome of greedy decoding on a fixed set of problems.</summary>
    /// <param name="Accuracy">Fraction with the right final answer in a well-formed response.</param>
    /// <param name="StepAccuracy">Fraction of written steps judged correct by the per-step checker.</param>
    /// <param name="Statuses">Count of responses per parse status.</param>
    public sealed record EvalResult(double Accuracy, double StepAccuracy, IReadOnlyDictionary<ResponseStatus, int> Statuses, int Problems);

    /// <summary>Greedy accuracy of <paramref name="model"/> on <paramref name="problems"/>.</summary>
    public static EvalResult Evaluate(ICausalLm model, IReadOnlyList<ArithmeticProblem> problems, int maxNewTokens, int batchSize = 250)
    {
        bool wasTraining = model.Module.training;
        model.eval();
        int correct = 0, steps = 0, goodSteps = 0;
        var statuses = new Dictionary<ResponseStatus, int>();
        var greedy = new SampleOptions { Temperature = 0, MaxNewTokens = maxNewTokens };
        for (int start = 0; start < problems.Count; start += batchSize)
        {
            var chunk = problems.Skip(start).Take(batchSize).ToList();
            var result = LmSampler.Sample(model, chunk.Select(PromptIds).ToList(), greedy, null, CharTokenizer.Eos, CharTokenizer.Pad);
            for (int i = 0; i < chunk.Count; i++)
            {
                var parsed = StepParser.Parse(result.Completions[i], Tokenizer);
                statuses[parsed.Status] = statuses.GetValueOrDefault(parsed.Status) + 1;
                if (ArithmeticVerifier.IsCorrect(chunk[i], parsed)) correct++;
                foreach (var v in ArithmeticVerifier.CheckSteps(chunk[i], parsed))
                {
                    steps++;
                    if (v == StepVerdict.Correct) goodSteps++;
                }
            }
        }
        model.train(wasTraining);
        return new EvalResult((double)correct / problems.Count, steps == 0 ? 0 : (double)goodSteps / steps, statuses, problems.Count);
    }
}
