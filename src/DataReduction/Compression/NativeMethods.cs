using System.Runtime.InteropServices;

namespace StorageAppliance.DataReduction.Compression;

// The system's reference C libraries (Debian packages liblz4-1 and libzstd1). Signatures from lz4.h and zstd.h.
internal static unsafe partial class Lz4Native
{
    public const string Library = "liblz4.so.1";
    public const string Package = "liblz4-1";

    [LibraryImport(Library, EntryPoint = "LZ4_versionNumber")]
    public static partial int VersionNumber();

    // Returns the compressed size, or 0 if the result does not fit dstCapacity (it stops early then).
    [LibraryImport(Library, EntryPoint = "LZ4_compress_default")]
    public static partial int CompressDefault(byte* src, byte* dst, int srcSize, int dstCapacity);

    // Returns the decompressed size, or a negative value for malformed input; never writes past dstCapacity.
    [LibraryImport(Library, EntryPoint = "LZ4_decompress_safe")]
    public static partial int DecompressSafe(byte* src, byte* dst, int compressedSize, int dstCapacity);

    [LibraryImport(Library, EntryPoint = "LZ4_compressBound")]
    public static partial int CompressBound(int inputSize);
}

internal static unsafe partial class ZstdNative
{
    public const string Library = "libzstd.so.1";
    public const string Package = "libzstd1";

    [LibraryImport(Library, EntryPoint = "ZSTD_versionNumber")]
    public static partial uint VersionNumber();

    [LibraryImport(Library, EntryPoint = "ZSTD_compressBound")]
    public static partial nuint CompressBound(nuint srcSize);

    [LibraryImport(Library, EntryPoint = "ZSTD_isError")]
    public static partial uint IsError(nuint code);

    [LibraryImport(Library, EntryPoint = "ZSTD_minCLevel")]
    public static partial int MinCLevel();

    [LibraryImport(Library, EntryPoint = "ZSTD_maxCLevel")]
    public static partial int MaxCLevel();

    [LibraryImport(Library, EntryPoint = "ZSTD_createCCtx")]
    public static partial nint CreateCCtx();

    [LibraryImport(Library, EntryPoint = "ZSTD_freeCCtx")]
    public static partial nuint FreeCCtx(nint cctx);

    [LibraryImport(Library, EntryPoint = "ZSTD_createDCtx")]
    public static partial nint CreateDCtx();

    [LibraryImport(Library, EntryPoint = "ZSTD_freeDCtx")]
    public static partial nuint FreeDCtx(nint dctx);

    [LibraryImport(Library, EntryPoint = "ZSTD_compressCCtx")]
    public static partial nuint CompressCCtx(nint cctx, byte* dst, nuint dstCapacity, byte* src, nuint srcSize, int level);

    [LibraryImport(Library, EntryPoint = "ZSTD_decompressDCtx")]
    public static partial nuint DecompressDCtx(nint dctx, byte* dst, nuint dstCapacity, byte* src, nuint srcSize);
}

/// <summary>A compression library the configuration asks for is not installed (or too old to have a function).</summary>
public sealed class CompressionLibraryMissingException(string message, Exception inner) : Exception(message, inner)
{
    internal static CompressionLibraryMissingException For(string library, string package, Exception inner)
        => new($"{library} could not be loaded ({inner.GetType().Name}: {inner.Message}); install the Debian package {package} (apt-get install -y {package})", inner);
}
