namespace StorageAppliance.DataReduction.Compression;

/// <summary>The "none" codec: never compresses (every extent is stored raw or as zeros).</summary>
public sealed class NoCompressionCodec : ICompressionCodec
{
    public static readonly NoCompressionCodec Instance = new();

    public CompressionKind Kind => CompressionKind.None;

    /// <summary>Always 0: "did not fit", so the encoder stores the source as it is.</summary>
    public int Compress(ReadOnlySpan<byte> source, Span<byte> destination) => 0;

    public CodecStatus Decompress(ReadOnlySpan<byte> source, Span<byte> destination, int expectedLength)
    {
        if (destination.Length < expectedLength)
            return CodecStatus.DestinationTooSmall;
        if (source.Length != expectedLength)
            return CodecStatus.Corrupt;
        source.CopyTo(destination);
        return CodecStatus.Ok;
    }

    public void Dispose()
    {
    }
}
