using System.Text;
using RlActors.Environments.Tokenizers;

namespace RlActors.Environments.Arithmetic;

/// <summary>
/// A character-level vocabulary: id 0 is padding, id 1 is end-of-sequence, and ids 2 onwards are the characters of
/// <see cref="Characters"/> in order. <see cref="Default"/> is the arithmetic task's (ids 2 to 22 for <see cref="Alphabet"/>);
/// a data-set task builds its own with <see cref="FromTexts"/>. Every character maps to exactly one id, so a token index
/// is also a character index in the decoded text. Immutable and thread-safe.
/// </summary>
public sealed class CharTokenizer : ITokenizer
{
    /// <summary>The padding id.</summary>
    public const int Pad = 0;

    /// <summary>The end-of-sequence id.</summary>
    public const int Eos = 1;

    /// <summary>The characters of the arithmetic vocabulary (<see cref="Default"/>), in id order starting at id 2 (space is last).</summary>
    public const string Alphabet = "0123456789+-*()=:QA\n ";

    /// <summary>Printed by <see cref="Decode"/> and <see cref="DecodeAll"/> for ids outside the vocabulary.</summary>
    public const char Unknown = '?';

    private const int FirstCharId = 2;

    private readonly int[] _idOfAscii;
    private readonly Dictionary<char, int> _idOfOther = new();

    /// <summary>The arithmetic task's tokenizer (alphabet <see cref="Alphabet"/>, 23 ids).</summary>
    public static CharTokenizer Default { get; } = new();

    /// <summary>Creates the arithmetic tokenizer; prefer <see cref="Default"/>.</summary>
    public CharTokenizer() : this(Alphabet) { }

    /// <summary>A tokenizer over <paramref name="characters"/>, which get ids 2, 3, ... in the order given.</summary>
    /// <exception cref="ArgumentException">The characters are empty or one repeats.</exception>
    public CharTokenizer(string characters)
    {
        ArgumentNullException.ThrowIfNull(characters);
        if (characters.Length == 0) throw new ArgumentException("A tokenizer needs at least one character.", nameof(characters));
        Characters = characters;
        _idOfAscii = new int[128];
        Array.Fill(_idOfAscii, -1);
        for (int i = 0; i < characters.Length; i++)
        {
            char c = characters[i];
            if (IdOf(c) >= 0) throw new ArgumentException($"Character '{c}' (U+{(int)c:X4}) appears twice in the alphabet.", nameof(characters));
            if (c < _idOfAscii.Length) _idOfAscii[c] = FirstCharId + i;
            else _idOfOther[c] = FirstCharId + i;
        }
    }

    /// <summary>
    /// The tokenizer of a data set: its alphabet is the distinct characters of <paramref name="texts"/> in ordinal order,
    /// so every process that reads the same texts builds the same ids.
    /// </summary>
    public static CharTokenizer FromTexts(IEnumerable<string> texts)
    {
        var set = new SortedSet<char>(Comparer<char>.Create((a, b) => a.CompareTo(b)));
        foreach (string t in texts) foreach (char c in t) set.Add(c);
        return new CharTokenizer(new string(set.ToArray()));
    }

    /// <summary>The characters of the vocabulary, in id order starting at id 2.</summary>
    public string Characters { get; }

    /// <summary>The number of ids: 2 special tokens plus the characters (23 for <see cref="Default"/>).</summary>
    public int VocabSize => FirstCharId + Characters.Length;

    /// <inheritdoc />
    int ITokenizer.EosId => Eos;

    /// <inheritdoc />
    int ITokenizer.PadId => Pad;

    /// <summary>None: prompts start with their first character.</summary>
    int? ITokenizer.BosId => null;

    /// <summary>Whether <paramref name="id"/> ends a sequence (EOS or padding).</summary>
    public bool IsTerminal(int id) => id == Eos || id == Pad;

    /// <summary>Returns the id of a character, or -1 when it is not in the vocabulary.</summary>
    public int IdOf(char c) => c < _idOfAscii.Length ? _idOfAscii[c] : _idOfOther.GetValueOrDefault(c, -1);

    /// <summary>Returns the character of a character id; false for the special ids and ids outside the vocabulary.</summary>
    public bool TryGetChar(int id, out char c)
    {
        int offset = id - FirstCharId;
        if (offset >= 0 && offset < Characters.Length)
        {
            c = Characters[offset];
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
                    $"Character '{text[i]}' (U+{(int)text[i]:X4}) at position {i} is not in the tokenizer's vocabulary.", nameof(text));
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
