using System.Buffers.Binary;

namespace RlActors.Environments.FashionMnist;

/// <summary>Where an <see cref="EpochBatcher"/> stands: its seed, the epoch, and the index in that epoch's order of the next row.</summary>
/// <param name="Seed">Seed of the epoch orders.</param>
/// <param name="Epoch">Epoch of the next batch (0-based).</param>
/// <param name="Position">Index, in the epoch's shuffled order, of the next row.</param>
public sealed record BatchCursor(ulong Seed, long Epoch, int Position);

/// <summary>One batch: row indices into the split, the epoch it belongs to, and whether it ends that epoch.</summary>
/// <param name="Rows">Row indices into the split.</param>
/// <param name="Epoch">Epoch (0-based).</param>
/// <param name="IndexInEpoch">Batch number within the epoch (0-based).</param>
/// <param name="EndsEpoch">True for the last batch of the epoch.</param>
public sealed record RowBatch(int[] Rows, long Epoch, int IndexInEpoch, bool EndsEpoch);

/// <summary>
/// Shuffled mini-batches over a split of <see cref="Count"/> rows, epoch after epoch. Epoch e's order is a Fisher–Yates
/// permutation from the SplitMix64 stream (seed, e), so it depends only on the seed and the epoch: the cursor (epoch,
/// position) is the whole state, and a restored batcher continues with exactly the same batches. The last batch of an
/// epoch may be smaller; a batch never spans two epochs. Not thread-safe.
/// </summary>
public sealed class EpochBatcher
{
    private const uint CursorMagic = 0x43424D46; // "FMBC" read little-endian
    private const ushort CursorVersion = 1;
    private const int CursorLength = 4 + 2 + 8 + 8 + 4 + 4 + 4 + 4; // magic, version, seed, epoch, position, count, batch, checksum

    private int[] order = [];
    private long orderEpoch = -1;

    /// <summary>Rows in the split.</summary>
    public int Count { get; }
    /// <summary>Rows per batch (the last of an epoch may have fewer).</summary>
    public int BatchSize { get; }
    /// <summary>Seed of the epoch orders.</summary>
    public ulong Seed { get; }
    /// <summary>Epoch of the next batch.</summary>
    public long Epoch { get; private set; }
    /// <summary>Position in the epoch's order of the next row.</summary>
    public int Position { get; private set; }

    /// <summary>Batches per epoch: ⌈Count / BatchSize⌉.</summary>
    public int BatchesPerEpoch => (Count + BatchSize - 1) / BatchSize;

    /// <summary>The current cursor.</summary>
    public BatchCursor Cursor => new(Seed, Epoch, Position);

    /// <summary>Starts at epoch 0, position 0.</summary>
    public EpochBatcher(int count, int batchSize, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        Count = count; BatchSize = batchSize; Seed = seed;
    }

    /// <summary>The shuffled row order of epoch <paramref name="epoch"/>.</summary>
    public int[] OrderOf(long epoch) =>
        FashionMnist.Permutation(Count, new SplitMix64(SplitMix64.Stream(Seed, (ulong)epoch)));

    /// <summary>Returns the next batch and advances the cursor (to the next epoch after its last batch).</summary>
    public RowBatch Next()
    {
        if (orderEpoch != Epoch) { order = OrderOf(Epoch); orderEpoch = Epoch; }
        int n = Math.Min(BatchSize, Count - Position);
        var rows = order.AsSpan(Position, n).ToArray();
        var batch = new RowBatch(rows, Epoch, Position / BatchSize, Position + n == Count);
        Position += n;
        if (Position == Count) { Epoch++; Position = 0; }
        return batch;
    }

    /// <summary>Moves to <paramref name="cursor"/>, which must come from a batcher with the same seed.</summary>
    /// <exception cref="ArgumentException">Another seed, or a position outside this split or not on a batch boundary.</exception>
    public void Restore(BatchCursor cursor)
    {
        ArgumentNullException.ThrowIfNull(cursor);
        if (cursor.Seed != Seed) throw new ArgumentException($"the cursor has seed {cursor.Seed}, this batcher {Seed}", nameof(cursor));
        if (cursor.Epoch < 0 || cursor.Position < 0 || cursor.Position >= Count || cursor.Position % BatchSize != 0)
            throw new ArgumentException($"cursor (epoch {cursor.Epoch}, position {cursor.Position}) does not fit {Count} rows in batches of {BatchSize}", nameof(cursor));
        Epoch = cursor.Epoch;
        Position = cursor.Position;
    }

    /// <summary>
    /// The cursor as 38 bytes, little-endian: magic "FMBC", version (uint16), seed (uint64), epoch (int64), position,
    /// count and batch size (int32 each), then an FNV-1a checksum (uint32) of the preceding bytes.
    /// </summary>
    public byte[] SaveCursor()
    {
        var b = new byte[CursorLength];
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(0), CursorMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(4), CursorVersion);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(6), Seed);
        BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(14), Epoch);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(22), Position);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(26), Count);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(30), BatchSize);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(34), Checksum(b.AsSpan(0, 34)));
        return b;
    }

    /// <summary>Restores a cursor saved by <see cref="SaveCursor"/> from a batcher over the same split and batch size.</summary>
    /// <exception cref="InvalidDataException">The bytes are truncated, corrupt, or not a batch cursor, or were saved for another split size or batch size.</exception>
    public void LoadCursor(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Length != CursorLength) throw new InvalidDataException($"batch cursor has {data.Length} bytes, expected {CursorLength}");
        if (BinaryPrimitives.ReadUInt32LittleEndian(data) != CursorMagic) throw new InvalidDataException("not a batch cursor (bad magic)");
        if (BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(4)) is var v && v != CursorVersion)
            throw new InvalidDataException($"batch cursor format {v} is not supported (expected {CursorVersion})");
        if (BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(34)) != Checksum(data.AsSpan(0, 34)))
            throw new InvalidDataException("batch cursor is corrupt (checksum mismatch)");
        int count = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(26)), batch = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(30));
        if (count != Count || batch != BatchSize)
            throw new InvalidDataException($"batch cursor is for {count} rows in batches of {batch}, this batcher has {Count} in batches of {BatchSize}");
        var cursor = new BatchCursor(BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(6)),
            BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(14)), BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(22)));
        try { Restore(cursor); }
        catch (ArgumentException e) { throw new InvalidDataException($"batch cursor does not fit: {e.Message}", e); }
    }

    private static uint Checksum(ReadOnlySpan<byte> bytes)
    {
        uint hash = 2166136261; // FNV-1a offset basis
        foreach (byte x in bytes) hash = (hash ^ x) * 16777619;
        return hash;
    }
}
