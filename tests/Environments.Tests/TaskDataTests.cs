using RlActors.Environments.Arithmetic;
using RlActors.Environments.Tasks;

namespace RlActors.Environments.Tests;

public sealed class AnswerVerifierTests
{
    [Theory]
    // verifier, completion, ground truth, correct
    [InlineData("exact", "  Paris \n", "Paris", true)]
    [InlineData("exact", "paris", "Paris", false)]
    [InlineData("last-number", "3+4=7, so 7-2=5. The answer is 5.", "5", true)]
    [InlineData("last-number", "The answer is 1,234", "1234", true)]
    [InlineData("last-number", "The answer is 5, not 6", "5", false)]
    [InlineData("last-number", "no number here", "5", false)]
    [InlineData("last-number", "it is -3", "-3", true)]
    [InlineData("numeric", "x = 0.3333333", "0.333333333", true)]
    [InlineData("numeric", "x = 0.33", "0.333333333", false)]
    [InlineData("numeric", "about 2.50", "2.5", true)]
    [InlineData("gsm8k", "She has 3+4=7 apples.\n#### 7", "7", true)]
    [InlineData("gsm8k", "#### 1,000 dollars", "1000", true)]
    [InlineData("gsm8k", "#### 7", "Natalia sold 48/2 = 24 clips in May.\n#### 72", false)]
    [InlineData("gsm8k", "work...\n#### 72", "Natalia sold 48/2 = 24 clips in May.\n#### 72", true)]
    [InlineData("gsm8k", "The answer is 72", "72", false)] // no "####": no answer
    [InlineData("boxed", "so $x = \\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}", true)]
    [InlineData("boxed", "\\boxed{3} then \\boxed{ 4 }", "4", true)] // the last box wins
    [InlineData("boxed", "\\boxed{4.0}", "4", true)]
    [InlineData("boxed", "\\boxed{x^{2}+1}", "\\boxed{x^{2} + 1}", true)]
    [InlineData("boxed", "\\boxed{3", "3", false)] // unclosed
    [InlineData("boxed", "3", "3", false)]
    public void Verifiers_read_answers_the_way_their_data_sets_write_them(string name, string completion, string truth, bool correct) =>
        Assert.Equal(correct, AnswerVerifiers.Create(name).IsCorrect(completion, truth));

    [Fact]
    public void Numeric_tolerance_is_a_setting_and_bad_names_or_tolerances_are_refused()
    {
        Assert.True(AnswerVerifiers.Create("numeric", 0.1).IsCorrect("3.05", "3"));
        Assert.False(AnswerVerifiers.Create("numeric", 0.01).IsCorrect("3.05", "3"));
        var unknown = Assert.Throws<ArgumentException>(() => AnswerVerifiers.Create("regex"));
        Assert.Contains("'regex'", unknown.Message);
        Assert.Contains("gsm8k", unknown.Message);
        Assert.Throws<ArgumentException>(() => AnswerVerifiers.Create("numeric", -1));
        Assert.Equal(AnswerVerifiers.Names, AnswerVerifiers.Names.Select(n => AnswerVerifiers.Create(n).Name));
    }

    [Fact]
    public void Extract_gives_the_answer_or_null()
    {
        Assert.Equal("42", AnswerVerifiers.Create("gsm8k").Extract("a\nb\n#### 42"));
        Assert.Null(AnswerVerifiers.Create("gsm8k").Extract("42"));
        Assert.Equal("x+1", AnswerVerifiers.Create("boxed").Extract("\\boxed{x+1}"));
        Assert.Equal("-7", AnswerVerifiers.Create("last-number").Extract("from 3 to -7"));
    }
}

