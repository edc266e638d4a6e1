namespace RlActors.Environments.Tokenizers;

/// <summary>
/// Text to token ids and back, with the ids a language model's sampling and losses need: where a completion ends
/// (<see cref="EosId"/>) and what fills the rest of a row (<see cref="PadId"/>). Implemented by the toy's character
/// tokenizer (<see cref="Arithmetic.CharTokenizer"/>) and by the byte-level BPE / tiktoken tokenizers of pretrained
/// models (<see cref="HfTokenizer"/>).
/// </summary>
public interface ITokenizer
{
    /// <summary>Number of ids (the largest id + 1), special tokens included.</summary>
    int VocabSize { get; }

    /// <summary>The id that ends a completion.</summary>
    int EosId { get; }

    /// <summary>The id of padding (may equal <see cref="EosId"/>).</summary>
    int PadId { get; }

    /// <summary>The id put before a prompt, or null when the model uses none.</summary>
    int? BosId { get; }

    /// <summary>Encodes text without adding special tokens (special tokens written in the text map to their ids).</summary>
    int[] Encode(string text);

    /// <summary>Decodes ids up to (not including) the first end or padding id.</summary>
    string Decode(ReadOnlySpan<int> ids);

    /// <summary>Whether <paramref name="id"/> ends a sequence (end or padding).</summary>
    bool IsTerminal(int id);
}
