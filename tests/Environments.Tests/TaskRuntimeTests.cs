using RlActors.Environments.Arithmetic;
using RlActors.Environments.Tasks;

namespace RlActors.Environments.Tests;

public sealed class JsonlTaskTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "rlactors-jsonl-task-" + Guid.NewGuid().ToString("N")[..12]);

    public JsonlTaskTests() => Directory.CreateDirectory(dir);

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private JsonlTaskOptions WordProblems(int train = 60, int test = 20)
    {
        string folder = Path.Combine(dir, $"wp-{train}-{test}");
        Tasks.WordProblems.WriteSplit(folder, new ArithmeticGenerator(new ArithmeticOptions(), 3), train, test);
        return new JsonlTaskOptions
        {
            Train = Path.Combine(folder, "train.jsonl"), Test = Path.Combine(folder, "test.jsonl"),
            PromptField = "question", AnswerField = "answer", SolutionField = "solution", Verifier = "gsm8k",
        };
    }

    [Fact]
    public void The_tokenizer_is_the_sorted_characters_of_prompts_answers_and_solutions_and_encodes_every_row()
    {
        var task = JsonlTask.Open(WordProblems());
        string chars = task.Tokenizer.Characters;
        Assert.Equal(chars.Order().ToArray(), chars.ToCharArray());
        Assert.Contains('#', chars);   // from the solutions
        Assert.Contains('\n', chars);  // the newline after every prompt
        Assert.Contains('W', chars);   // "What is the counter now?"
        foreach (var row in task.Train.Rows.Concat(task.Test.Rows))
            Assert.Equal(JsonlTask.PromptText(row) + task.Solution(row), task.Tokenizer.Decode(task.Tokenizer.Encode(JsonlTask.PromptText(row) + task.Solution(row))));
        Assert.True(task.IsCorrect("7+5=12\n#### " + task.Test.Rows[0].Answer, task.Test.Rows[0]));
    }

    [Fact]
    public void Test_questions_of_the_example_data_set_are_not_train_questions()
    {
        var task = JsonlTask.Open(WordProblems(200, 50));
        var train = task.Train.Rows.Select(r => r.Prompt).ToHashSet();
        Assert.Equal(50, task.Test.Count);
        Assert.DoesNotContain(task.Test.Rows, r => train.Contains(r.Prompt));
    }

    [Fact]
    public void A_file_that_differs_from_the_hosts_is_refused_naming_it()
    {
        var options = WordProblems();
        var pinned = JsonlTask.Open(options).Pinned;
        Assert.Equal(64, pinned.TrainSha256!.Length);
        Assert.Same(JsonlTask.Open(options).Train, JsonlTask.Open(pinned).Train); // read once per process
        var other = pinned with { TrainSha256 = new string('0', 64) };
        var error = Assert.Throws<TaskDataException>(() => JsonlTask.Open(other));
        Assert.Contains(options.Train, error.Message);
        Assert.Contains("SHA-256", error.Message);
    }

    [Fact]
    public void A_row_without_the_solution_field_names_its_file_and_line()
    {
        string path = Path.Combine(dir, "nosolution.jsonl");
        File.WriteAllText(path, "{\"q\": \"a\", \"a\": 1, \"s\": \"1\"}\n\n{\"q\": \"b\", \"a\": 2}\n");
        var error = Assert.Throws<TaskDataException>(() => JsonlTask.Open(new JsonlTaskOptions
            { Train = path, TestFraction = 0.5, PromptField = "q", AnswerField = "a", SolutionField = "s" }));
        Assert.Contains($"{path}:3", error.Message);
        Assert.Contains("'s'", error.Message);
    }

    [Fact]
    public void Draws_map_to_train_rows_epoch_by_epoch_the_same_in_every_runtime()
    {
        var options = WordProblems(30, 10);
        var a = TaskRuntime.OfJsonl(options, 9);
        var b = TaskRuntime.OfJsonl(options, 9);
        var epoch = Enumerable.Range(0, 30).Select(k => a.RowOfDraw(k)).ToList();
        Assert.Equal(Enumerable.Range(0, 30).Select(i => (long)i), epoch.Order());
        Assert.Equal(epoch, Enumerable.Range(0, 30).Select(k => b.RowOfDraw(k)));
        Assert.Equal(a.Tokenizer.Encode(JsonlTask.PromptText(a.Row(epoch[0]))), a.PromptIds(epoch[0]));
        Assert.Null(a.Problem(0));
        var arithmetic = TaskRuntime.Arithmetic(new ArithmeticOptions(), 5);
        Assert.Equal(7, arithmetic.RowOfDraw(7));
        Assert.Same(CharTokenizer.Default, arithmetic.Tokenizer);
        Assert.Equal(CharTokenizer.Default.Encode(new ArithmeticGenerator(new ArithmeticOptions(), 5).Get(7).Prompt), arithmetic.PromptIds(7));
    }
}