public sealed class JsonlTaskSourceTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("rlactors-jsonl-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string File_(string text)
    {
        string path = Path.Combine(dir, "data.jsonl");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Rows_keep_the_prompt_the_answer_and_every_other_column()
    {
        string path = File_("{\"q\":\"2+2?\",\"a\":4,\"level\":\"easy\",\"meta\":{\"src\":\"x\"}}\n\n{\"q\":\"3*3?\",\"a\":\"9\",\"level\":\"hard\"}\n");
        var source = JsonlTaskSource.Load(path, "q", "a");
        Assert.Equal(2, source.Count);
        var first = source.Get(0);
        Assert.Equal(("2+2?", "4"), (first.Prompt, first.Answer));
        Assert.Equal("easy", first.Fields["level"]);
        Assert.Equal("{\"src\":\"x\"}", first.Fields["meta"]);
        Assert.Equal(1, source.Get(1).Index);
        Assert.Null(JsonlTaskSource.Load(path, "q", null).Get(0).Answer);
    }

    [Theory]
    [InlineData("{\"q\":\"a\",\"a\":1}\n{\"q\":\"b\",\"a\":2\n", ":2: not valid JSON")]
    [InlineData("{\"q\":\"a\",\"a\":1}\n[1,2]\n", ":2: expected a JSON object, got an array")]
    [InlineData("{\"question\":\"a\",\"a\":1}\n", ":1: no field 'q' (the prompt field; the line has 'question', 'a')")]
    [InlineData("{\"q\":\"\",\"a\":1}\n", ":1: field 'q' must be a non-empty string, got an empty string")]
    [InlineData("{\"q\":7,\"a\":1}\n", ":1: field 'q' must be a non-empty string, got a number")]
    [InlineData("{\"q\":\"a\"}\n", ":1: no field 'a' (the answer field")]
    [InlineData("{\"q\":\"a\",\"a\":[1]}\n", ":1: field 'a' must be a string or a number, got an array")]
    [InlineData("\n\n", ": no rows")]
    public void A_malformed_line_is_an_error_naming_the_file_and_line(string text, string expected)
    {
        string path = File_(text);
        var e = Assert.Throws<TaskDataException>(() => JsonlTaskSource.Load(path, "q", "a"));
        Assert.StartsWith(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_missing_file_or_a_directory_is_named()
    {
        Assert.Contains("no such file", Assert.Throws<TaskDataException>(() => JsonlTaskSource.Load(Path.Combine(dir, "nope.jsonl"), "q", "a")).Message);
        Assert.Contains("is a directory", Assert.Throws<TaskDataException>(() => JsonlTaskSource.Load(dir, "q", "a")).Message);
    }

    [Fact]
    public void A_split_is_deterministic_disjoint_and_complete()
    {
        string path = File_(string.Concat(Enumerable.Range(0, 100).Select(i => $"{{\"q\":\"p{i}\",\"a\":{i}}}\n")));
        var source = JsonlTaskSource.Load(path, "q", "a");
        var (train, test) = JsonlTaskSource.Split(source, 0.2, seed: 5);
        Assert.Equal((80L, 20L), (train.Count!.Value, test.Count!.Value));
        var all = train.Rows.Concat(test.Rows).Select(r => r.Prompt).Order().ToList();
        Assert.Equal(source.Rows.Select(r => r.Prompt).Order(), all);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => (long)i), test.Rows.Select(r => r.Index));
        var (_, again) = JsonlTaskSource.Split(source, 0.2, seed: 5);
        Assert.Equal(test.Rows.Select(r => r.Prompt), again.Rows.Select(r => r.Prompt));
        var (_, other) = JsonlTaskSource.Split(source, 0.2, seed: 6);
        Assert.NotEqual(test.Rows.Select(r => r.Prompt), other.Rows.Select(r => r.Prompt));
    }

    [Fact]
    public void Epoch_order_visits_every_row_once_per_epoch_and_depends_only_on_seed_and_draw()
    {
        var order = new EpochOrder(10, seed: 3);
        for (int epoch = 0; epoch < 3; epoch++)
            Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), Enumerable.Range(epoch * 10, 10).Select(k => order.RowOf(k)).Order());
        var fresh = new EpochOrder(10, seed: 3);
        Assert.Equal(order.RowOf(17), fresh.RowOf(17)); // random access, as after a resume
        Assert.NotEqual(Enumerable.Range(0, 10).Select(k => order.RowOf(k)), Enumerable.Range(10, 10).Select(k => order.RowOf(k)));
    }

    [Fact]
    public void Word_problems_written_as_jsonl_read_back_and_their_solutions_verify()
    {
        var generator = new ArithmeticGenerator(new ArithmeticOptions { MinOps = 1, MaxOps = 3, Operators = "+-*" }, 11);
        string path = Path.Combine(dir, "words.jsonl");
        WordProblems.Write(path, generator, first: 0, count: 200);
        var source = JsonlTaskSource.Load(path, "question", "answer");
        Assert.Equal(200, source.Count);
        var gsm8k = AnswerVerifiers.Create("gsm8k");
        foreach (var row in source.Rows)
        {
            var p = generator.Get(row.Index);
            Assert.Equal(p.Answer.ToString(System.Globalization.CultureInfo.InvariantCulture), row.Answer);
            Assert.StartsWith($"A counter starts at {p.Operands[0]}.", row.Prompt);
            Assert.EndsWith("What is the counter now?", row.Prompt);
            Assert.True(gsm8k.IsCorrect(row.Fields["solution"], row.Answer!), row.Fields["solution"]);
            Assert.Equal(p.Operators.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), row.Fields["steps"]);
        }
    }

    [Fact]
    public void The_arithmetic_generator_is_a_task_source_with_the_chains_answer()
    {
        var generator = new ArithmeticGenerator(new ArithmeticOptions(), 2);
        var source = new ArithmeticTaskSource(generator);
        Assert.Null(source.Count);
        var row = source.Get(5);
        Assert.Equal(generator.Get(5).Prompt, row.Prompt);
        Assert.True(AnswerVerifiers.Create("last-number").IsCorrect(generator.Get(5).ReferenceCompletion, row.Answer!));
    }
}
