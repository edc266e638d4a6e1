using System.Text.Json.Nodes;
using RlActors.Environments.Tokenizers;
using RlActors.Policies.Hf;
using RlActors.Policies.Lm;
using static RlActors.Policies.Tests.Hf.HfTestModels;
using static TorchSharp.torch;

namespace RlActors.Policies.Tests.Hf;

/// <summary>A model directory with its tokenizer, in and out.</summary>
public class HfPretrainedTests
{
    /// <summary>A byte-level BPE of the 256 bytes, two merges ("Ġt", "he") and end/padding tokens: ids 0..259.</summary>
    private static void WriteTokenizer(string dir)
    {
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++) vocab[ByteLevel.ToChar((byte)b).ToString()] = b;
        vocab["Ġt"] = 256;
        vocab["he"] = 257;
        var json = new JsonObject
        {
            ["added_tokens"] = new JsonArray(new JsonObject { ["id"] = 258, ["content"] = "<|end|>", ["special"] = true },
                new JsonObject { ["id"] = 259, ["content"] = "<|pad|>", ["special"] = true }),
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = true },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = new JsonArray("Ġ t", "h e") },
        };
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), json.ToJsonString());
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"eos_token": "<|end|>", "pad_token": "<|pad|>"}""");
    }

    [Fact]
    public void A_model_directory_loads_as_model_and_tokenizer_samples_text_and_exports_with_its_tokenizer_files()
    {
        using var source = Temp();
        using (var model = new HfDecoderLm(Llama(vocab: 300), initSeed: 51)) HfCheckpoint.Save(model, source.Path);
        WriteTokenizer(source.Path);

        var (policy, tokenizer) = HfPretrained.Load(source.Path);
        using (policy)
        {
            Assert.Equal((258, 259, 260), (tokenizer.EosId, tokenizer.PadId, tokenizer.VocabSize));
            var prompt = tokenizer.EncodePrompt("the", PromptTemplate.Plain("Q: {prompt}\nA:"));
            Assert.Contains(256, prompt); // " t" merged
            using var gen = new Generator(3);
            var sample = LmSampler.Sample(policy, [prompt], new SampleOptions { MaxNewTokens = 8 }, gen, tokenizer.EosId, tokenizer.PadId);
            Assert.Equal(8, sample.Completions[0].Length);
            Assert.NotNull(tokenizer.Decode(sample.Completions[0]));

            using var output = Temp();
            HfPretrained.Export(policy, source.Path, output.Path);
            Assert.Equal(["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"],
                Directory.GetFiles(output.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
            var (back, backTokenizer) = HfPretrained.Load(output.Path);
            using (back) Assert.Equal(policy.SaveWeights(), back.SaveWeights());
            Assert.Equal(tokenizer.Encode("the end"), backTokenizer.Encode("the end"));
        }
    }

    [Fact]
    public void A_tokenizer_with_more_ids_than_the_model_has_rows_is_refused_naming_both_sizes()
    {
        using var dir = Temp();
        using (var model = new HfDecoderLm(Llama(vocab: 200), initSeed: 52)) HfCheckpoint.Save(model, dir.Path);
        WriteTokenizer(dir.Path);
        var e = Assert.Throws<InvalidDataException>(() => HfPretrained.Load(dir.Path));
        Assert.Contains("the tokenizer has 260 ids but the model's vocab_size is 200", e.Message);
    }
}
