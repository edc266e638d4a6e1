using System.Buffers.Binary;

namespace RlActors.Environments.Arithmetic;

/// <summary>Where a dataset stands: the seed of its stream and the index of the next problem it will return.</summary>
/// <param name="Seed">The seed of the problem stream.</param>
/// <param name="Position">The index of the next problem.</param>
public sealed record DatasetCursor(ulong Seed, long Position);

/// <summary>
/// An endless, reproducible stream of training problems with a cursor that can be saved and restored, so a resumed
/// run continues with exactly the problems it would have seen. The cursor records the seed and position, not the
/// options: restore into a dataset built with the same options. Not thread-safe.
/// </summary>
public sealed class ArithmeticDataset
{
    /// <summary>XORed into the seed to give the held-out stream, so it differs from the training stream of the same seed.</summary>
    public const ulong HeldOutSalt = 0x4845_4C44_4F55_5421UL; // "HELDOUT!"

    private const uint CursorMagic = 0x43445241; // "ARDC" read little-endian
    private const ushort CursorVersion = 1;
    private const int CursorLength = 4 + 2 + 8 + 8 + 4; // magic, version, seed, position, checksum

    private readonly ArithmeticGenerator _generator;
    private long _position;

    /// <summary>Creates a dataset that returns problem <paramref name="position"/> next.</summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="position"/> is negative.</exception>
    public ArithmeticDataset(ArithmeticOptions options, ulong seed, long position = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        _generator = new ArithmeticGenerator(options, seed);
        _position = position;
    }

    /// <summary>The task options.</summary>
    public ArithmeticOptions Options => _generator.Options;

    /// <summary>The seed of the problem stream.</summary>
    public ulong Seed => _generator.Seed;

    /// <summary>The index of the next problem.</summary>
    public long Position => _position;

    /// <summary>The current cursor.</summary>
    public DatasetCursor Cursor => new(Seed, _position);

    /// <summary>Returns the problem at the cursor and advances it.</summary>
    public ArithmeticProblem Next() => _generator.Get(_position++);

    /// <summary>Returns the next <paramref name="n"/> problems and advances the cursor past them.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="n"/> is negative.</exception>
    public IReadOnlyList<ArithmeticProblem> NextBatch(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        var batch = new ArithmeticProblem[n];
        for (int i = 0; i < n; i++)
            batch[i] = Next();
        return batch;
    }

    /// <summary>Moves the cursor; the seed must be this dataset's.</summary>
    /// <exception cref="ArgumentException">The cursor belongs to a stream with another seed.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The position is negative.</exception>
    public void Restore(DatasetCursor cursor)
    {
        ArgumentNullException.ThrowIfNull(cursor);
        if (cursor.Seed != Seed)
            throw new ArgumentException(
                $"The cursor was saved from a dataset with seed {cursor.Seed}, but this dataset has seed {Seed}.", nameof(cursor));
        ArgumentOutOfRangeException.ThrowIfNegative(cursor.Position, nameof(cursor));
        _position = cursor.Position;
    }

    /// <summary>
    /// Serialises the cursor: 26 bytes, little-endian — magic "ARDC", format version (uint16), seed (uint64),
    /// position (int64), then an FNV-1a checksum (uint32) of the preceding bytes.
    /// </summary>
    public byte[] SaveCursor()
    {
        var buffer = new byte[CursorLength];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(0), CursorMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(4), CursorVersion);
        BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan(6), Seed);
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(14), _position);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(22), Checksum(buffer.AsSpan(0, 22)));
        return buffer;
    }

    /// <summary>Reads a cursor written by <see cref="SaveCursor"/>.</summary>
    /// <exception cref="InvalidDataException">The buffer is truncated, corrupt, or not a dataset cursor.</exception>
    public static DatasetCursor LoadCursor(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Length < 6)
            throw new InvalidDataException($"Dataset cursor is truncated: {data.Length} bytes, expected {CursorLength}.");
        if (BinaryPrimitives.ReadUInt32LittleEndian(data) != CursorMagic)
            throw new InvalidDataException("Not a dataset cursor: the buffer does not start with the \"ARDC\" magic.");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(4));
        if (version != CursorVersion)
            throw new InvalidDataException($"Dataset cursor has format version {version}; only version {CursorVersion} is supported.");
        if (data.Length != CursorLength)
            throw new InvalidDataException(data.Length < CursorLength
                ? $"Dataset cursor is truncated: {data.Length} bytes, expected {CursorLength}."
                : $"Dataset cursor has {data.Length - CursorLength} unexpected trailing bytes.");
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(22));
        if (stored != Checksum(data.AsSpan(0, 22)))
            throw new InvalidDataException("Dataset cursor is corrupt: its checksum does not match its contents.");
        ulong seed = BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(6));
        long position = BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(14));
        if (position < 0)
            throw new InvalidDataException($"Dataset cursor is corrupt: negative position {position}.");
        return new DatasetCursor(seed, position);
    }

    /// <summary>
    /// A fixed evaluation set: problems 0 to <paramref name="count"/> - 1 of the stream seeded with
    /// <c>seed ^ </c><see cref="HeldOutSalt"/>. The same arguments always give the same set, and it is drawn from a
    /// different stream than training with <paramref name="seed"/>. (With few digits and operations the space of
    /// problems is small, so individual problems may still coincide with training ones.)
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative.</exception>
    public static IReadOnlyList<ArithmeticProblem> HeldOut(ArithmeticOptions options, ulong seed, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var generator = new ArithmeticGenerator(options, seed ^ HeldOutSalt);
        var problems = new ArithmeticProblem[count];
        for (int i = 0; i < count; i++)
            problems[i] = generator.Get(i);
        return problems;
    }

    private static uint Checksum(ReadOnlySpan<byte> bytes)
    {
        uint hash = 2166136261; // FNV-1a offset basis
        foreach (byte b in bytes)
            hash = (hash ^ b) * 16777619;
        return hash;
    }
}
