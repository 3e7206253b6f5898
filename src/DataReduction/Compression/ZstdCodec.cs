namespace StorageAppliance.DataReduction.Compression;

/// <summary>
/// Zstandard through the system's libzstd, at a configurable level, with one compression and one decompression
/// context kept for the codec's life (ZSTD_compress would create one per call). Not thread-safe.
/// </summary>
public sealed unsafe class ZstdCodec : ICompressionCodec
{
    public const int DefaultLevel = 3;

    private nint _cctx;
    private nint _dctx;

    public ZstdCodec(int level = DefaultLevel)
    {
        int min, max;
        try
        {
            min = ZstdNative.MinCLevel();
            max = ZstdNative.MaxCLevel();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            throw CompressionLibraryMissingException.For(ZstdNative.Library, ZstdNative.Package, e);
        }
        if (level < min || level > max || level == 0)
            throw new ArgumentOutOfRangeException(nameof(level), level, $"zstd levels run from {min} to {max}, 0 excluded");
        Level = level;
        _cctx = ZstdNative.CreateCCtx();
        _dctx = ZstdNative.CreateDCtx();
        if (_cctx == 0 || _dctx == 0)
        {
            Dispose();
            throw new OutOfMemoryException("zstd could not allocate its contexts");
        }
    }

    ~ZstdCodec() => Free();

    public CompressionKind Kind => CompressionKind.Zstd;

    public int Level { get; }

    public int Compress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_cctx == 0, this);
        if (source.IsEmpty || destination.IsEmpty)
            return 0;
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            nuint n = ZstdNative.CompressCCtx(_cctx, dst, (nuint)destination.Length, src, (nuint)source.Length, Level);
            // An error here is dstSize_tooSmall in practice (the inputs are valid): "does not fit".
            return ZstdNative.IsError(n) != 0 ? 0 : (int)n;
        }
    }

    public CodecStatus Decompress(ReadOnlySpan<byte> source, Span<byte> destination, int expectedLength)
    {
        ObjectDisposedException.ThrowIf(_dctx == 0, this);
        if (destination.Length < expectedLength)
            return CodecStatus.DestinationTooSmall;
        if (source.IsEmpty)
            return CodecStatus.Corrupt;
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            nuint n = ZstdNative.DecompressDCtx(_dctx, dst, (nuint)expectedLength, src, (nuint)source.Length);
            return ZstdNative.IsError(n) == 0 && n == (nuint)expectedLength ? CodecStatus.Ok : CodecStatus.Corrupt;
        }
    }

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        if (_cctx != 0)
            _ = ZstdNative.FreeCCtx(_cctx);
        if (_dctx != 0)
            _ = ZstdNative.FreeDCtx(_dctx);
        _cctx = 0;
        _dctx = 0;
    }
}
