using RlActors.Host.Configuration;

namespace RlActors.Host.Tests;

/// <summary>
/// Experiment files that are not valid HOCON, includes, <c>--set</c> values, the messages of bad values, and the
/// sequence lengths checked against <c>model.context</c>. The parser is called in-process for the tables; the CLI tests
/// prove the end-to-end exit 2 with nothing written.
/// </summary>
public sealed class ConfigSyntaxTests
{
    private const string Good = "name = t1\nsft { steps = 5 }\ngrpo { steps = 3 }\n";

    /// <summary>Bad HOCON: the text, the line and column the error must point at, and a word of its message.</summary>
    public static TheoryData<string, int, int, string> BadSyntax => new()
    {
        { "name = t1\nsft { steps = 5 } }\ngrpo { steps = 3 }\n", 2, 19, "'}' closes nothing" },
        { "name = t1\nsft { steps = 5\ngrpo { steps = 3 }\n", 2, 5, "'{' is never closed" },
        { "name = t1\nrewards = [{ type = \"outcome\" }\n", 2, 11, "'[' is never closed" },
        { "name = t1\nsft { steps = 5 }\n}\n", 3, 1, "'}' closes nothing" },
        { "name = t1\nsft { steps = 5 ]\n", 2, 17, "'}' was expected" },
        { "name = \"t1\n", 1, 8, "never closed" },
        { "name = t1\ntask.operators = \"\"\"+-\n", 2, 18, "never closed" },
        { "name = t1\nrewards = [{ type = \"outcome\" },, { type = \"outcome\" }]\n", 2, 33, "',,'" },
        { "name = t1, , seed = 2\n", 1, 12, "',,'" },
        { "name = t1\nsft { steps = }\n", 2, 13, "no value" },
        { "{ name = t1 }\nseed = 2\n", 2, 1, "root object" },
        { "name = t1\nsft { steps = 5 }, seed = 2\n", 2, 18, "not valid HOCON" }, // found by Akka's parser, placed by its offset
    };

    [Theory]
    [MemberData(nameof(BadSyntax))]
    public void A_syntax_error_names_the_file_line_and_column(string text, int line, int column, string what)
    {
        var e = Assert.Throws<ConfigError>(() => GrpoExperimentFile.Parse(text, "t.conf", []));
        Assert.StartsWith($"t.conf:{line}:{column}: ", e.Message);
        Assert.Contains(what, e.Message);
    }

    [Theory]
    [InlineData("kind = \"ccl\"\nccl { epochs = 1 } }\nccl.batch-size = 3\n")]
    [InlineData("kind = \"flow\"\nflow { steps = 1 } }\nflow.group-size = 3\n")]
    public void Every_kind_of_experiment_is_checked(string text)
    {
        var e = Assert.Throws<ConfigError>(() => RunnableExperiment.Parse(text, "k.conf", [], null));
        Assert.StartsWith("k.conf:2:20: '}' closes nothing", e.Message);
    }

    [Fact]
    public void Comments_and_strings_may_hold_braces_and_commas()
    {
        const string text =
            "# a comment with } and ,, in it\n" +
            "name = \"t{1}\" // another }\n" +
            "task { operators = \"+-\" } # ]\n" +
            "capo.judge.model = \"\"\"x,,}\n]\"\"\"\n" +
            "rewards = [ { type = \"capo\" } ]\n";
        var exp = GrpoExperimentFile.Parse(text, "t.conf", []);
        Assert.Equal("t{1}", exp.Name);
        Assert.Equal("x,,}\n]", exp.Capo.Judge.OpenAi.Model);
    }

    [Fact]
    public void An_include_is_read_relative_to_the_including_file_and_stored_inlined()
    {
        using var dir = new TempFolder();
        Directory.CreateDirectory(dir["sub"]);
        dir.Write("sub/common.conf", "{\n  sft { steps = 7 }\n  grpo.steps = 4\n}\n");
        dir.Write("main.conf", "name = inc\ninclude \"sub/common.conf\"\nseed = 3\n");
        string main = dir["main.conf"];
        var exp = GrpoExperimentFile.Load(main, []);
        Assert.Equal(7, exp.Options.Sft.Steps);
        Assert.Equal(4, exp.Options.GrpoSteps);
        Assert.Equal(3UL, exp.Options.Seed);
        Assert.DoesNotContain("include", exp.EffectiveText);
        // what the store records parses again without the included file
        var again = GrpoExperimentFile.Parse(exp.EffectiveText, "store", []);
        Assert.Equal(7, again.Options.Sft.Steps);
    }

