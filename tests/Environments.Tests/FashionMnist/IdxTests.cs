using System.IO.Compression;
using RlActors.Environments.FashionMnist;

namespace RlActors.Environments.Tests.FashionMnist;

public class IdxTests
{
    // A 2 × 3 unsigned-byte array written byte by byte: magic 00 00 08 02, dims 2 and 3 (big-endian), data.
    private static readonly byte[] TwoByThree = [0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 10, 20, 30, 40, 50, 255];

    private static string TempFile(byte[] bytes, string suffix = "")
    {
        var path = Path.Combine(Path.GetTempPath(), $"idx-test-{Guid.NewGuid():N}{suffix}");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] Gzip(byte[] bytes)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(bytes);
        return ms.ToArray();
    }

    [Fact]
    public void A_hand_written_idx_file_reads_as_its_shape_and_bytes()
    {
        var path = TempFile(TwoByThree);
        try
        {
            var array = Idx.Read(path);
            Assert.Equal([2, 3], array.Shape);
            Assert.Equal(new byte[] { 10, 20, 30, 40, 50, 255 }, array.Data);
            Assert.Equal(6, array.Length);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void A_gzip_compressed_file_reads_the_same()
    {
        var path = TempFile(Gzip(TwoByThree), ".gz");
        try { Assert.Equal(new byte[] { 10, 20, 30, 40, 50, 255 }, Idx.Read(path).Data); }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Write_produces_the_hand_written_bytes_and_reads_back()
    {
        using var ms = new MemoryStream();
        Idx.Write(ms, new IdxArray([2, 3], [10, 20, 30, 40, 50, 255]));
        Assert.Equal(TwoByThree, ms.ToArray());

        using var gz = new MemoryStream();
        Idx.Write(gz, new IdxArray([2, 3], [10, 20, 30, 40, 50, 255]), gzip: true);
        gz.Position = 0;
        Assert.Equal([2, 3], Idx.Read(gz).Shape);
    }

    [Fact]
    public void A_truncated_file_names_its_path_and_the_missing_bytes()
    {
        var path = TempFile(TwoByThree[..^2]);
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => Idx.Read(path));
            Assert.Contains(path, e.Message);
            Assert.Contains("truncated: 4 of 6 bytes", e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Other_element_types_and_bad_magic_are_refused_clearly()
    {
        byte[] floats = [.. TwoByThree];
        floats[2] = 0x0D;
        var e = Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(floats)));
        Assert.Contains("0x0D is not supported", e.Message);

        byte[] notIdx = [.. TwoByThree];
        notIdx[0] = 7;
        Assert.Contains("first two bytes", Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(notIdx))).Message);
        Assert.Throws<InvalidDataException>(() => Idx.Read(new MemoryStream(new byte[] { 0, 0 })));
    }

    [Fact]
    public void A_missing_file_throws_file_not_found_with_the_path()
    {
        var path = Path.Combine(Path.GetTempPath(), "no-such-idx-file");
        var e = Assert.Throws<FileNotFoundException>(() => Idx.Read(path));
        Assert.Equal(path, e.FileName);
    }
}
