using System.Security.Cryptography;
using System.Text;
using BenchmarkDotNet.Attributes;
using StorageAppliance.DataReduction;
using StorageAppliance.DataReduction.Chunking;
using StorageAppliance.DataReduction.Compression;

namespace StorageAppliance.Micro;

/// <summary>
/// Data reduction's building blocks over a fixed 16 MiB VM-image-like buffer (runs of text, zeros and random bytes,
/// 4 to 64 KiB each), one core: MB/s = 16 / mean in seconds. Default chunk sizes (16/64/256 KiB).
/// Min is shown too: on a machine shared with other work it is the steadier figure.
/// </summary>
[MemoryDiagnoser]
[MinColumn]
public class DataReductionBenchmarks
{
    private const int Size = 16 << 20;

    private readonly RabinChunker _chunker = new(ChunkingOptions.Default);
    private byte[] _data = null!;
    private byte[] _scratch = null!;
    private byte[] _lz4Packed = null!;
    private int[] _lz4Lengths = null!;
    private byte[] _unpacked = null!;
    private Lz4Codec _lz4 = null!;
    private ZstdCodec _zstd = null!;
    private ExtentEncoder _encoder = null!;
    private RabinChunkStream _stream = null!;

    private const int Block = 64 << 10;

    [GlobalSetup]
    public void Setup()
    {
        _data = MakeImage(Size, 1);
        _scratch = new byte[Size];
        _unpacked = new byte[Block];
        _lz4 = new Lz4Codec();
        _zstd = new ZstdCodec(1);
        _encoder = new ExtentEncoder(_lz4);
        _stream = _chunker.CreateStream();

        // LZ4 per 64 KiB block, kept for the decompression benchmark.
        _lz4Packed = new byte[Size + Size / 8];
        _lz4Lengths = new int[Size / Block];
        for (int i = 0; i < _lz4Lengths.Length; i++)
            _lz4Lengths[i] = _lz4.Compress(_data.AsSpan(i * Block, Block), _lz4Packed.AsSpan(i * (Block + Block / 8), Block + Block / 8));
    }

    [GlobalCleanup]
    public void Cleanup() => _zstd.Dispose();

    [Benchmark(Description = "Rabin chunking, 16 MiB")]
    public int Chunking()
    {
        ReadOnlySpan<byte> d = _data;
        int chunks = 0;
        while (!d.IsEmpty)
        {
            d = d[_chunker.NextChunkLength(d)..];
            chunks++;
        }
        return chunks;
    }

    [Benchmark(Description = "Rabin chunking, streaming in 64 KiB pieces, 16 MiB")]
    public int ChunkingStream()
    {
        int chunks = 0;
        _stream.Reset();
        for (int pos = 0; pos < Size; pos += Block)
        {
            ReadOnlySpan<byte> piece = _data.AsSpan(pos, Block);
            while (!piece.IsEmpty)
            {
                if (_stream.TryFindBoundary(piece, out int consumed, out _))
                    chunks++;
                piece = piece[consumed..];
            }
        }
        return chunks;
    }

    [Benchmark(Description = "SHA-1, 64 KiB blocks, 16 MiB")]
    public int Sha1()
    {
        int x = 0;
        for (int pos = 0; pos < Size; pos += Block)
            x ^= ExtentId.Compute(_data.AsSpan(pos, Block)).GetHashCode();
        return x;
    }

    [Benchmark(Description = "LZ4 compress, 64 KiB blocks, 16 MiB")]
    public int Lz4Compress()
    {
        int total = 0;
        for (int pos = 0; pos < Size; pos += Block)
            total += _lz4.Compress(_data.AsSpan(pos, Block), _scratch.AsSpan(pos, Block));
        return total;
    }

    [Benchmark(Description = "LZ4 decompress, 64 KiB blocks, 16 MiB")]
    public int Lz4Decompress()
    {
        int ok = 0;
        for (int i = 0; i < _lz4Lengths.Length; i++)
        {
            if (_lz4Lengths[i] == 0)
                continue; // stored raw: nothing to decompress
            ok += _lz4.Decompress(_lz4Packed.AsSpan(i * (Block + Block / 8), _lz4Lengths[i]), _unpacked, Block) == CodecStatus.Ok ? 1 : 0;
        }
        return ok;
    }

    [Benchmark(Description = "zstd level 1 compress, 64 KiB blocks, 16 MiB")]
    public int ZstdCompress()
    {
        int total = 0;
        for (int pos = 0; pos < Size; pos += Block)
            total += _zstd.Compress(_data.AsSpan(pos, Block), _scratch.AsSpan(pos, Block));
        return total;
    }

    [Benchmark(Description = "Ingest: chunk, SHA-1, zero check, LZ4, 16 MiB")]
    public long Ingest()
    {
        ReadOnlySpan<byte> d = _data;
        Span<byte> output = _scratch;
        long stored = 0;
        int x = 0;
        while (!d.IsEmpty)
        {
            int n = _chunker.NextChunkLength(d);
            ReadOnlySpan<byte> chunk = d[..n];
            x ^= ExtentId.Compute(chunk).GetHashCode();
            EncodedExtent e = _encoder.Encode(chunk, output[..n]);
            stored += e.StoredLength;
            d = d[n..];
        }
        return stored + x;
    }

    /// <summary>Runs of text (about 3:1 for LZ4), zeros and random bytes, 4 to 64 KiB each, in equal shares.</summary>
    internal static byte[] MakeImage(int length, int seed)
    {
        var r = new Random(seed);
        string[] words = ["kernel", "module", "usr", "lib", "x86_64", "linux", "gnu", "so", "config", "etc", "=", "\n", "#"];
        var sb = new StringBuilder(70_000);
        while (sb.Length < 65536)
            sb.Append(words[r.Next(words.Length)]).Append(' ');
        byte[] text = Encoding.ASCII.GetBytes(sb.ToString(0, 65536));
        var b = new byte[length];
        for (int pos = 0; pos < length;)
        {
            int run = Math.Min(r.Next(4 << 10, 64 << 10), length - pos);
            int kind = r.Next(3);
            if (kind == 0)
                text.AsSpan(r.Next(65536 - run + 1), run).CopyTo(b.AsSpan(pos));
            else if (kind == 2)
                r.NextBytes(b.AsSpan(pos, run));
            pos += run;
        }
        _ = SHA1.HashData(b.AsSpan(0, 16)); // load the crypto provider before the first measurement
        return b;
    }
}