    [Fact]
    public void A_missing_include_names_its_path_and_a_syntax_error_in_it_names_the_included_file()
    {
        using var dir = new TempFolder();
        dir.Write("main.conf", "name = inc\ninclude file(\"nowhere.conf\")\n");
        string main = dir["main.conf"];
        var e = Assert.Throws<ConfigError>(() => GrpoExperimentFile.Load(main, []));
        Assert.Contains("main.conf:2:1: include \"nowhere.conf\": no such file", e.Message);
        Assert.Contains(Path.Combine(dir.Path, "nowhere.conf"), e.Message);

        dir.Write("bad.conf", "sft { steps = 5 } }\n");
        dir.Write("main.conf", "name = inc\ninclude \"bad.conf\"\n");
        e = Assert.Throws<ConfigError>(() => GrpoExperimentFile.Load(main, []));
        Assert.EndsWith("bad.conf:1:19: '}' closes nothing (no '{' is open here)", e.Message);
    }

    [Theory]
    [InlineData("model.d-model=[16,,32]", "',,'")]
    [InlineData("name=\"abc", "never closed")]
    [InlineData("task.operators=x", "task.operators contains 'x'")]
    [InlineData("grpo.steps=many", "grpo.steps: expected an integer, got 'many'")]
    [InlineData("rewards=[]", "rewards: the list is empty")]
    [InlineData("model.context=16", "model.context = 16 is too short")]
    public void A_bad_set_value_is_blamed_on_the_set_option_not_the_file(string set, string what)
    {
        var e = Assert.Throws<ConfigError>(() => GrpoExperimentFile.Parse(Good, "t.conf", [set]));
        Assert.StartsWith($"--set {set}: ", e.Message);
        Assert.Contains(what, e.Message);
        Assert.DoesNotContain("t.conf", e.Message);
    }

    [Theory]
    [InlineData("task.operators = \"x\"", "t.conf: task.operators contains 'x' at position 0")]
    [InlineData("task { min-ops = 3, max-ops = 2 }", "t.conf: task.max-ops (2) must not be smaller than task.min-ops (3)")]
    [InlineData("task { operand-digits = 9 }", "t.conf: task.operand-digits must be between 1 and 4, but is 9")]
    [InlineData("task { operand-digits = 4, operators = \"*\", max-ops = 9 }", "task.max-ops = 9 can produce values")]
    [InlineData("rewards = []", "t.conf: rewards: the list is empty; it must hold at least one reward, e.g. [{ type = \"outcome\" }]")]
    public void A_bad_value_is_named_by_its_key_not_by_its_CSharp_property(string line, string expected)
    {
        var e = Assert.Throws<ConfigError>(() => GrpoExperimentFile.Parse(Good + line + "\n", "t.conf", []));
        Assert.Contains(expected, e.Message);
        foreach (var csharp in new[] { "Operators", "MaxOps", "MinOps", "OperandDigits", "(Parameter" })
            Assert.DoesNotContain(csharp, e.Message);
    }

