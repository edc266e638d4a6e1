using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace RlActors.Environments.Tokenizers;

/// <summary>
/// The tokenizer of a pretrained model, on Microsoft.ML.Tokenizers: byte-level BPE (GPT-2, Llama 3, Qwen2) read from a
/// Hugging Face <c>tokenizer.json</c> or from <c>vocab.json</c> + <c>merges.txt</c>, or a tiktoken rank file. Special
/// tokens (the added tokens of the files) are never split; bos/eos/pad come from <c>tokenizer_config.json</c> and
/// <c>special_tokens_map.json</c>. Without a pad token, padding uses the end token (what TRL does too): a completion's
/// loss stops at its first end token either way. Immutable and thread-safe.
/// </summary>
public sealed class HfTokenizer : ITokenizer
{
    /// <summary>GPT-2's pre-tokenizer regex (also r50k/p50k): contractions, letters, digits, other symbols, spaces.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>cl100k's pre-tokenizer regex, which Llama 3 uses as well (digits in runs of at most 3).</summary>
    public const string Cl100kPattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private readonly Tokenizer inner;
    private readonly Dictionary<int, string> specialById;

    /// <summary>Wraps <paramref name="tokenizer"/>; <paramref name="specialTokens"/> are its unsplittable tokens (they decode to
    /// their text), <paramref name="vocabSize"/> the number of ids.</summary>
    public HfTokenizer(Tokenizer tokenizer, IReadOnlyDictionary<string, int> specialTokens, int vocabSize, int eosId, int padId, int? bosId, bool addBos)
    {
        inner = tokenizer;
        SpecialTokens = specialTokens;
        specialById = specialTokens.ToDictionary(kv => kv.Value, kv => kv.Key);
        foreach (var (name, id) in new[] { ("eos", (int?)eosId), ("pad", padId), ("bos", bosId) })
            if (id is { } v && (v < 0 || v >= vocabSize)) throw new ArgumentException($"{name} id {v} is outside the vocabulary of {vocabSize} ids");
        VocabSize = vocabSize;
        EosId = eosId;
        PadId = padId;
        BosId = bosId;
        AddBos = addBos && bosId is not null;
    }

    /// <summary>The Microsoft.ML.Tokenizers tokenizer underneath.</summary>
    public Tokenizer Inner => inner;
    /// <summary>Unsplittable tokens and their ids.</summary>
    public IReadOnlyDictionary<string, int> SpecialTokens { get; }
    /// <inheritdoc />
    public int VocabSize { get; }
    /// <inheritdoc />
    public int EosId { get; }
    /// <inheritdoc />
    public int PadId { get; }
    /// <inheritdoc />
    public int? BosId { get; }
    /// <summary>Whether <see cref="EncodePrompt"/> puts <see cref="BosId"/> first (the files ask for it: Llama does, Qwen2 and GPT-2 do not).</summary>
    public bool AddBos { get; }

