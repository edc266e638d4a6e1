using System.Globalization;
using System.Text.Json;

namespace RlActors.Environments.Tasks;

/// <summary>
/// One prompt of a task, as rewards and verifiers see it: the prompt text, the ground-truth answer (null when the task has
/// none, e.g. a preference task scored by a judge) and every other column of the row, by name, as text.
/// </summary>
/// <param name="Index">The row's position in its data set (train or test), stable across processes.</param>
/// <param name="Prompt">The prompt the policy is given.</param>
/// <param name="Answer">The ground truth, or null.</param>
/// <param name="Fields">All the row's columns (the prompt and answer columns included), as text; nested JSON as its JSON text.</param>
public sealed record TaskRow(long Index, string Prompt, string? Answer, IReadOnlyDictionary<string, string> Fields);

/// <summary>A finite or endless source of task rows, addressed by index: the same index gives the same row in every process.</summary>
public interface ITaskSource
{
    /// <summary>A short id for logs and protocol messages, e.g. <c>jsonl:data/train.jsonl</c>.</summary>
    string Id { get; }

    /// <summary>The number of rows, or null for an endless generator.</summary>
    long? Count { get; }

    /// <summary>Row number <paramref name="index"/> (0-based; below <see cref="Count"/> when there is one).</summary>
    TaskRow Get(long index);
}

/// <summary>A line of a JSONL data set that cannot be used: the message names the file and the 1-based line.</summary>
public sealed class TaskDataException(string message) : Exception(message);

/// <summary>The rows of a JSONL file held in memory (one JSON object per line; blank lines are allowed).</summary>
public sealed class JsonlTaskSource : ITaskSource
{
    private readonly IReadOnlyList<TaskRow> rows;

    private JsonlTaskSource(string id, IReadOnlyList<TaskRow> rows) { Id = id; this.rows = rows; }

    /// <inheritdoc/>
    public string Id { get; }
    /// <inheritdoc/>
    public long? Count => rows.Count;
    /// <summary>The rows, in file order.</summary>
    public IReadOnlyList<TaskRow> Rows => rows;

