using System.Buffers.Binary;
using System.IO.Compression;

namespace RlActors.Environments.FashionMnist;

/// <summary>An IDX array of unsigned bytes (the MNIST file format): its dimensions and its data in row-major order.</summary>
/// <param name="Shape">Dimensions, outermost first, e.g. [60000, 28, 28].</param>
/// <param name="Data">The elements, row-major; its length is the product of <paramref name="Shape"/>.</param>
public sealed record IdxArray(int[] Shape, byte[] Data)
{
    /// <summary>Number of elements: the product of the dimensions.</summary>
    public long Length => Shape.Aggregate(1L, (a, d) => a * d);
}

/// <summary>
/// Reads and writes IDX files (LeCun's MNIST format): two zero bytes, the element type (0x08 = unsigned byte), the
/// number of dimensions, each dimension as a big-endian int32, then the data. Gzip-compressed files are recognised by
/// their magic bytes and read transparently. Only unsigned-byte arrays are supported.
/// </summary>
public static class Idx
{
    /// <summary>Element type code of unsigned bytes.</summary>
    public const byte UnsignedByte = 0x08;

    /// <summary>Reads the IDX file at <paramref name="path"/> (plain or gzip).</summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is not an unsigned-byte IDX array or is truncated; the message names the path.</exception>
    public static IdxArray Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"IDX file not found: {path}", path);
        using var file = File.OpenRead(path);
        try { return Read(file); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
    }

    /// <summary>Reads an IDX array from <paramref name="stream"/>; gzip is detected from the first two bytes.</summary>
    /// <exception cref="InvalidDataException">Not an unsigned-byte IDX array, or truncated.</exception>
    public static IdxArray Read(Stream stream)
    {
        var buffered = new BufferedStream(stream, 1 << 16);
        Span<byte> head = stackalloc byte[4];
        int got = ReadFully(buffered, head);
        Stream body = buffered;
        if (got >= 2 && head[0] == 0x1f && head[1] == 0x8b)
        {
            // gzip: restart from the beginning through a decompressor.
            var all = new ConcatStream(head[..got].ToArray(), buffered);
            body = new GZipStream(all, CompressionMode.Decompress);
            got = ReadFully(body, head);
        }
        if (got < 4) throw new InvalidDataException("not an IDX file (shorter than its 4-byte header)");
        if (head[0] != 0 || head[1] != 0) throw new InvalidDataException("not an IDX file (the first two bytes must be zero)");
        if (head[2] != UnsignedByte) throw new InvalidDataException($"IDX element type 0x{head[2]:X2} is not supported (only unsigned bytes, 0x08)");
        int dims = head[3];
        if (dims == 0) throw new InvalidDataException("IDX array has no dimensions");
        var shape = new int[dims];
        Span<byte> word = stackalloc byte[4];
        long length = 1;
        for (int i = 0; i < dims; i++)
        {
            if (ReadFully(body, word) < 4) throw new InvalidDataException("IDX header is truncated");
            shape[i] = BinaryPrimitives.ReadInt32BigEndian(word);
            if (shape[i] < 0) throw new InvalidDataException($"IDX dimension {i} is negative ({shape[i]})");
            length *= shape[i];
            if (length > Array.MaxLength) throw new InvalidDataException($"IDX array of shape [{string.Join(", ", shape[..(i + 1)])}] is too large");
        }
        var data = new byte[length];
        int read = ReadFully(body, data);
        if (read < length) throw new InvalidDataException($"IDX data is truncated: {read} of {length} bytes for shape [{string.Join(", ", shape)}]");
        return new IdxArray(shape, data);
    }

    /// <summary>Writes <paramref name="array"/> as an IDX file, gzip-compressed when <paramref name="gzip"/> is true.</summary>
    public static void Write(Stream stream, IdxArray array, bool gzip = false)
    {
        if (array.Data.LongLength != array.Length)
            throw new ArgumentException($"data has {array.Data.LongLength} bytes but shape [{string.Join(", ", array.Shape)}] needs {array.Length}", nameof(array));
        if (array.Shape.Length is 0 or > 255) throw new ArgumentException("an IDX array has 1 to 255 dimensions", nameof(array));
        Stream target = gzip ? new GZipStream(stream, CompressionLevel.Fastest, leaveOpen: true) : stream;
        try
        {
            target.Write([0, 0, UnsignedByte, (byte)array.Shape.Length]);
            Span<byte> word = stackalloc byte[4];
            foreach (var d in array.Shape) { BinaryPrimitives.WriteInt32BigEndian(word, d); target.Write(word); }
            target.Write(array.Data);
        }
        finally { if (gzip) target.Dispose(); }
    }

    private static int ReadFully(Stream s, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = s.Read(buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    /// <summary>A read-only stream of some already-read bytes followed by the rest of another stream.</summary>
    private sealed class ConcatStream(byte[] prefix, Stream rest) : Stream
    {
        private int offset;
        public override int Read(byte[] buffer, int start, int count) => Read(buffer.AsSpan(start, count));
        public override int Read(Span<byte> buffer)
        {
            if (offset < prefix.Length)
            {
                int n = Math.Min(buffer.Length, prefix.Length - offset);
                prefix.AsSpan(offset, n).CopyTo(buffer);
                offset += n;
                return n;
            }
            return rest.Read(buffer);
        }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long o, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int start, int count) => throw new NotSupportedException();
    }
}
