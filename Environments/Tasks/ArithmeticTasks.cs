using System.Globalization;
using System.Text;
using RlActors.Environments.Arithmetic;

namespace RlActors.Environments.Tasks;

/// <summary>The built-in arithmetic generator as a task source: an endless stream of rows whose prompt is
/// <see cref="ArithmeticProblem.Prompt"/> and whose answer is the chain's value.</summary>
public sealed class ArithmeticTaskSource(ArithmeticGenerator generator) : ITaskSource
{
    /// <inheritdoc/>
    public string Id => $"arithmetic:{generator.Seed}";
    /// <inheritdoc/>
    public long? Count => null;

    /// <inheritdoc/>
    public TaskRow Get(long index) => RowOf(generator.Get(index));

    /// <summary>The row of problem <paramref name="p"/>: its prompt, its value as the answer, and the columns <c>prompt</c>,
    /// <c>answer</c>, <c>expression</c> and <c>solution</c> (the reference completion).</summary>
    public static TaskRow RowOf(ArithmeticProblem p)
    {
        string answer = p.Answer.ToString(CultureInfo.InvariantCulture);
        return new TaskRow(p.Index, p.Prompt, answer, new Dictionary<string, string>
        {
            ["prompt"] = p.Prompt, ["answer"] = answer, ["expression"] = p.Expression, ["solution"] = p.ReferenceCompletion,
        });
    }
}

/// <summary>
/// Word problems written from the arithmetic generator: a counter that starts at a value and goes up, down or is multiplied
/// step by step, e.g. "A counter starts at 7. It goes up by 5, then down by 3. What is the counter now?". Each row has the
/// question, the answer (a number) and a worked solution in the GSM8K manner (one step a line, then <c>#### answer</c>).
/// </summary>
public static class WordProblems
{
    /// <summary>Row <paramref name="index"/> of the word-problem stream of <paramref name="generator"/>, as JSONL fields.</summary>
    public static IReadOnlyList<(string Name, object Value)> Row(ArithmeticGenerator generator, long index)
    {
        var p = generator.Get(index);
        var question = new StringBuilder($"A counter starts at {p.Operands[0]}. It ");
        var solution = new StringBuilder();
        long value = p.Operands[0];
        for (int k = 0; k < p.Operators.Count; k++)
        {
            long r = p.Operands[k + 1];
            if (k > 0) question.Append(k == p.Operators.Count - 1 ? ", and then " : ", then ");
            question.Append(p.Operators[k] switch
            {
                '+' => $"goes up by {r}",
                '-' => $"goes down by {r}",
                _ => $"is multiplied by {r}",
            });
            solution.Append(CultureInfo.InvariantCulture, $"{value}{p.Operators[k]}{r}={p.IntermediateResults[k]}\n");
            value = p.IntermediateResults[k];
        }
        question.Append(". What is the counter now?");
        solution.Append(CultureInfo.InvariantCulture, $"#### {p.Answer}");
        return [("id", index), ("question", question.ToString()), ("answer", p.Answer), ("solution", solution.ToString()), ("steps", p.Operators.Count)];
    }

    /// <summary>
    /// Writes an example data set into <paramref name="directory"/>: <c>train.jsonl</c> with rows 0 .. <paramref name="train"/> - 1
    /// of the stream, then <c>test.jsonl</c> with the next <paramref name="test"/> rows whose question is not a train question
    /// (so the held-out accuracy is measured on unseen problems). Returns the stream indices the test rows came from.
    /// </summary>
    /// <exception cref="ArgumentException">The problem space has fewer distinct questions than asked for.</exception>
    public static (long First, long Last) WriteSplit(string directory, ArithmeticGenerator generator, int train, int test)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(train);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(test);
        Directory.CreateDirectory(directory);
        var trainRows = Enumerable.Range(0, train).Select(i => Row(generator, i)).ToList();
        var seen = trainRows.Select(r => (string)r[1].Value).ToHashSet(StringComparer.Ordinal);
        var testRows = new List<IReadOnlyList<(string Name, object Value)>>();
        long index = train;
        for (; testRows.Count < test; index++)
        {
            if (index - train > 100L * (train + test))
                throw new ArgumentException($"only {testRows.Count} test questions differ from the train questions; ask for fewer rows or a larger task");
            var row = Row(generator, index);
            if (seen.Add((string)row[1].Value)) testRows.Add(row);
        }
        JsonlWriter.Write(Path.Combine(directory, "train.jsonl"), trainRows);
        JsonlWriter.Write(Path.Combine(directory, "test.jsonl"), testRows);
        return (train, index - 1);
    }

    /// <summary>Writes rows <paramref name="first"/> .. <paramref name="first"/> + <paramref name="count"/> - 1 to <paramref name="path"/>.</summary>
    public static void Write(string path, ArithmeticGenerator generator, long first, int count) =>
        JsonlWriter.Write(path, Enumerable.Range(0, count).Select(i => Row(generator, first + i)));
}
