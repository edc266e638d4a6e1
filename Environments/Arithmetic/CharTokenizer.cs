using System.Text;

namespace RlActors.Environments.Arithmetic;

/// <summary>
/// The character-level vocabulary of the arithmetic task: id 0 is padding, id 1 is end-of-sequence, and ids 2 to 22
/// are the characters of <see cref="Alphabet"/> in order. Every character maps to exactly one id, so a token index
/// is also a character index in the decoded text. Immutable and thread-safe.
/// </summary>
public sealed class CharTokenizer
{
    /// <summary>The padding id.</summary>
    public const int Pad = 0;

    /// <summary>The end-of-sequence id.</summary>
    public const int Eos = 1;

    /// <summary>The characters of the vocabulary, in id order starting at id 2 (space is last).</summary>
    public const string Alphabet = "0123456789+-*()=:QA\n ";

    /// <summary>Printed by <see cref="Decode"/> and <see cref="DecodeAll"/> for ids outside the vocabulary.</summary>
    public const char Unknown = '?';

    private const int FirstCharId = 2;

    private readonly int[] _idOfAscii;

    /// <summary>The shared instance.</summary>
    public static CharTokenizer Default { get; } = new();

    /// <summary>Creates a tokenizer; prefer <see cref="Default"/>.</summary>
    public CharTokenizer()
    {
        _idOfAscii = new int[128];
        Array.Fill(_idOfAscii, -1);
        for (int i = 0; i < Alphabet.Length; i++)
            _idOfAscii[Alphabet[i]] = FirstCharId + i;
    }

    /// <summary>The number of ids: 2 special tokens plus the alphabet (23).</summary>
    public int VocabSize => FirstCharId + Alphabet.Length;

    /// <summary>Whether <paramref name="id"/> ends a sequence (EOS or padding).</summary>
    public bool IsTerminal(int id) => id == Eos || id == Pad;

    /// <summary>Returns the id of a character, or -1 when it is not in the vocabulary.</summary>
    public int IdOf(char c) => c < _idOfAscii.Length ? _idOfAscii[c] : -1;

    /// <summary>Returns the character of a character id; false for the special ids and ids outside the vocabulary.</summary>
    public bool TryGetChar(int id, out char c)
    {
        int offset = id - FirstCharId;
        if (offset >= 0 && offset < Alphabet.Length)
        {
            c = Alphabet[offset];
            return true;
        }
        c = default;
        return false;
    }

    /// <summary>Encodes text, one id per character, without adding EOS.</summary>
    /// <exception cref="ArgumentException">A character is not in the vocabulary; the message names it and its position.</exception>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new int[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            int id = IdOf(text[i]);
            if (id < 0)
                throw new ArgumentException(
                    $"Character '{text[i]}' (U+{(int)text[i]:X4}) at position {i} is not in the arithmetic vocabulary.", nameof(text));
            ids[i] = id;
        }
        return ids;
    }

    /// <summary>Encodes text and appends the EOS id, as a completion is written in training data.</summary>
    /// <exception cref="ArgumentException">A character is not in the vocabulary.</exception>
    public int[] EncodeWithEos(string text)
    {
        int[] body = Encode(text);
        var ids = new int[body.Length + 1];
        body.CopyTo(ids, 0);
        ids[^1] = Eos;
        return ids;
    }

    /// <summary>
    /// Decodes ids up to (not including) the first EOS or padding id. Ids outside the vocabulary decode as
    /// <see cref="Unknown"/>; this never throws.
    /// </summary>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var text = new StringBuilder(ids.Length);
        foreach (int id in ids)
        {
            if (IsTerminal(id))
                break;
            text.Append(TryGetChar(id, out char c) ? c : Unknown);
        }
        return text.ToString();
    }

    /// <summary>
    /// Decodes every id for debugging: EOS as "&lt;eos&gt;", padding as "&lt;pad&gt;", ids outside the vocabulary as
    /// <see cref="Unknown"/>. Never throws.
    /// </summary>
    public string DecodeAll(ReadOnlySpan<int> ids)
    {
        var text = new StringBuilder(ids.Length);
        foreach (int id in ids)
        {
            if (id == Eos)
                text.Append("<eos>");
            else if (id == Pad)
                text.Append("<pad>");
            else
                text.Append(TryGetChar(id, out char c) ? c : Unknown);
        }
        return text.ToString();
    }
}
