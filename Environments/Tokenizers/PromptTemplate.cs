namespace RlActors.Environments.Tokenizers;

/// <summary>
/// How a task's prompt text becomes the text a model is given: <see cref="Plain"/> (the prompt inside a format string) or
/// <see cref="Chat"/> (one user turn of a chat model, in the markup of its family, ending where the assistant's reply
/// begins). The begin token is not part of the text: <see cref="HfTokenizer.EncodePrompt"/> adds it when the tokenizer asks.
/// </summary>
public abstract record PromptTemplate
{
    /// <summary>The placeholder a plain format holds.</summary>
    public const string Placeholder = "{prompt}";

    /// <summary>The text given to the model for <paramref name="prompt"/>.</summary>
    public abstract string Render(string prompt);

    /// <summary>The prompt inside <paramref name="format"/> (which must hold <c>{prompt}</c> once), e.g. <c>"Question: {prompt}\nAnswer:"</c>.</summary>
    public static PromptTemplate Plain(string format = Placeholder) => new PlainTemplate(format);

    /// <summary>One user turn in <paramref name="style"/>, after an optional system turn.</summary>
    public static PromptTemplate Chat(ChatStyle style, string? systemPrompt = null) => new ChatTemplate(style, systemPrompt);

    /// <summary>
    /// A template by name, as an experiment file gives it: <c>plain</c> (with <paramref name="format"/>), <c>chatml</c>
    /// (Qwen2 and other ChatML models) or <c>llama3</c>. An unknown name throws <see cref="ArgumentException"/> listing the known ones.
    /// </summary>
    public static PromptTemplate Parse(string name, string? format = null, string? systemPrompt = null) => name switch
    {
        "plain" => Plain(format ?? Placeholder),
        "chatml" => Chat(ChatStyle.ChatMl, systemPrompt),
        "llama3" => Chat(ChatStyle.Llama3, systemPrompt),
        _ => throw new ArgumentException($"prompt template '{name}' is not known (known: plain, chatml, llama3)"),
    };

    /// <summary>The chat style a tokenizer_config.json <c>chat_template</c> (Jinja) is written for, from its markup; null when it is neither.</summary>
    public static ChatStyle? DetectChatStyle(string? chatTemplate) => chatTemplate switch
    {
        null => null,
        _ when chatTemplate.Contains("<|im_start|>", StringComparison.Ordinal) => ChatStyle.ChatMl,
        _ when chatTemplate.Contains("<|start_header_id|>", StringComparison.Ordinal) => ChatStyle.Llama3,
        _ => null,
    };
}

/// <summary>The chat markups <see cref="PromptTemplate.Chat"/> writes.</summary>
public enum ChatStyle
{
    /// <summary><c>&lt;|im_start|&gt;user\n…&lt;|im_end|&gt;\n&lt;|im_start|&gt;assistant\n</c> (Qwen2, ChatML); replies end with &lt;|im_end|&gt;.</summary>
    ChatMl,
    /// <summary><c>&lt;|start_header_id|&gt;user&lt;|end_header_id|&gt;\n\n…&lt;|eot_id|&gt;&lt;|start_header_id|&gt;assistant&lt;|end_header_id|&gt;\n\n</c> (Llama 3); replies end with &lt;|eot_id|&gt;.</summary>
    Llama3,
}

/// <summary>The prompt inside a format string.</summary>
public sealed record PlainTemplate : PromptTemplate
{
    private readonly string format = Placeholder;

    /// <summary>A template of <paramref name="format"/>.</summary>
    public PlainTemplate(string format) => Format = format;

    /// <summary>Text holding <see cref="PromptTemplate.Placeholder"/> exactly once (anything else throws <see cref="ArgumentException"/>).</summary>
    public string Format
    {
        get => format;
        init
        {
            int i = value.IndexOf(Placeholder, StringComparison.Ordinal);
            if (i < 0 || value.IndexOf(Placeholder, i + 1, StringComparison.Ordinal) >= 0)
                throw new ArgumentException($"prompt format must hold {Placeholder} exactly once (got \"{value}\")");
            format = value;
        }
    }

    /// <inheritdoc />
    public override string Render(string prompt)
    {
        int at = format.IndexOf(Placeholder, StringComparison.Ordinal);
        return string.Concat(format.AsSpan(0, at), prompt, format.AsSpan(at + Placeholder.Length));
    }
}

/// <summary>One user turn of a chat model.</summary>
/// <param name="Style">The markup.</param>
/// <param name="SystemPrompt">An optional system turn before it.</param>
public sealed record ChatTemplate(ChatStyle Style, string? SystemPrompt = null) : PromptTemplate
{
    /// <inheritdoc />
    public override string Render(string prompt) => Style switch
    {
        ChatStyle.ChatMl => (SystemPrompt is null ? "" : $"<|im_start|>system\n{SystemPrompt}<|im_end|>\n")
                            + $"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n",
        _ => (SystemPrompt is null ? "" : $"<|start_header_id|>system<|end_header_id|>\n\n{SystemPrompt}<|eot_id|>")
             + $"<|start_header_id|>user<|end_header_id|>\n\n{prompt}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
    };
}