    /// <inheritdoc />
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return inner.EncodeToIds(text).ToArray();
    }

    /// <summary>Renders <paramref name="prompt"/> with <paramref name="template"/> (plain text when null) and encodes it, with the
    /// begin token first when <see cref="AddBos"/>.</summary>
    public int[] EncodePrompt(string prompt, PromptTemplate? template = null)
    {
        var ids = Encode(template is null ? prompt : template.Render(prompt));
        return AddBos && (ids.Length == 0 || ids[0] != BosId) ? [BosId!.Value, .. ids] : ids;
    }

    /// <summary>Encodes a completion as training data writes it: its text, then the end token.</summary>
    public int[] EncodeWithEos(string text) => [.. Encode(text), EosId];

    /// <inheritdoc />
    public string Decode(ReadOnlySpan<int> ids)
    {
        int end = 0;
        while (end < ids.Length && !IsTerminal(ids[end])) end++;
        return DecodeAll(ids[..end]);
    }

    /// <summary>Decodes every id, special tokens as their text. Ids outside the vocabulary decode as U+FFFD.</summary>
    public string DecodeAll(ReadOnlySpan<int> ids)
    {
        var text = new StringBuilder();
        var run = new List<int>();
        void Flush() { if (run.Count > 0) { text.Append(inner.Decode(run)); run.Clear(); } }
        foreach (int id in ids)
        {
            if (specialById.TryGetValue(id, out var special)) { Flush(); text.Append(special); }
            else if (id < 0 || id >= VocabSize) { Flush(); text.Append('\uFFFD'); }
            else run.Add(id);
        }
        Flush();
        return text.ToString();
    }

    /// <inheritdoc />
    public bool IsTerminal(int id) => id == EosId || id == PadId;

    /// <summary>The id of a special token, or throws naming it.</summary>
    public int SpecialId(string token) =>
        SpecialTokens.TryGetValue(token, out int id) ? id : throw new ArgumentException($"'{token}' is not a special token of this tokenizer");

    /// <summary>
    /// The tokenizer of a Hugging Face model directory: <c>tokenizer.json</c>, else <c>vocab.json</c> + <c>merges.txt</c>,
    /// else the one <c>*.tiktoken</c> file (with <see cref="Cl100kPattern"/>, the Llama 3 pattern, unless
    /// <paramref name="tiktokenPattern"/> says otherwise). Bos/eos/pad tokens come from <c>tokenizer_config.json</c> and
    /// <c>special_tokens_map.json</c>; <paramref name="eosToken"/> overrides the end token. Bad or missing files throw
    /// <see cref="InvalidDataException"/> naming the file.
    /// </summary>
    public static HfTokenizer FromDirectory(string directory, string? eosToken = null, string? tiktokenPattern = null)
    {
        if (!Directory.Exists(directory)) throw new InvalidDataException($"tokenizer directory {directory} does not exist");
        var config = ReadJson(Path.Combine(directory, "tokenizer_config.json"));
        var map = ReadJson(Path.Combine(directory, "special_tokens_map.json"));
        string? Token(string key) => TokenText(config, key, "tokenizer_config.json") ?? TokenText(map, key, "special_tokens_map.json");
        var names = new SpecialNames(Token("bos_token"), eosToken ?? Token("eos_token"), Token("pad_token"),
            config?["add_bos_token"] is JsonValue v && v.TryGetValue(out bool add) ? add : null);

        string json = Path.Combine(directory, "tokenizer.json");
        if (File.Exists(json)) return FromTokenizerJson(json, names, ExtraSpecials(config));
        string vocab = Path.Combine(directory, "vocab.json"), merges = Path.Combine(directory, "merges.txt");
        if (File.Exists(vocab) && File.Exists(merges)) return FromVocabAndMerges(vocab, merges, names, ExtraSpecials(config));
        var tiktoken = Directory.GetFiles(directory, "*.tiktoken");
        if (tiktoken.Length == 1) return FromTiktoken(tiktoken[0], tiktokenPattern ?? Cl100kPattern, ExtraSpecials(config) ?? new Dictionary<string, int>(), names);
        throw new InvalidDataException(tiktoken.Length > 1
            ? $"{directory}: {tiktoken.Length} *.tiktoken files; name one with FromTiktoken"
            : $"{directory}: no tokenizer.json, vocab.json + merges.txt or *.tiktoken file");
    }

    /// <summary>The names of the special tokens a model's files give (null where they give none).</summary>
    /// <param name="Bos">The begin token.</param>
    /// <param name="Eos">The end token (required).</param>
    /// <param name="Pad">The padding token (the end token when null).</param>
    /// <param name="AddBos">Whether prompts start with the begin token (null: as the tokenizer's own post-processor says).</param>
    public sealed record SpecialNames(string? Bos, string? Eos, string? Pad, bool? AddBos = null);

    /// <summary>Reads a Hugging Face <c>tokenizer.json</c> of a byte-level BPE model (GPT-2, Llama 3, Qwen2 and their kin).</summary>
    public static HfTokenizer FromTokenizerJson(string path, SpecialNames names, IReadOnlyDictionary<string, int>? extraSpecials = null)
    {
        var root = ReadJson(path) ?? throw new InvalidDataException($"{path} does not exist");
        try
        {
            var model = root["model"] as JsonObject ?? throw new InvalidDataException("has no model object");
            string type = model["type"]?.GetValue<string>() ?? "BPE";
            if (type != "BPE") throw new InvalidDataException($"model type '{type}' is not supported (only byte-level BPE)");
            if (model["byte_fallback"] is JsonValue bf && bf.GetValue<bool>())
                throw new InvalidDataException("model.byte_fallback = true (a SentencePiece-style BPE, as Llama 2's) is not supported; only byte-level BPE");
            var vocab = (model["vocab"] as JsonObject ?? throw new InvalidDataException("model.vocab is missing"))
                .ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<int>());
            var merges = (model["merges"] as JsonArray ?? throw new InvalidDataException("model.merges is missing")).Select(m => m switch
            {
                JsonArray pair when pair.Count == 2 => $"{pair[0]!.GetValue<string>()} {pair[1]!.GetValue<string>()}",
                JsonValue s => s.GetValue<string>(),
                _ => throw new InvalidDataException($"model.merges entry {m?.ToJsonString()} is neither \"a b\" nor [\"a\", \"b\"]"),
            }).ToList();
            var specials = new Dictionary<string, int>(extraSpecials ?? new Dictionary<string, int>());
            if (root["added_tokens"] is JsonArray added)
                foreach (var t in added.OfType<JsonObject>()) specials[t["content"]!.GetValue<string>()] = t["id"]!.GetValue<int>();
            string pattern = PreTokenizerPattern(root["pre_tokenizer"]);
            Normalizer? normalizer = root["normalizer"] switch
            {
                null => null,
                JsonObject n when n["type"]?.GetValue<string>() == "NFC" => new NfcNormalizer(),
                var n => throw new InvalidDataException($"normalizer {n.ToJsonString()} is not supported (null or NFC)"),
            };
            bool postAddsBos = root["post_processor"] is JsonObject post && PostProcessorAddsBos(post);
            names = names with { AddBos = names.AddBos ?? postAddsBos };
            // ignore_merges (Llama 3): a pre-token that is a vocabulary entry is that token, merges or not. That is tiktoken's
            // rule, and such vocabularies are tiktoken ranks (merges in rank order), so they are read as one.
            if (model["ignore_merges"] is JsonValue im && im.GetValue<bool>())
                return FromRanks(vocab, specials, pattern, normalizer, names, path);
            return Build(vocab, merges, specials, pattern, normalizer, names, path);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or KeyNotFoundException or ArgumentException)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Reads a GPT-2-style <c>vocab.json</c> (token → id) and <c>merges.txt</c> (one "a b" pair per line, after an optional #version line).</summary>
    public static HfTokenizer FromVocabAndMerges(string vocabPath, string mergesPath, SpecialNames names, IReadOnlyDictionary<string, int>? extraSpecials = null)
    {
        Dictionary<string, int> vocab;
        try
        {
            vocab = (ReadJson(vocabPath) ?? throw new InvalidDataException($"{vocabPath} does not exist"))
                .ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<int>());
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException) { throw new InvalidDataException($"{vocabPath}: every value must be an id ({e.Message})", e); }
        if (!File.Exists(mergesPath)) throw new InvalidDataException($"{mergesPath} does not exist");
        var merges = File.ReadLines(mergesPath).Where(l => l.Length > 0 && !l.StartsWith("#version", StringComparison.Ordinal)).ToList();
        int bad = merges.FindIndex(m => m.Split(' ').Length != 2);
        if (bad >= 0) throw new InvalidDataException($"{mergesPath}: merge '{merges[bad]}' is not two tokens separated by one space");
        // Special tokens of a vocab.json are its <|...|> entries (GPT-2's <|endoftext|>) and the config's added tokens.
        var specials = new Dictionary<string, int>(extraSpecials ?? new Dictionary<string, int>());
        foreach (var (token, id) in vocab) if (token.StartsWith("<|", StringComparison.Ordinal) && token.EndsWith("|>", StringComparison.Ordinal)) specials[token] = id;
        return Build(vocab, merges, specials, Gpt2Pattern, null, names with { AddBos = names.AddBos ?? false }, vocabPath);
    }

    /// <summary>
    /// Reads a tiktoken rank file (base64 token, space, rank per line) with pre-tokenizer <paramref name="pattern"/>
    /// (<see cref="Gpt2Pattern"/>, <see cref="Cl100kPattern"/> or a regex) and <paramref name="specialTokens"/>.
    /// </summary>
    public static HfTokenizer FromTiktoken(string path, string pattern, IReadOnlyDictionary<string, int> specialTokens, SpecialNames names)
    {
        if (!File.Exists(path)) throw new InvalidDataException($"{path} does not exist");
        Regex regex;
        try { regex = new Regex(pattern, RegexOptions.Compiled); }
        catch (ArgumentException e) { throw new InvalidDataException($"pre-tokenizer pattern is not a valid regex: {e.Message}", e); }
        TiktokenTokenizer tokenizer;
        int ranks;
        try
        {
            using (var count = File.OpenRead(path)) ranks = CountLines(count);
            using var stream = File.OpenRead(path);
            tokenizer = TiktokenTokenizer.Create(stream, new RegexPreTokenizer(regex, specialTokens.Count > 0 ? specialTokens : null), null,
                specialTokens.Count > 0 ? specialTokens : null);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
        {
            throw new InvalidDataException($"{path}: not a tiktoken rank file ({e.Message})", e);
        }
        int vocabSize = Math.Max(ranks, specialTokens.Count == 0 ? 0 : specialTokens.Values.Max() + 1);
        return FromNames(tokenizer, specialTokens, vocabSize, names with { AddBos = names.AddBos ?? false }, t => null, path);
    }

    /// <summary>A byte-level vocabulary (token text → id) as tiktoken ranks (token bytes → id).</summary>
    private static HfTokenizer FromRanks(Dictionary<string, int> vocab, Dictionary<string, int> specials, string pattern, Normalizer? normalizer,
        SpecialNames names, string origin)
    {
        var ranks = new StringBuilder();
        foreach (var (token, id) in vocab.OrderBy(kv => kv.Value))
        {
            if (specials.ContainsKey(token)) continue;
            ranks.Append(Convert.ToBase64String(ByteLevel.ToBytes(token, origin))).Append(' ').Append(id).Append('\n');
        }
        using var stream = new MemoryStream(Encoding.ASCII.GetBytes(ranks.ToString()));
        var tokenizer = TiktokenTokenizer.Create(stream, new RegexPreTokenizer(new Regex(pattern, RegexOptions.Compiled), specials.Count > 0 ? specials : null),
            normalizer, specials.Count > 0 ? specials : null);
        int vocabSize = Math.Max(vocab.Values.DefaultIfEmpty(-1).Max(), specials.Values.DefaultIfEmpty(-1).Max()) + 1;
        return FromNames(tokenizer, specials, vocabSize, names, t => vocab.TryGetValue(t, out int id) ? id : null, origin);
    }

    private static int CountLines(Stream s)
    {
        using var reader = new StreamReader(s);
        int n = 0;
        while (reader.ReadLine() is { } line) if (line.Length > 0) n++;
        return n;
    }

    private static HfTokenizer Build(Dictionary<string, int> vocab, List<string> merges, Dictionary<string, int> specials, string pattern,
        Normalizer? normalizer, SpecialNames names, string origin)
    {
        var regex = new Regex(pattern, RegexOptions.Compiled);
        var bpe = BpeTokenizer.Create(new BpeOptions(vocab.Where(kv => !specials.ContainsKey(kv.Key)))
        {
            Merges = merges,
            SpecialTokens = specials.Count > 0 ? specials : null,
            PreTokenizer = new RegexPreTokenizer(regex, specials.Count > 0 ? specials : null),
            Normalizer = normalizer,
            ByteLevel = true,
        });
        int vocabSize = Math.Max(vocab.Values.DefaultIfEmpty(-1).Max(), specials.Values.DefaultIfEmpty(-1).Max()) + 1;
        return FromNames(bpe, specials, vocabSize, names, t => vocab.TryGetValue(t, out int id) ? id : null, origin);
    }

    private static HfTokenizer FromNames(Tokenizer tokenizer, IReadOnlyDictionary<string, int> specials, int vocabSize, SpecialNames names,
        Func<string, int?> vocabId, string origin)
    {
        int? Id(string? token, string what)
        {
            if (token is null) return null;
            return specials.TryGetValue(token, out int id) ? id : vocabId(token)
                ?? throw new InvalidDataException($"{origin}: {what} '{token}' is not in the vocabulary");
        }
        int eos = Id(names.Eos, "eos_token") ?? throw new InvalidDataException(
            $"{origin}: no end token: set eos_token in tokenizer_config.json or special_tokens_map.json (or pass one)");
        int? bos = Id(names.Bos, "bos_token");
        int pad = Id(names.Pad, "pad_token") ?? eos;
        return new HfTokenizer(tokenizer, specials, vocabSize, eos, pad, bos, names.AddBos ?? false);
    }

    /// <summary>The regex of a tokenizer.json pre_tokenizer: ByteLevel (GPT-2's regex when use_regex), or Split(Regex, Isolated) before a ByteLevel without regex.</summary>
    private static string PreTokenizerPattern(JsonNode? node)
    {
        var steps = node switch
        {
            JsonObject o when o["type"]?.GetValue<string>() == "Sequence" => (o["pretokenizers"] as JsonArray ?? []).OfType<JsonObject>().ToList(),
            JsonObject o => [o],
            _ => throw new InvalidDataException("pre_tokenizer is missing (byte-level BPE needs ByteLevel)"),
        };
        string? pattern = null;
        bool byteLevel = false;
        foreach (var step in steps)
        {
            string type = step["type"]?.GetValue<string>() ?? "";
            if (type == "ByteLevel")
            {
                if (step["add_prefix_space"] is JsonValue aps && aps.GetValue<bool>())
                    throw new InvalidDataException("pre_tokenizer ByteLevel.add_prefix_space = true is not supported");
                byteLevel = true;
                if (step["use_regex"] is not JsonValue ur || ur.GetValue<bool>()) pattern ??= Gpt2Pattern;
            }
            else if (type == "Split")
            {
                if (step["pattern"]?["Regex"]?.GetValue<string>() is not { } regex)
                    throw new InvalidDataException("pre_tokenizer Split needs a Regex pattern");
                if (step["behavior"]?.GetValue<string>() is { } b && b != "Isolated")
                    throw new InvalidDataException($"pre_tokenizer Split behavior '{b}' is not supported (Isolated)");
                if (step["invert"] is JsonValue inv && inv.GetValue<bool>()) throw new InvalidDataException("pre_tokenizer Split invert = true is not supported");
                if (pattern is not null) throw new InvalidDataException("pre_tokenizer has two regex splits; only one is supported");
                pattern = regex;
            }
            else throw new InvalidDataException($"pre_tokenizer step '{type}' is not supported (ByteLevel, Split)");
        }
        if (!byteLevel) throw new InvalidDataException("pre_tokenizer has no ByteLevel step: only byte-level BPE is supported");
        return pattern ?? Gpt2Pattern;
    }

    private static bool PostProcessorAddsBos(JsonObject post)
    {
        var processors = post["type"]?.GetValue<string>() == "Sequence" ? (post["processors"] as JsonArray ?? []).OfType<JsonObject>() : [post];
        return processors.Any(p => p["type"]?.GetValue<string>() == "TemplateProcessing"
            && p["single"] is JsonArray single && single.FirstOrDefault() is JsonObject first && first["SpecialToken"] is not null);
    }

    /// <summary>tokenizer_config.json's added_tokens_decoder ({"id": {"content": ...}}), as special tokens.</summary>
    private static Dictionary<string, int>? ExtraSpecials(JsonObject? config)
    {
        if (config?["added_tokens_decoder"] is not JsonObject decoder) return null;
        var result = new Dictionary<string, int>();
        foreach (var (id, entry) in decoder)
            if (entry?["content"]?.GetValue<string>() is { } content && int.TryParse(id, out int n)) result[content] = n;
        return result;
    }

    private static string? TokenText(JsonObject? o, string key, string file) => o?[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out string? s) => s,
        JsonObject t when t["content"] is JsonValue c && c.TryGetValue(out string? s) => s,
        var other => throw new InvalidDataException($"{file}: {key} must be a string or {{\"content\": ...}} (got {other.ToJsonString()})"),
    };

    private static JsonObject? ReadJson(string path)
    {
        if (!File.Exists(path)) return null;
        try { return JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: not a JSON object"); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message})", e); }
    }

    /// <summary>Unicode NFC, as Qwen2's tokenizer.json normalizer asks.</summary>
    private sealed class NfcNormalizer : Normalizer
    {
        public override string Normalize(string original) => original.Normalize(NormalizationForm.FormC);
        public override string Normalize(ReadOnlySpan<char> original) => original.ToString().Normalize(NormalizationForm.FormC);
    }
}