    /// <inheritdoc/>
    public TaskRow Get(long index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, rows.Count);
        return rows[(int)index];
    }

    /// <summary>
    /// Reads <paramref name="path"/>: every non-blank line must be a JSON object whose <paramref name="promptField"/> is a
    /// non-empty string and, when <paramref name="answerField"/> is given, whose answer is a string or a number. A line that
    /// is not (bad JSON, not an object, a field missing or of the wrong type) is a <see cref="TaskDataException"/> naming the
    /// file and line: nothing is skipped silently. A file without rows is an error too. Every field of
    /// <paramref name="requiredFields"/> (e.g. the solution field of SFT) must be a string on every line.
    /// </summary>
    public static JsonlTaskSource Load(string path, string promptField, string? answerField, IReadOnlyList<string>? requiredFields = null)
    {
        if (Directory.Exists(path)) throw new TaskDataException($"{path}: is a directory, not a JSONL file");
        if (!File.Exists(path)) throw new TaskDataException($"{path}: no such file");
        var rows = new List<TaskRow>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Trim().Length == 0) continue;
            string where = $"{path}:{lineNumber}";
            JsonElement obj;
            try { obj = JsonDocument.Parse(line).RootElement; }
            catch (JsonException e) { throw new TaskDataException($"{where}: not valid JSON ({e.Message.Split('.')[0]})"); }
            if (obj.ValueKind != JsonValueKind.Object) throw new TaskDataException($"{where}: expected a JSON object, got {Kind(obj)}");
            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in obj.EnumerateObject()) fields[p.Name] = Text(p.Value);

            if (!obj.TryGetProperty(promptField, out var prompt))
                throw new TaskDataException($"{where}: no field '{promptField}' (the prompt field; the line has {Names(obj)})");
            if (prompt.ValueKind != JsonValueKind.String || prompt.GetString()!.Length == 0)
                throw new TaskDataException($"{where}: field '{promptField}' must be a non-empty string, got {Kind(prompt)}");
            string? answer = null;
            if (answerField is not null)
            {
                if (!obj.TryGetProperty(answerField, out var a))
                    throw new TaskDataException($"{where}: no field '{answerField}' (the answer field; the line has {Names(obj)})");
                if (a.ValueKind is not (JsonValueKind.String or JsonValueKind.Number))
                    throw new TaskDataException($"{where}: field '{answerField}' must be a string or a number, got {Kind(a)}");
                answer = Text(a);
            }
            foreach (string field in requiredFields ?? [])
            {
                if (!obj.TryGetProperty(field, out var f))
                    throw new TaskDataException($"{where}: no field '{field}' (the line has {Names(obj)})");
                if (f.ValueKind != JsonValueKind.String)
                    throw new TaskDataException($"{where}: field '{field}' must be a string, got {Kind(f)}");
            }
            rows.Add(new TaskRow(rows.Count, prompt.GetString()!, answer, fields));
        }
        if (rows.Count == 0) throw new TaskDataException($"{path}: no rows (an empty file)");
        return new JsonlTaskSource($"jsonl:{path}", rows);
    }

    /// <summary>Splits <paramref name="source"/> into a train and a test part, <paramref name="testFraction"/> of the rows
    /// (at least one) to test, chosen by a shuffle seeded with <paramref name="seed"/>; both keep file order.</summary>
    public static (JsonlTaskSource Train, JsonlTaskSource Test) Split(JsonlTaskSource source, double testFraction, ulong seed)
    {
        if (!(testFraction > 0 && testFraction < 1)) throw new ArgumentException($"the test fraction must be in (0, 1) (got {testFraction})");
        int n = source.rows.Count;
        if (n < 2) throw new TaskDataException($"{source.Id}: {n} row, too few to split into train and test");
        int testCount = Math.Clamp((int)Math.Round(n * testFraction), 1, n - 1);
        var order = Permutation(n, seed);
        var isTest = new bool[n];
        for (int i = 0; i < testCount; i++) isTest[order[i]] = true;
        List<TaskRow> Part(bool test) =>
            source.rows.Where(r => isTest[r.Index] == test).Select((r, i) => r with { Index = i }).ToList();
        return (new JsonlTaskSource(source.Id + "#train", Part(false)), new JsonlTaskSource(source.Id + "#test", Part(true)));
    }

    /// <summary>A Fisher-Yates permutation of 0..n-1 from <paramref name="seed"/>.</summary>
    public static int[] Permutation(int n, ulong seed)
    {
        var order = Enumerable.Range(0, n).ToArray();
        var random = new SplitMix64(SplitMix64.Mix(seed));
        for (int i = n - 1; i > 0; i--)
        {
            int j = random.NextInt32(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    private static string Text(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => v.GetString()!,
        JsonValueKind.Number => v.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Null => "",
        _ => v.GetRawText(),
    };

    private static string Kind(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => v.GetString()!.Length == 0 ? "an empty string" : "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        JsonValueKind.Null => "null",
        _ => "a boolean",
    };

    private static string Names(JsonElement obj)
    {
        var names = obj.EnumerateObject().Select(p => $"'{p.Name}'").ToList();
        return names.Count == 0 ? "no fields" : string.Join(", ", names);
    }
}

/// <summary>
/// Which row a training draw uses: draw <c>k</c> takes row <c>perm_e[k mod N]</c> of epoch <c>e = k / N</c>, each epoch's
/// permutation from (seed, e). Deterministic from (seed, k), so a resumed run or another process draws the same rows.
/// </summary>
public sealed class EpochOrder(long count, ulong seed)
{
    private readonly object gate = new();
    private long cachedEpoch = -1;
    private int[] cached = [];

    /// <summary>The row index of draw <paramref name="draw"/>.</summary>
    public long RowOf(long draw)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(draw);
        long epoch = draw / count;
        lock (gate)
        {
            if (epoch != cachedEpoch)
            {
                cached = JsonlTaskSource.Permutation(checked((int)count), SplitMix64.Stream(seed, (ulong)epoch));
                cachedEpoch = epoch;
            }
            return cached[draw % count];
        }
    }
}

/// <summary>Writes task rows as JSONL (one object per line, fields in the order given).</summary>
public static class JsonlWriter
{
    /// <summary>Writes <paramref name="rows"/> (each a list of name/value pairs; numbers written as numbers) to <paramref name="path"/>.</summary>
    public static void Write(string path, IEnumerable<IReadOnlyList<(string Name, object Value)>> rows)
    {
        using var stream = File.Create(path);
        using var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        var newline = "\n"u8.ToArray();
        foreach (var row in rows)
        {
            writer.WriteStartObject();
            foreach (var (name, value) in row)
            {
                switch (value)
                {
                    case long l: writer.WriteNumber(name, l); break;
                    case int i: writer.WriteNumber(name, i); break;
                    case double d: writer.WriteNumber(name, d); break;
                    default: writer.WriteString(name, Convert.ToString(value, CultureInfo.InvariantCulture)); break;
                }
            }
            writer.WriteEndObject();
            writer.Flush();
            stream.Write(newline);
            writer.Reset();
        }
    }
}
