using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using RlActors.Environments.Arithmetic;
using RlActors.Environments.Tokenizers;

namespace RlActors.Environments.Tasks;

/// <summary>
/// The settings of a JSONL task (experiment keys <c>task.*</c> with <c>task.type = "jsonl"</c>): the train file, a test
/// file or a fraction of the train file split off, the fields to read and the answer verifier. Paths are relative to the
/// working directory of the process that opens the task, so the same file must be at that path on every node that samples
/// or scores; <see cref="TrainSha256"/> and <see cref="TestSha256"/> (the host's) make a different file an error there.
/// </summary>
public sealed record JsonlTaskOptions
{
    /// <summary>The training rows (JSONL).</summary>
    public string Train { get; init; } = "";
    /// <summary>The held-out rows (JSONL), or null to split <see cref="TestFraction"/> of <see cref="Train"/> off.</summary>
    public string? Test { get; init; }
    /// <summary>With no <see cref="Test"/> file: the fraction of the train rows held out, in (0, 1).</summary>
    public double TestFraction { get; init; }
    /// <summary>Seed of that split.</summary>
    public ulong SplitSeed { get; init; } = 1;
    /// <summary>The field holding the prompt text.</summary>
    public string PromptField { get; init; } = "prompt";
    /// <summary>The field holding the ground-truth answer.</summary>
    public string AnswerField { get; init; } = "answer";
    /// <summary>The field holding a worked solution for SFT (the completion it teaches), or null: no SFT.</summary>
    public string? SolutionField { get; init; }
    /// <summary>The answer verifier, one of <see cref="AnswerVerifiers.Names"/>.</summary>
    public string Verifier { get; init; } = "exact";
    /// <summary>Tolerance of the <c>numeric</c> verifier.</summary>
    public double Tolerance { get; init; } = 1e-6;
    /// <summary>SHA-256 (hex) the train file must have on every node (the host's), or null before the host has read it.</summary>
    public string? TrainSha256 { get; init; }
    /// <summary>SHA-256 (hex) the test file must have, as <see cref="TrainSha256"/>.</summary>
    public string? TestSha256 { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid key.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Train)) throw new ArgumentException("task.train must name a JSONL file");
        if (Test is not null && TestFraction != 0)
            throw new ArgumentException("task.test-fraction must not be set together with task.test (the test rows come from one or the other)");
        if (Test is null && !(TestFraction > 0 && TestFraction < 1))
            throw new ArgumentException($"task.test-fraction must be in (0, 1) when there is no task.test file (got {TestFraction})");
        if (!AnswerVerifiers.Names.Contains(Verifier))
            throw new ArgumentException($"task.verifier must be one of {string.Join(", ", AnswerVerifiers.Names)} (got '{Verifier}')");
        if (!double.IsFinite(Tolerance) || Tolerance < 0) throw new ArgumentException($"task.tolerance must be a finite number >= 0 (got {Tolerance})");
        if (string.IsNullOrEmpty(PromptField)) throw new ArgumentException("task.prompt-field must not be empty");
        if (string.IsNullOrEmpty(AnswerField)) throw new ArgumentException("task.answer-field must not be empty");
    }

    /// <summary>These settings as JSON (what the task spec of the protocol carries).</summary>
    public string ToJson() => JsonSerializer.Serialize(this);

    /// <summary>Settings written by <see cref="ToJson"/>.</summary>
    public static JsonlTaskOptions FromJson(string json) => JsonSerializer.Deserialize<JsonlTaskOptions>(json)
        ?? throw new ArgumentException("task settings: null");
}

/// <summary>
/// A JSONL task read into memory: train and test rows, the verifier, and the character tokenizer of the data set (the
/// sorted distinct characters of every prompt as the policy sees it, answer and solution of both files, so it is the same
/// on every node that reads the same files).
/// </summary>
public sealed class JsonlTask
{
    private static readonly ConcurrentDictionary<JsonlTaskOptions, JsonlTask> Opened = new();

    private JsonlTask(JsonlTaskOptions options, JsonlTaskSource train, JsonlTaskSource test, string trainSha, string? testSha)
    {
        Options = options;
        Train = train;
        Test = test;
        TrainSha256 = trainSha;
        TestSha256 = testSha;
        Verifier = AnswerVerifiers.Create(options.Verifier, options.Tolerance);
        var texts = train.Rows.Concat(test.Rows).SelectMany(r =>
            new[] { PromptText(r), r.Answer ?? "", Solution(r) ?? "" });
        Tokenizer = CharTokenizer.FromTexts(texts);
        LongestPrompt = train.Rows.Concat(test.Rows).Max(r => PromptText(r).Length);
        LongestSolution = options.SolutionField is null ? 0 : train.Rows.Max(r => Solution(r)!.Length);
    }

