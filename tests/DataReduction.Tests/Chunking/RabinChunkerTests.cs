using System.Security.Cryptography;
using StorageAppliance.DataReduction.Chunking;

namespace StorageAppliance.DataReduction.Tests.Chunking;

public class RabinChunkerTests
{
    // Small sizes so a few MiB give hundreds of chunks.
    private static readonly ChunkingOptions Small = new(1024, 4096, 16384);

    private static List<int> Chunks(RabinChunker chunker, ReadOnlySpan<byte> data)
    {
        var lengths = new List<int>();
        while (!data.IsEmpty)
        {
            int n = chunker.NextChunkLength(data);
            lengths.Add(n);
            data = data[n..];
        }
        return lengths;
    }

    private static List<string> Hashes(ReadOnlySpan<byte> data, List<int> lengths)
    {
        var hashes = new List<string>(lengths.Count);
        int pos = 0;
        foreach (int n in lengths)
        {
            hashes.Add(Convert.ToHexString(SHA1.HashData(data.Slice(pos, n))));
            pos += n;
        }
        return hashes;
    }

    [Test]
    public void Boundaries_AreDeterministic_AndCoverTheInput()
    {
        byte[] data = TestData.Random(1 << 20, 10);
        List<int> a = Chunks(new RabinChunker(Small), data);
        List<int> b = Chunks(new RabinChunker(Small), data.ToArray());
        Assert.That(b, Is.EqualTo(a));
        Assert.That(a.Sum(), Is.EqualTo(data.Length));
        Assert.That(a, Has.Count.GreaterThan(50));
    }

    [TestCase(100, 0)]
    [TestCase(3000, 0)]
    [TestCase(0, 1)]
    [TestCase(777, 1)]
    [TestCase(5000, 300)]
    public void Boundaries_Resynchronise_AfterAnEditNearTheStart(int at, int deleteInsteadOfInsert)
    {
        byte[] original = TestData.Random(2 << 20, 11);
        byte[] edited = deleteInsteadOfInsert > 0
            ? [.. original.AsSpan(0, at), .. original.AsSpan(at + deleteInsteadOfInsert)]
            : [.. original.AsSpan(0, at), .. TestData.Random(37, 12), .. original.AsSpan(at)];
        if (deleteInsteadOfInsert == 1 && at == 0)
            edited = original[1..];

        var chunker = new RabinChunker(Small);
        List<string> before = Hashes(original, Chunks(chunker, original));
        List<string> after = Hashes(edited, Chunks(chunker, edited));

        var known = before.ToHashSet();
        int shared = after.Count(known.Contains);
        // Only the chunks around the edit differ; everything after resynchronises.
        Assert.That(shared, Is.GreaterThanOrEqualTo(after.Count - 3), $"{shared} of {after.Count} chunks unchanged");
        Assert.That(after.TakeLast(after.Count - 3), Is.EqualTo(before.TakeLast(after.Count - 3)));
    }

    [Test]
    public void Chunks_RespectMinAndMax()
    {
        // Random data, then low-entropy data (repeated short pattern, where boundaries are rare or absent).
        byte[] data = [.. TestData.Random(1 << 20, 13), .. Enumerable.Repeat((byte)0xAB, 200_000), .. new byte[100_000]];
        List<int> lengths = Chunks(new RabinChunker(Small), data);
        Assert.Multiple(() =>
        {
            Assert.That(lengths.Take(lengths.Count - 1), Has.All.InRange(Small.Min, Small.Max));
            Assert.That(lengths[^1], Is.InRange(1, Small.Max));
            Assert.That(lengths.Count(n => n == Small.Max), Is.GreaterThan(15), "the constant runs cut at max");
        });
    }

    [Test]
    public void Zeros_CutAtMax_IntoIdenticalChunks()
    {
        var chunker = new RabinChunker(ChunkingOptions.Default);
        byte[] zeros = new byte[1 << 20];
        Assert.That(Chunks(chunker, zeros), Is.EqualTo(new[] { 256 << 10, 256 << 10, 256 << 10, 256 << 10 }));
    }

    [Test]
    public void FindBoundary_AsksForMoreData_UntilMaxOrABoundary()
    {
        var chunker = new RabinChunker(Small);
        Assert.That(chunker.FindBoundary(new byte[Small.Min - 1]), Is.EqualTo(-1));
        Assert.That(chunker.FindBoundary(new byte[Small.Max - 1]), Is.EqualTo(-1));
        Assert.That(chunker.FindBoundary(new byte[Small.Max + 5]), Is.EqualTo(Small.Max));
        Assert.That(chunker.NextChunkLength(new byte[10]), Is.EqualTo(10));
        Assert.That(chunker.NextChunkLength([]), Is.EqualTo(0));
    }

