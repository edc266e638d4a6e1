namespace RlActors.Environments.Tokenizers;

/// <summary>
/// GPT-2's byte-level alphabet (bytes_to_unicode): every byte has a printable stand-in character, printable Latin-1
/// bytes themselves and the others U+0100 onwards in byte order, so that byte-level BPE vocabularies are text
/// (a space is 'Ġ', a newline 'Ċ').
/// </summary>
public static class ByteLevel
{
    private static readonly char[] CharOfByte = Build();
    private static readonly Dictionary<char, byte> ByteOfChar = Enumerable.Range(0, 256).ToDictionary(b => CharOfByte[b], b => (byte)b);

    private static char[] Build()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
            map[b] = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF ? (char)b : (char)next++;
        return map;
    }

    /// <summary>The stand-in character of <paramref name="b"/>.</summary>
    public static char ToChar(byte b) => CharOfByte[b];

    /// <summary>The vocabulary text of <paramref name="bytes"/>.</summary>
    public static string ToText(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = CharOfByte[bytes[i]];
        return new string(chars);
    }

    /// <summary>The bytes of a vocabulary entry; a character outside the alphabet throws <see cref="InvalidDataException"/> naming <paramref name="origin"/>.</summary>
    public static byte[] ToBytes(string token, string origin)
    {
        var bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
            bytes[i] = ByteOfChar.TryGetValue(token[i], out byte b) ? b
                : throw new InvalidDataException($"{origin}: vocabulary entry '{token}' is not byte-level text (character U+{(int)token[i]:X4})");
        return bytes;
    }
}