    /// <summary>The settings (with the hashes the files were checked against, if any).</summary>
    public JsonlTaskOptions Options { get; }
    /// <summary>The training rows.</summary>
    public JsonlTaskSource Train { get; }
    /// <summary>The held-out rows.</summary>
    public JsonlTaskSource Test { get; }
    /// <summary>The train file's SHA-256 (hex).</summary>
    public string TrainSha256 { get; }
    /// <summary>The test file's SHA-256 (hex), or null when the test rows are split off the train file.</summary>
    public string? TestSha256 { get; }
    /// <summary>The answer verifier.</summary>
    public IAnswerVerifier Verifier { get; }
    /// <summary>The tokenizer of this data set.</summary>
    public CharTokenizer Tokenizer { get; }
    /// <summary>Characters of the longest prompt as the policy sees it (<see cref="PromptText"/>), train and test.</summary>
    public int LongestPrompt { get; }
    /// <summary>Characters of the longest train solution (0 without a solution field).</summary>
    public int LongestSolution { get; }

    /// <summary>The settings with this task's file hashes filled in: what the host sends to other nodes.</summary>
    public JsonlTaskOptions Pinned => Options with { TrainSha256 = TrainSha256, TestSha256 = TestSha256 };

    /// <summary>The text the policy is given for <paramref name="row"/>: its prompt and a newline (the completion follows).</summary>
    public static string PromptText(TaskRow row) => row.Prompt + "\n";

    /// <summary>The row's solution (the SFT target), or null without a solution field.</summary>
    public string? Solution(TaskRow row) => Options.SolutionField is { } f ? row.Fields[f] : null;

    /// <summary>Whether <paramref name="completion"/> answers <paramref name="row"/> correctly by the task's verifier.</summary>
    public bool IsCorrect(string completion, TaskRow row) => row.Answer is { } a && Verifier.IsCorrect(completion, a);

    /// <summary>
    /// Reads the task's files (once per process for the same settings). A missing file, a malformed line, a missing field
    /// or a file whose SHA-256 differs from the one in <paramref name="options"/> is a <see cref="TaskDataException"/>
    /// naming the file (and line).
    /// </summary>
    public static JsonlTask Open(JsonlTaskOptions options)
    {
        options.Validate();
        var task = Opened.GetOrAdd(options with { TrainSha256 = null, TestSha256 = null }, Load);
        Check(options.Train, options.TrainSha256, task.TrainSha256);
        if (options.Test is { } test) Check(test, options.TestSha256, task.TestSha256);
        return options.TrainSha256 is null && options.TestSha256 is null ? task : new JsonlTask(options, task.Train, task.Test, task.TrainSha256, task.TestSha256);
    }

    private static void Check(string path, string? expected, string? actual)
    {
        if (expected is not null && !string.Equals(expected, actual, StringComparison.OrdinalIgnoreCase))
            throw new TaskDataException($"{path}: SHA-256 {actual} on this node differs from {expected} on the host; " +
                                        "the task's files must be the same at the same path on every node");
    }

    private static JsonlTask Load(JsonlTaskOptions o)
    {
        string[] required = o.SolutionField is { } s ? [s] : [];
        var train = JsonlTaskSource.Load(o.Train, o.PromptField, o.AnswerField, required);
        string trainSha = Sha256(o.Train);
        if (o.Test is { } testPath)
        {
            var test = JsonlTaskSource.Load(testPath, o.PromptField, o.AnswerField);
            return new JsonlTask(o, train, test, trainSha, Sha256(testPath));
        }
        var (trainPart, testPart) = JsonlTaskSource.Split(train, o.TestFraction, o.SplitSeed);
        return new JsonlTask(o, trainPart, testPart, trainSha, null);
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}

/// <summary>
/// A task as the runtime uses it on any node: the tokenizer, the training rows by draw index, and the check of a
/// completion. The arithmetic generator (draw i is problem i of the stream) or a <see cref="JsonlTask"/> (draw k is row
/// <see cref="EpochOrder.RowOf"/>(k) of the train set, an epoch-wise shuffle seeded with the data seed).
/// </summary>
public sealed class TaskRuntime
{
    private readonly EpochOrder? order;
    private readonly HfTokenizer? pretrained;
    private readonly PromptTemplate? template;