    [TestCase(1)]
    [TestCase(7)]
    [TestCase(63)]
    [TestCase(64)]
    [TestCase(65)]
    [TestCase(4095)]
    [TestCase(70_000)]
    public void Streaming_OverAnySplit_GivesTheOnePassBoundaries(int pieceSeed)
    {
        byte[] data = TestData.Mixed(1 << 20, 14);
        var chunker = new RabinChunker(Small);
        List<int> expected = Chunks(chunker, data);

        var r = new Random(pieceSeed);
        RabinChunkStream stream = chunker.CreateStream();
        var lengths = new List<int>();
        int pos = 0;
        while (pos < data.Length)
        {
            // Pieces of 1 byte up to twice the seed, so every alignment with the window and min is hit.
            int piece = Math.Min(r.Next(1, 2 * pieceSeed + 1), data.Length - pos);
            ReadOnlySpan<byte> span = data.AsSpan(pos, piece);
            while (!span.IsEmpty)
            {
                if (stream.TryFindBoundary(span, out int consumed, out long chunk))
                    lengths.Add((int)chunk);
                span = span[consumed..];
            }
            pos += piece;
        }
        if (stream.PendingLength > 0)
            lengths.Add((int)stream.PendingLength);

        Assert.That(lengths, Is.EqualTo(expected));
    }

    [Test]
    public void ChunkSizes_OnRandomData_AverageNearTheExpectedMean()
    {
        var options = ChunkingOptions.Default;
        byte[] data = TestData.Random(48 << 20, 15);
        List<int> lengths = Chunks(new RabinChunker(options), data);
        lengths.RemoveAt(lengths.Count - 1);

        double mean = lengths.Average();
        double expected = options.ExpectedMean; // about 16 KiB + 64 KiB
        TestContext.Out.WriteLine($"{lengths.Count} chunks, mean {mean / 1024:F1} KiB, expected {expected / 1024:F1} KiB, " +
            $"at max {lengths.Count(n => n == options.Max)}");
        Assert.Multiple(() =>
        {
            Assert.That(mean, Is.InRange(expected * 0.88, expected * 1.12));
            // Geometric beyond min: about 1 − e^(−1) ≈ 63% end within one average of min.
            double withinOne = lengths.Count(n => n <= options.Min + options.Average) / (double)lengths.Count;
            Assert.That(withinOne, Is.InRange(0.53, 0.73));
        });
    }

    [TestCase(32, 64, 128, "window")]
    [TestCase(1024, 3000, 8192, "power of two")]
    [TestCase(8192, 4096, 16384, "min < average < max")]
    [TestCase(1024, 4096, 4096, "min < average < max")]
    public void Options_AreValidated(int min, int average, int max, string reason)
    {
        var e = Assert.Throws<ArgumentException>(() => _ = new RabinChunker(new ChunkingOptions(min, average, max)));
        Assert.That(e!.Message, Does.Contain(reason));
    }
}

public class RabinChunkerReferenceTests
{
    [TestCase(64, 512, 8192, 50)]
    [TestCase(1024, 4096, 16384, 51)]
    [TestCase(4096, 8192, 65536, 52)]
    public void Boundaries_MatchTheDefinition_ComputedTheSlowWay(int min, int average, int max, int seed)
    {
        // The definition, straight: the first L ≥ min whose 64-byte window ending at L − 1 has a fingerprint with
        // (fp & mask) == magic, else max. Independent of the two-chain loop and the stream's ring.
        byte[] data = TestData.Mixed(384 << 10, seed);
        var chunker = new RabinChunker(new ChunkingOptions(min, average, max));
        int pos = 0;
        int chunks = 0;
        while (pos < data.Length)
        {
            int expected = -1;
            for (int len = min; len <= max && pos + len <= data.Length; len++)
            {
                ulong fp = RabinFingerprint.Of(data.AsSpan(pos + len - RabinFingerprint.WindowSize, RabinFingerprint.WindowSize));
                if ((fp & chunker.Mask) == chunker.Magic || len == max)
                {
                    expected = len;
                    break;
                }
            }
            Assert.That(chunker.FindBoundary(data.AsSpan(pos)), Is.EqualTo(expected), $"chunk {chunks} at {pos}");
            if (expected < 0)
                break;
            pos += expected;
            chunks++;
        }
        Assert.That(chunks, Is.GreaterThan(5));
    }

    [Test]
    public void ChunkingHashingAndEncoding_AllocateNothing()
    {
        byte[] data = TestData.Mixed(4 << 20, 53);
        byte[] output = new byte[256 << 10];
        var chunker = new RabinChunker(ChunkingOptions.Default);
        RabinChunkStream stream = chunker.CreateStream();
        using var lz4 = new StorageAppliance.DataReduction.Compression.Lz4Codec();
        var encoder = new StorageAppliance.DataReduction.Compression.ExtentEncoder(lz4);
        using var zstd = new StorageAppliance.DataReduction.Compression.ZstdCodec(1);
        var zencoder = new StorageAppliance.DataReduction.Compression.ExtentEncoder(zstd);

        void Run()
        {
            ReadOnlySpan<byte> d = data;
            while (!d.IsEmpty)
            {
                int n = chunker.NextChunkLength(d);
                _ = ExtentId.Compute(d[..n]);
                _ = encoder.Encode(d[..n], output);
                _ = zencoder.Encode(d[..n], output);
                d = d[n..];
            }
            for (int pos = 0; pos < data.Length; pos += 5000)
            {
                ReadOnlySpan<byte> piece = data.AsSpan(pos, Math.Min(5000, data.Length - pos));
                while (!piece.IsEmpty)
                {
                    stream.TryFindBoundary(piece, out int consumed, out _);
                    piece = piece[consumed..];
                }
            }
        }

        Run(); // warm: static tables, JIT, the crypto provider
        long before = GC.GetAllocatedBytesForCurrentThread();
        Run();
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }
}
