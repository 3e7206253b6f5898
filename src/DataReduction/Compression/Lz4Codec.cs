namespace StorageAppliance.DataReduction.Compression;

/// <summary>LZ4 (block format, default acceleration) through the system's liblz4. Stateless and thread-safe.</summary>
public sealed unsafe class Lz4Codec : ICompressionCodec
{
    /// <summary>Loads liblz4 now, so a missing library stops start-up rather than the first write.</summary>
    public Lz4Codec()
    {
        try
        {
            _ = Lz4Native.VersionNumber();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            throw CompressionLibraryMissingException.For(Lz4Native.Library, Lz4Native.Package, e);
        }
    }

    public CompressionKind Kind => CompressionKind.Lz4;

    public int Compress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (source.IsEmpty || destination.IsEmpty)
            return 0;
        fixed (byte* src = source)
        fixed (byte* dst = destination)
            return Lz4Native.CompressDefault(src, dst, source.Length, destination.Length);
    }

    public CodecStatus Decompress(ReadOnlySpan<byte> source, Span<byte> destination, int expectedLength)
    {
        if (destination.Length < expectedLength)
            return CodecStatus.DestinationTooSmall;
        if (source.IsEmpty)
            return CodecStatus.Corrupt;
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            // Capacity exactly the expected length: longer output is malformed input, not an overrun.
            int n = Lz4Native.DecompressSafe(src, dst, source.Length, expectedLength);
            return n == expectedLength ? CodecStatus.Ok : CodecStatus.Corrupt;
        }
    }

    public void Dispose()
    {
    }
}
