using System.Text.Json.Nodes;
using Microsoft.ML.Tokenizers;
using RlActors.Environments.Arithmetic;
using RlActors.Environments.Tokenizers;

namespace RlActors.Environments.Tests.Tokenizers;

/// <summary>Byte-level BPE and tiktoken tokenizers on the real GPT-2 vocabulary, their special tokens and prompt templates.</summary>
public sealed class HfTokenizerTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("tok-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static readonly Dictionary<string, int> EndOfText = new() { ["<|endoftext|>"] = Gpt2Data.EndOfText };
    private static readonly HfTokenizer.SpecialNames Gpt2Names = new("<|endoftext|>", "<|endoftext|>", null);

    private string Write(string name, string text)
    {
        string path = Path.Combine(dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    private HfTokenizer Gpt2Tiktoken()
    {
        string path = Path.Combine(dir, "gpt2.tiktoken");
        File.WriteAllBytes(path, Gpt2Data.TiktokenFile);
        return HfTokenizer.FromTiktoken(path, HfTokenizer.Gpt2Pattern, EndOfText, Gpt2Names);
    }

    /// <summary>The ids the published GPT-2 tokenizer gives.</summary>
    private static void AssertPublishedGpt2Ids(ITokenizer t)
    {
        Assert.Equal([15496, 995], t.Encode("Hello world"));
        Assert.Equal([15496, 11, 995, 0], t.Encode("Hello, world!"));
        Assert.Equal([464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13], t.Encode("The quick brown fox jumps over the lazy dog."));
        Assert.Equal([262], t.Encode(" the"));
        Assert.Equal([198], t.Encode("\n"));
        Assert.Equal([Gpt2Data.EndOfText], t.Encode("<|endoftext|>"));
        Assert.Equal(50257, t.VocabSize);
        Assert.Equal(Gpt2Data.EndOfText, t.EosId);
    }

    [Fact]
    public void A_tiktoken_file_of_the_gpt2_data_package_gives_the_published_gpt2_ids()
    {
        var t = Gpt2Tiktoken();
        AssertPublishedGpt2Ids(t);
        Assert.Equal(Gpt2Data.EndOfText, t.PadId); // no pad token: padding is the end token
        Assert.False(t.AddBos);
        // The package's own GPT-2 tokenizer agrees on every text, and decoding gives the text back.
        var reference = TiktokenTokenizer.CreateForModel("gpt2");
        foreach (var text in Gpt2Data.Corpus)
        {
            Assert.Equal(reference.EncodeToIds(text), t.Encode(text));
            Assert.Equal(text, t.DecodeAll(t.Encode(text)));
        }
        Assert.Equal("Hello world", t.Decode([15496, 995, Gpt2Data.EndOfText, 262]));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Byte_level_bpe_from_tokenizer_json_gives_the_gpt2_ids(bool pairMerges)
    {
        Write("m/tokenizer.json", Gpt2Data.TokenizerJson(pairMerges: pairMerges).ToJsonString());
        Write("m/tokenizer_config.json", """{"add_bos_token": false, "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}""");
        var t = HfTokenizer.FromDirectory(Path.Combine(dir, "m"));
        AssertPublishedGpt2Ids(t);
        var tiktoken = Gpt2Tiktoken();
        foreach (var text in Gpt2Data.Corpus)
        {
            Assert.Equal(tiktoken.Encode(text), t.Encode(text));
            Assert.Equal(text, t.DecodeAll(t.Encode(text)));
        }
    }

    [Fact]
    public void Byte_level_bpe_from_vocab_json_and_merges_txt_gives_the_gpt2_ids()
    {
        var (vocab, merges) = Gpt2Data.VocabAndMerges();
        Write("m/vocab.json", new JsonObject(vocab.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))).ToJsonString());
        Write("m/merges.txt", "#version: 0.2\n" + string.Join("\n", merges) + "\n");
        Write("m/special_tokens_map.json", """{"bos_token": {"content": "<|endoftext|>", "lstrip": false}, "eos_token": {"content": "<|endoftext|>"}}""");
        var t = HfTokenizer.FromDirectory(Path.Combine(dir, "m"));
        AssertPublishedGpt2Ids(t);
        var tiktoken = Gpt2Tiktoken();
        foreach (var text in Gpt2Data.Corpus) Assert.Equal(tiktoken.Encode(text), t.Encode(text));
    }

    /// <summary>A tokenizer.json shaped like Llama 3's and Qwen2's (Split regex then ByteLevel without regex; NFC; a begin token added by
    /// the post-processor), on the GPT-2 vocabulary plus chat tokens.</summary>
    private string Llama3Style(bool nfc, bool ignoreMerges)
    {
        var specials = new Dictionary<string, int> { ["<|begin_of_text|>"] = 50257, ["<|eot_id|>"] = 50258, ["<|im_start|>"] = 50259, ["<|im_end|>"] = 50260,
            ["<|start_header_id|>"] = 50261, ["<|end_header_id|>"] = 50262 };
        var json = Gpt2Data.TokenizerJson(
            preTokenizer: new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = HfTokenizer.Cl100kPattern }, ["behavior"] = "Isolated", ["invert"] = false },
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = false }),
            },
            normalizer: nfc ? new JsonObject { ["type"] = "NFC" } : null,
            postProcessor: new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "<|begin_of_text|>", ["type_id"] = 0 } },
                    new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
            },
            extraAdded: specials, ignoreMerges: ignoreMerges);
        Write("l3/tokenizer.json", json.ToJsonString());
        Write("l3/tokenizer_config.json", """{"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "chat_template": "{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>..."}""");
        return Path.Combine(dir, "l3");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_llama3_style_tokenizer_json_splits_with_its_regex_keeps_special_tokens_whole_and_adds_the_begin_token(bool ignoreMerges)
    {
        var t = HfTokenizer.FromDirectory(Llama3Style(nfc: true, ignoreMerges));
        Assert.IsType(ignoreMerges ? typeof(TiktokenTokenizer) : typeof(BpeTokenizer), t.Inner);
        Assert.Equal((50263, 50258, 50257), (t.VocabSize, t.EosId, t.BosId!.Value));
        Assert.True(t.AddBos);
        Assert.Equal(t.EosId, t.PadId);

        // The same ranks with the same regex through Microsoft.ML.Tokenizers' own tiktoken path agree.
        var specials = new Dictionary<string, int>(t.SpecialTokens);
        var reference = TiktokenTokenizer.Create(new MemoryStream(Gpt2Data.TiktokenFile),
            new RegexPreTokenizer(new System.Text.RegularExpressions.Regex(HfTokenizer.Cl100kPattern), specials), null, specials);
        foreach (var text in Gpt2Data.Corpus) Assert.Equal(reference.EncodeToIds(text), t.Encode(text));
        Assert.All(t.Encode("12345678"), id => Assert.InRange(t.DecodeAll([id]).Length, 1, 3)); // digits in runs of at most 3

        // NFC: a decomposed "é" (e + U+0301) encodes as the composed one.
        Assert.Equal(t.Encode("caf\u00e9"), t.Encode("cafe\u0301"));

        // A chat prompt: markup tokens are single ids, the begin token comes first, and the reply ends at the eot id.
        var prompt = t.EncodePrompt("2+2?", PromptTemplate.Chat(ChatStyle.Llama3));
        Assert.Equal(50257, prompt[0]);
        Assert.Equal(50261, prompt[1]);
        Assert.Contains(50258, prompt);
        Assert.Equal("<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", t.DecodeAll(prompt[1..]));
        Assert.Equal("4", t.Decode([.. t.Encode("4"), t.EosId, 50257]));
        Assert.Equal(ChatStyle.Llama3, PromptTemplate.DetectChatStyle("... <|start_header_id|> ..."));
    }

    [Fact]
    public void Bad_tokenizer_files_are_one_error_naming_the_file()
    {
        var json = Gpt2Data.TokenizerJson();
        json["model"]!["byte_fallback"] = true;
        string path = Write("bf/tokenizer.json", json.ToJsonString());
        var e = Assert.Throws<InvalidDataException>(() => HfTokenizer.FromDirectory(Path.Combine(dir, "bf"), eosToken: "<|endoftext|>"));
        Assert.Contains(path, e.Message);
        Assert.Contains("byte_fallback", e.Message);

        Write("noeos/tokenizer.json", Gpt2Data.TokenizerJson().ToJsonString());
        Assert.Contains("no end token", Assert.Throws<InvalidDataException>(() => HfTokenizer.FromDirectory(Path.Combine(dir, "noeos"))).Message);
        Write("noeos/tokenizer_config.json", """{"eos_token": "<|nope|>"}""");
        Assert.Contains("eos_token '<|nope|>' is not in the vocabulary", Assert.Throws<InvalidDataException>(() => HfTokenizer.FromDirectory(Path.Combine(dir, "noeos"))).Message);

        Directory.CreateDirectory(Path.Combine(dir, "empty"));
        Assert.Contains("no tokenizer.json, vocab.json + merges.txt or *.tiktoken file",
            Assert.Throws<InvalidDataException>(() => HfTokenizer.FromDirectory(Path.Combine(dir, "empty"))).Message);
        Write("badjson/tokenizer.json", "{ not json");
        Assert.Contains("not valid JSON", Assert.Throws<InvalidDataException>(() => HfTokenizer.FromDirectory(Path.Combine(dir, "badjson"))).Message);
    }

    [Fact]
    public void The_character_tokenizer_is_an_ITokenizer_with_its_own_ids_and_behaviour()
    {
        ITokenizer t = CharTokenizer.Default;
        Assert.Equal((CharTokenizer.Eos, CharTokenizer.Pad, (int?)null, 23), (t.EosId, t.PadId, t.BosId, t.VocabSize));
        Assert.Equal(CharTokenizer.Default.Encode("Q:1+2\n"), t.Encode("Q:1+2\n"));
        Assert.Equal("1+2", t.Decode([3, 12, 4, CharTokenizer.Eos, 5]));
        Assert.True(t.IsTerminal(CharTokenizer.Pad));
    }
}
