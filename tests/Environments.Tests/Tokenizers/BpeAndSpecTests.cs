using System.Text.Json.Nodes;
using RlActors.Environments.Arithmetic;
using RlActors.Environments.Tasks;
using RlActors.Environments.Tokenizers;

namespace RlActors.Environments.Tests.Tokenizers;

/// <summary>The BPE tokenizer make-hf-model writes, and a model tokenizer as a task's nodes open it (<see cref="TokenizerSpec"/>).</summary>
public sealed class BpeAndSpecTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("rlactors-bpe-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static readonly string[] Corpus =
        ["the counter goes up by 5", "the counter goes down by 3", "then the counter goes up", "What is the counter now?", "naïve café ☃"];

    private string Written(int merges = 50)
    {
        string d = Path.Combine(dir, $"tok-{merges}-{Guid.NewGuid():N}");
        BpeTrainer.Write(BpeTrainer.Train(Corpus, merges), d, 128);
        return d;
    }

    [Fact]
    public void Learned_merges_make_frequent_words_single_tokens_and_the_files_round_trip_any_text()
    {
        var bpe = BpeTrainer.Train(Corpus, 50);
        Assert.Equal(bpe, BpeTrainer.Train(Corpus, 50) with { }, new BpeComparer()); // the same corpus gives the same merges
        Assert.Equal((bpe.Vocab.Count, bpe.Vocab.Count + 1, bpe.Vocab.Count + 2), (bpe.EosId, bpe.PadId, bpe.VocabSize));

        var tok = HfTokenizer.FromDirectory(Written());
        Assert.Equal((bpe.EosId, bpe.PadId, bpe.VocabSize), (tok.EosId, tok.PadId, tok.VocabSize));
        Assert.Single(tok.Encode(" counter"));   // 4 occurrences: merged into one token
        Assert.Equal(8, tok.Encode(" zebraic").Length); // never seen: one token per byte
        foreach (var text in Corpus.Append("unseen text, with digits 12345 and emoji 🙂\nand a newline"))
            Assert.Equal(text, tok.Decode(tok.Encode(text)));
        Assert.Equal("up", tok.Decode([.. tok.Encode("up"), tok.EosId, .. tok.Encode(" ignored")]));
    }

    private sealed class BpeComparer : IEqualityComparer<BpeTrainer.Result>
    {
        public bool Equals(BpeTrainer.Result? a, BpeTrainer.Result? b) => a!.Merges.SequenceEqual(b!.Merges) && a.Vocab.OrderBy(kv => kv.Value).SequenceEqual(b.Vocab.OrderBy(kv => kv.Value));
        public int GetHashCode(BpeTrainer.Result r) => r.Merges.Count;
    }

    [Fact]
    public void A_pinned_spec_refuses_other_files_at_its_path_naming_the_directory()
    {
        string d = Written();
        var pinned = new TokenizerSpec { Directory = d }.Pinned();
        Assert.Matches("^[0-9a-f]{64}$", pinned.Sha256);
        Assert.Equal(pinned, TokenizerSpec.FromJson(pinned.ToJson()));
        Assert.Equal(pinned.Open().Tokenizer.Encode("the counter"), new TokenizerSpec { Directory = d }.Open().Tokenizer.Encode("the counter"));

        // The same directory with other merges (a fresh process would read the changed files; a new path stands for that here).
        string other = Written(10);
        var moved = pinned with { Directory = other };
        var e = Assert.Throws<TaskDataException>(() => moved.Open());
        Assert.Contains(other, e.Message);
        Assert.Contains($"differs from {pinned.Sha256} on the host", e.Message);
    }

    [Fact]
    public void Auto_templates_follow_the_chat_template_of_tokenizer_config_and_plain_puts_a_newline_after_the_prompt()
    {
        string d = Written();
        var plain = new TokenizerSpec { Directory = d }.Open();
        Assert.IsType<PlainTemplate>(plain.Template);
        Assert.Equal("2+2?\n", plain.Template.Render("2+2?"));

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(d, "tokenizer_config.json")))!.AsObject();
        config["chat_template"] = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}";
        File.WriteAllText(Path.Combine(d, "tokenizer_config.json"), config.ToJsonString());
        string copy = Path.Combine(dir, "chat");
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(d)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        var chat = new TokenizerSpec { Directory = copy, SystemPrompt = "Be brief." }.Open();
        Assert.Equal(new ChatTemplate(ChatStyle.ChatMl, "Be brief."), chat.Template);

        Assert.Contains("model.prompt-template must be one of auto, plain, chatml, llama3",
            Assert.Throws<ArgumentException>(() => new TokenizerSpec { Directory = d, Template = "alpaca" }.Validate()).Message);
        Assert.Contains("model.system-prompt needs a chat template",
            Assert.Throws<ArgumentException>(() => new TokenizerSpec { Directory = d, Template = "plain", SystemPrompt = "x" }.Validate()).Message);
        var missing = Assert.Throws<TaskDataException>(() => new TokenizerSpec { Directory = Path.Combine(dir, "nowhere") }.Open());
        Assert.Contains("nowhere", missing.Message);
    }

    [Fact]
    public void A_data_set_task_with_a_model_tokenizer_encodes_prompts_by_the_template_and_solutions_with_its_end_token()
    {
        string folder = Path.Combine(dir, "wp");
        WordProblems.WriteSplit(folder, new ArithmeticGenerator(new ArithmeticOptions(), 3), 40, 10);
        var options = new JsonlTaskOptions
        {
            Train = Path.Combine(folder, "train.jsonl"), Test = Path.Combine(folder, "test.jsonl"),
            PromptField = "question", AnswerField = "answer", SolutionField = "solution", Verifier = "gsm8k",
        };
        string d = Path.Combine(dir, "wp-tok");
        BpeTrainer.Write(BpeTrainer.Train(File.ReadLines(options.Train), 200), d, 256);
        var spec = new TokenizerSpec { Directory = d, Template = "plain", Format = "Q: {prompt}\nA: " };
        var task = TaskRuntime.OfJsonl(options, 5, spec);
        var tok = Assert.IsType<HfTokenizer>(task.Tokenizer);
        var row = task.Jsonl!.Train.Get(0);
        Assert.Equal("Q: " + row.Prompt + "\nA: ", tok.Decode(task.PromptIds(row)));
        var solution = task.SolutionIds(row)!;
        Assert.Equal(tok.EosId, solution[^1]);
        Assert.Equal(task.Jsonl.Solution(row), tok.Decode(solution));
        var (prompt, both) = task.LongestTokens();
        Assert.Equal(task.Jsonl.Train.Rows.Concat(task.Jsonl.Test.Rows).Max(r => task.PromptIds(r).Length), prompt);
        Assert.True(both > prompt && both < task.Jsonl.LongestPrompt + task.Jsonl.LongestSolution, $"BPE lengths {prompt}, {both} are not shorter than characters");

        // The arithmetic parser reads a BPE completion through its text (positions are characters).
        var parsed = StepParser.Parse([.. tok.Encode("2+3=5\nA:5"), tok.EosId], tok);
        Assert.Equal(ResponseStatus.Complete, parsed.Status);
        Assert.Equal(5, parsed.Answer);
        Assert.Equal("2+3=5", Assert.Single(parsed.Steps).Text);
    }
}