    private TaskRuntime(ArithmeticGenerator? generator, JsonlTask? jsonl, ulong dataSeed, TokenizerSpec? tokenizer = null)
    {
        Generator = generator;
        Jsonl = jsonl;
        if (jsonl is not null) order = new EpochOrder(jsonl.Train.Count!.Value, dataSeed);
        if (tokenizer is not null)
        {
            if (jsonl is null) throw new ArgumentException("a pretrained model's tokenizer needs a data-set task (task.type = \"jsonl\"); the arithmetic task's rewards read its character ids");
            (pretrained, template) = tokenizer.Open();
        }
        Tokenizer = pretrained ?? jsonl?.Tokenizer ?? (ITokenizer)CharTokenizer.Default;
    }

    /// <summary>The arithmetic task's training stream (null for a data set).</summary>
    public ArithmeticGenerator? Generator { get; }
    /// <summary>The data set (null for the arithmetic task).</summary>
    public JsonlTask? Jsonl { get; }
    /// <summary>The tokenizer of the task: the model's (<see cref="TokenizerSpec"/>) when one is given, else the task's
    /// character table (<see cref="CharTokenizer.Default"/> for arithmetic, the data set's own otherwise).</summary>
    public ITokenizer Tokenizer { get; }

    /// <summary>The arithmetic task whose training stream has seed <paramref name="dataSeed"/>.</summary>
    public static TaskRuntime Arithmetic(ArithmeticOptions options, ulong dataSeed) => new(new ArithmeticGenerator(options, dataSeed), null, dataSeed);

    /// <summary>A JSONL task (files read once per process), its training order seeded by <paramref name="dataSeed"/>, its text
    /// encoded with <paramref name="tokenizer"/> (null: the data set's character table).</summary>
    /// <exception cref="TaskDataException">A file is missing, malformed or differs from the host's.</exception>
    public static TaskRuntime OfJsonl(JsonlTaskOptions options, ulong dataSeed, TokenizerSpec? tokenizer = null) => new(null, JsonlTask.Open(options), dataSeed, tokenizer);

    /// <summary>The train row index of draw <paramref name="draw"/>.</summary>
    public long RowOfDraw(long draw) => order?.RowOf(draw) ?? draw;

    /// <summary>Train row <paramref name="row"/>.</summary>
    public TaskRow Row(long row) => Jsonl?.Train.Get(row) ?? ArithmeticTaskSource.RowOf(Generator!.Get(row));

    /// <summary>The arithmetic problem of train row <paramref name="row"/>, or null for a data set.</summary>
    public ArithmeticProblem? Problem(long row) => Generator?.Get(row);

    /// <summary>The prompt ids of train row <paramref name="row"/>.</summary>
    public int[] PromptIds(long row) => Jsonl is null ? Tokenizer.Encode(Generator!.Get(row).Prompt) : PromptIds(Jsonl.Train.Get(row));

    /// <summary>The prompt ids of a data-set row (train or test): with a model's tokenizer the prompt rendered by the template
    /// (and the begin token when the model uses one), else <see cref="JsonlTask.PromptText"/> in the character table.</summary>
    public int[] PromptIds(TaskRow row) => pretrained is not null ? pretrained.EncodePrompt(row.Prompt, template) : Tokenizer.Encode(JsonlTask.PromptText(row));

    /// <summary>The SFT target of a data-set row: its solution and the end token (null without a solution field).</summary>
    public int[]? SolutionIds(TaskRow row) => Jsonl?.Solution(row) is { } s ? [.. Tokenizer.Encode(s), Tokenizer.EosId] : null;

    /// <summary>Tokens of the longest prompt (train and test) and of the longest train prompt with its SFT target (0 without a
    /// solution field) in this task's encoding; for the arithmetic task, both 0 (its lengths come from its format).</summary>
    public (int Prompt, int PromptAndSolution) LongestTokens()
    {
        if (Jsonl is not { } j) return (0, 0);
        if (pretrained is null) return (j.LongestPrompt, j.Options.SolutionField is null ? 0 : j.LongestPrompt + j.LongestSolution + 1);
        int prompt = 0, both = 0;
        foreach (var r in j.Train.Rows)
        {
            int p = PromptIds(r).Length;
            prompt = Math.Max(prompt, p);
            if (SolutionIds(r) is { } s) both = Math.Max(both, p + s.Length);
        }
        foreach (var r in j.Test.Rows) prompt = Math.Max(prompt, PromptIds(r).Length);
        return (prompt, both);
    }
}
