using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace RlActors.Environments.Tokenizers;

/// <summary>
/// Learns a byte-level BPE tokenizer from text, in GPT-2's form: the 256 byte tokens (ids 0..255 in byte order), then one
/// token per learned merge (most frequent adjacent pair within GPT-2 pre-tokenized words first; ties broken by the pair's
/// text so the same corpus always gives the same merges), then an end token and a padding token. Written as a Hugging
/// Face <c>tokenizer.json</c> + <c>tokenizer_config.json</c> (<see cref="Write"/>), which <see cref="HfTokenizer"/> and
/// transformers' <c>AutoTokenizer</c> read. For models made here (<c>rlactors make-hf-model</c>); a pretrained model
/// brings its own tokenizer.
/// </summary>
public static class BpeTrainer
{
    /// <summary>The end token's text.</summary>
    public const string EndToken = "<|endoftext|>";
    /// <summary>The padding token's text.</summary>
    public const string PadToken = "<|pad|>";

    /// <summary>A learned vocabulary: token text (byte-level) → id, the merges in rank order, and the two special ids.</summary>
    public sealed record Result(IReadOnlyDictionary<string, int> Vocab, IReadOnlyList<(string Left, string Right)> Merges, int EosId, int PadId)
    {
        /// <summary>Ids in all (bytes, merges, specials).</summary>
        public int VocabSize => Vocab.Count + 2;
    }

    /// <summary>Learns up to <paramref name="merges"/> merges from <paramref name="texts"/> (fewer when no pair occurs twice).</summary>
    public static Result Train(IEnumerable<string> texts, int merges)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(merges);
        var pre = new Regex(HfTokenizer.Gpt2Pattern, RegexOptions.Compiled);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var text in texts)
            foreach (Match m in pre.Matches(text))
            {
                string word = ByteLevel.ToText(Encoding.UTF8.GetBytes(m.Value));
                counts[word] = counts.GetValueOrDefault(word) + 1;
            }
        // Each distinct word as its symbols, with its count.
        var words = counts.Select(kv => (Symbols: kv.Key.Select(c => c.ToString()).ToList(), Count: kv.Value)).ToList();
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int b = 0; b < 256; b++) vocab[ByteLevel.ToChar((byte)b).ToString()] = b;
        var learned = new List<(string, string)>();
        while (learned.Count < merges)
        {
            var pairs = new Dictionary<(string, string), long>();
            foreach (var (symbols, count) in words)
                for (int i = 0; i + 1 < symbols.Count; i++)
                    pairs[(symbols[i], symbols[i + 1])] = pairs.GetValueOrDefault((symbols[i], symbols[i + 1])) + count;
            if (pairs.Count == 0) break;
            var best = pairs.OrderByDescending(kv => kv.Value)
                .ThenBy(kv => kv.Key.Item1, StringComparer.Ordinal).ThenBy(kv => kv.Key.Item2, StringComparer.Ordinal).First();
            if (best.Value < 2) break;
            var (left, right) = best.Key;
            string merged = left + right;
            if (!vocab.ContainsKey(merged)) vocab[merged] = vocab.Count;
            learned.Add((left, right));
            foreach (var (symbols, _) in words)
                for (int i = 0; i + 1 < symbols.Count; i++)
                    if (symbols[i] == left && symbols[i + 1] == right)
                    {
                        symbols[i] = merged;
                        symbols.RemoveAt(i + 1);
                    }
        }
        return new Result(vocab, learned, vocab.Count, vocab.Count + 1);
    }

    /// <summary>Writes <paramref name="bpe"/> as tokenizer.json and tokenizer_config.json into <paramref name="directory"/>.</summary>
    public static void Write(Result bpe, string directory, int modelMaxLength)
    {
        Directory.CreateDirectory(directory);
        var vocab = new JsonObject();
        foreach (var (token, id) in bpe.Vocab.OrderBy(kv => kv.Value)) vocab[token] = id;
        var added = new JsonArray(Special(bpe.EosId, EndToken), Special(bpe.PadId, PadToken));
        var json = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            ["post_processor"] = null,
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = null, ["end_of_word_suffix"] = null,
                ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = false,
                ["vocab"] = vocab,
                ["merges"] = new JsonArray(bpe.Merges.Select(m => (JsonNode)$"{m.Left} {m.Right}").ToArray()),
            },
        };
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), json.ToJsonString());
        var config = new JsonObject
        {
            ["tokenizer_class"] = "PreTrainedTokenizerFast",
            ["eos_token"] = EndToken,
            ["pad_token"] = PadToken,
            ["bos_token"] = null,
            ["add_bos_token"] = false,
            ["model_max_length"] = modelMaxLength,
            ["clean_up_tokenization_spaces"] = false,
        };
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    }

    private static JsonObject Special(int id, string content) => new()
    {
        ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
    };
}
