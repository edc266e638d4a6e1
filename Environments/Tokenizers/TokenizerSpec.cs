using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;

namespace RlActors.Environments.Tokenizers;

/// <summary>
/// A pretrained model's tokenizer as every node opens it: the directory holding its files (a Hugging Face model directory),
/// how a task's prompt becomes the model's text (<see cref="Template"/>: plain, chatml, llama3 or auto), an optional end
/// token other than the files' own, and the SHA-256 of the files on the host (<see cref="Pinned"/>), so that a node with
/// different files at that path refuses to sample instead of writing other ids. Without a spec a task uses its character
/// table (<see cref="Arithmetic.CharTokenizer"/>).
/// </summary>
public sealed record TokenizerSpec
{
    /// <summary>The directory of tokenizer.json (or vocab.json + merges.txt, or one *.tiktoken file) and tokenizer_config.json.</summary>
    public string Directory { get; init; } = "";
    /// <summary>plain (the prompt inside <see cref="Format"/>), chatml, llama3, or auto: the chat markup the directory's
    /// tokenizer_config.json chat_template is written in, plain when it has none.</summary>
    public string Template { get; init; } = "auto";
    /// <summary>The format of the plain template, holding {prompt} once. The default puts a newline after the prompt, as the
    /// character tokenizer's tasks do.</summary>
    public string Format { get; init; } = "{prompt}\n";
    /// <summary>A system turn before the prompt (chat templates only), or null.</summary>
    public string? SystemPrompt { get; init; }
    /// <summary>The token that ends a completion, when not the files' eos_token (e.g. &lt;|im_end|&gt; for a ChatML base model).</summary>
    public string? EosToken { get; init; }
    /// <summary>SHA-256 (hex) of the tokenizer files on the host, or null before the host has read them.</summary>
    public string? Sha256 { get; init; }

    /// <summary>The template names <see cref="Template"/> takes.</summary>
    public static IReadOnlyList<string> TemplateNames { get; } = ["auto", "plain", "chatml", "llama3"];

    /// <summary>The files of a directory that decide its ids (hashed by <see cref="Pinned"/>).</summary>
    public static IReadOnlyList<string> HashedFiles { get; } =
        ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "added_tokens.json"];

    private static readonly ConcurrentDictionary<TokenizerSpec, Lazy<(HfTokenizer Tokenizer, PromptTemplate Template, string Sha)>> Opened = new();

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting (by its experiment key, <c>model.*</c>).</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Directory)) throw new ArgumentException("model.tokenizer must name a directory");
        if (!TemplateNames.Contains(Template))
            throw new ArgumentException($"model.prompt-template must be one of {string.Join(", ", TemplateNames)} (got '{Template}')");
        PromptTemplate.Plain(Format); // throws naming the format unless it holds {prompt} once
        if (SystemPrompt is not null && Template == "plain") throw new ArgumentException("model.system-prompt needs a chat template (model.prompt-template = chatml, llama3 or auto)");
    }

    /// <summary>
    /// The tokenizer and the prompt template on this node (read once per process). Missing or malformed files are a
    /// <see cref="Tasks.TaskDataException"/> naming the file; files whose SHA-256 differs from <see cref="Sha256"/> too.
    /// </summary>
    public (HfTokenizer Tokenizer, PromptTemplate Template) Open()
    {
        var opened = Loaded();
        if (Sha256 is not null && !string.Equals(Sha256, opened.Sha, StringComparison.OrdinalIgnoreCase))
            throw new Tasks.TaskDataException($"{Directory}: the tokenizer files' SHA-256 {opened.Sha} on this node differs from {Sha256} on the host; " +
                                              "the model directory must be the same at the same path on every node");
        return (opened.Tokenizer, opened.Template);
    }

    /// <summary>This spec with the SHA-256 of the files on this node (what the host sends to the others).</summary>
    public TokenizerSpec Pinned() => this with { Sha256 = Loaded().Sha };

    // The files as this process read them (once per spec, whatever its pinned hash).
    private (HfTokenizer Tokenizer, PromptTemplate Template, string Sha) Loaded() =>
        Opened.GetOrAdd(this with { Sha256 = null }, spec => new Lazy<(HfTokenizer, PromptTemplate, string)>(spec.Load)).Value;

    private (HfTokenizer, PromptTemplate, string) Load()
    {
        Validate();
        HfTokenizer tokenizer;
        try { tokenizer = HfTokenizer.FromDirectory(Directory, EosToken); }
        catch (InvalidDataException e) { throw new Tasks.TaskDataException(e.Message); }
        catch (ArgumentException e) { throw new Tasks.TaskDataException($"{Directory}: {e.Message}"); }
        string name = Template;
        if (name == "auto")
        {
            string? chat = ReadChatTemplate(Path.Combine(Directory, "tokenizer_config.json"));
            name = PromptTemplate.DetectChatStyle(chat) switch { ChatStyle.ChatMl => "chatml", ChatStyle.Llama3 => "llama3", _ => "plain" };
        }
        var template = PromptTemplate.Parse(name, Format, name == "plain" ? null : SystemPrompt);
        return (tokenizer, template, HashFiles());
    }

    private static string? ReadChatTemplate(string path)
    {
        if (!File.Exists(path)) return null;
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.TryGetProperty("chat_template", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
    }

    private string HashFiles()
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var files = HashedFiles.Select(f => Path.Combine(Directory, f))
            .Concat(System.IO.Directory.GetFiles(Directory, "*.tiktoken").Order(StringComparer.Ordinal));
        foreach (var file in files.Where(File.Exists))
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(Path.GetFileName(file) + "\0"));
            sha.AppendData(File.ReadAllBytes(file));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>This spec as JSON (what a task spec of the protocol carries).</summary>
    public string ToJson() => JsonSerializer.Serialize(this);

    /// <summary>A spec written by <see cref="ToJson"/>.</summary>
    public static TokenizerSpec FromJson(string json) => JsonSerializer.Deserialize<TokenizerSpec>(json) ?? throw new ArgumentException("tokenizer spec: null");
}