    [Theory]
    [InlineData("model.context = 57", "model.context = 57 is too short", "58")]
    [InlineData("model.context = 40\ngrpo.max-new-tokens = 20", "model.context = 40 is too short for SFT", "42")]
    [InlineData("model.context = 64\ntask { max-ops = 6, operand-digits = 2 }", "task.max-ops = 6, task.operand-digits = 2", "71")]
    public void Sequences_longer_than_the_context_are_refused(string lines, string expected, string need)
    {
        var e = Assert.Throws<ConfigError>(() => GrpoExperimentFile.Parse(Good + lines + "\n", "t.conf", []));
        Assert.StartsWith("t.conf: model.context", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.Contains($"raise model.context to {need}", e.Message);
    }

    [Fact]
    public void Sequences_that_fit_the_context_are_accepted()
    {
        // the longest prompt of 3 one-digit +- operations is 10 tokens; 10 + 48 = 58; without SFT its 32-token solution does not matter
        GrpoExperimentFile.Parse(Good + "model.context = 58\n", "t.conf", []);
        GrpoExperimentFile.Parse(Good + "model.context = 42\ngrpo.max-new-tokens = 20\n", "t.conf", []);
        GrpoExperimentFile.Parse(Good + "model.context = 30\ngrpo.max-new-tokens = 20\nsft.steps = 0\n", "t.conf", []);
    }

    [Fact]
    public async Task Every_example_parses()
    {
        var files = Directory.GetFiles(Repo.InRepo("examples"), "*.conf", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        using var models = new TempFolder();
        foreach (var file in files)
        {
            string text = File.ReadAllText(file);
            var overrides = RepoPaths(text);
            if (ConfigReader.Peek(text, [], "model.type") == "hf") overrides.Add($"model.path={Experiments.Quote(await MakeModelAsTheCommentSays(text, file, models))}");
            Assert.Null(HoconSyntax.Check(text));
            string? kind = ConfigReader.Peek(text, [], "kind");
            _ = kind switch
            {
                RlActors.Host.Kinds.ExperimentKinds.Ccl => (object)CclExperimentFile.Parse(text, file, []), // without loading the data set
                RlActors.Host.Kinds.ExperimentKinds.Flow => FlowExperimentFile.Parse(text, file, []),
                _ => GrpoExperimentFile.Parse(text, file, overrides),
            };
        }
    }

    /// <summary>An hf example names a model that its comment says how to make (a make-hf-model command, continued over
    /// lines ending in a backslash): runs that command from the repository root, writing into <paramref name="models"/>.</summary>
    private static async Task<string> MakeModelAsTheCommentSays(string text, string file, TempFolder models)
    {
        var lines = text.Split('\n').Select(l => l.TrimStart('#').Trim()).ToList();
        int at = lines.FindIndex(l => l.Contains("-- make-hf-model", StringComparison.Ordinal));
        Assert.True(at >= 0, $"{file}: model.type = hf but no make-hf-model command in its comment");
        var command = new List<string>();
        for (int i = at; ; i++)
        {
            string line = lines[i];
            bool more = line.EndsWith('\\');
            command.AddRange(line.TrimEnd('\\').Split(' ', StringSplitOptions.RemoveEmptyEntries));
            if (!more) break;
        }
        var args = command.SkipWhile(w => w != "make-hf-model").ToList();
        string output = Path.Combine(models.Path, Path.GetFileNameWithoutExtension(file));
        args[args.IndexOf("--out") + 1] = output;
        await using var make = await CliProcess.RunAsync(Repo.Root, TimeSpan.FromSeconds(120), [.. args]);
        Experiments.AssertSucceeded(make);
        return output;
    }

    /// <summary>A JSONL example names its data files relative to the working directory (the repository root, where the
    /// examples are run from): overrides that point them into the repository from the test's folder.</summary>
    private static List<string> RepoPaths(string text) => new[] { "task.train", "task.test" }
        .Select(key => (key, value: ConfigReader.Peek(text, [], key)))
        .Where(p => p.value is not null)
        .Select(p => $"{p.key}={Experiments.Quote(Repo.InRepo(p.value!))}").ToList();

    [Fact]
    public async Task A_stray_brace_is_exit_2_with_file_line_and_column_and_nothing_written()
    {
        using var dir = new TempFolder();
        dir.Write("t1.conf", "name = t1\nsft { steps = 5 } }\ngrpo { steps = 3 }\n");
        await BadInputTests.AssertBadInput(dir, ["t1.conf:2:19:", "'}'"], "run", "t1.conf");
    }

    [Fact]
    public async Task A_missing_include_is_exit_2_naming_the_included_path()
    {
        using var dir = new TempFolder();
        dir.Write("t1.conf", Experiments.Tiny("t1", "include \"other.conf\""));
        await BadInputTests.AssertBadInput(dir, ["include \"other.conf\"", "no such file"], "run", "t1.conf");
    }

    [Fact]
    public async Task A_context_too_short_for_the_task_is_exit_2_before_the_run_starts()
    {
        using var dir = new TempFolder();
        dir.Write("smoke.conf", File.ReadAllText(Repo.InRepo("examples/smoke.conf")));
        await BadInputTests.AssertBadInput(dir, ["--set model.context=16", "model.context = 16 is too short", "grpo.max-new-tokens"],
            "run", "smoke.conf", "--set", "model.context=16");
    }
}
