namespace StorageAppliance.DataReduction.Compression;

/// <summary>How an extent's bytes are kept on disk.</summary>
public enum ExtentEncoding : byte
{
    /// <summary>All zeros: nothing is stored.</summary>
    Zero = 0,

    /// <summary>Stored as it is: compression would not save at least the encoder's threshold.</summary>
    Raw = 1,

    /// <summary>Stored compressed by <see cref="EncodedExtent.Codec"/>.</summary>
    Compressed = 2,
}

/// <summary>The result of <see cref="ExtentEncoder.Encode"/>: what to store, and how many bytes (0 for zeros).</summary>
public readonly record struct EncodedExtent(ExtentEncoding Encoding, CompressionKind Codec, int StoredLength);

/// <summary>
/// Turns an extent's bytes into what the extent store keeps: nothing for a zero block, the compressed form when it
/// is at least <see cref="MinSavingPercent"/>% smaller, otherwise the raw bytes. Allocates nothing; as thread-safe
/// as its codec.
/// </summary>
public sealed class ExtentEncoder
{
    /// <summary>Below 12% saved, the CPU to decompress on every read buys too little space.</summary>
    public const int DefaultMinSavingPercent = 12;

    private readonly ICompressionCodec _codec;

    public ExtentEncoder(ICompressionCodec codec, int minSavingPercent = DefaultMinSavingPercent)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minSavingPercent);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minSavingPercent, 99);
        _codec = codec;
        MinSavingPercent = minSavingPercent;
    }

    public int MinSavingPercent { get; }

    public CompressionKind Codec => _codec.Kind;

    /// <summary>The most a compressed form may take and still be kept: the size for the destination span.</summary>
    public int MaxStoredLength(int sourceLength) => (int)((long)sourceLength * (100 - MinSavingPercent) / 100);

    /// <summary>
    /// Encodes <paramref name="source"/>. For <see cref="ExtentEncoding.Compressed"/> the bytes to store are the first
    /// <see cref="EncodedExtent.StoredLength"/> of <paramref name="destination"/>; for <see cref="ExtentEncoding.Raw"/>
    /// they are <paramref name="source"/> itself (the destination holds nothing useful); for zeros, none.
    /// </summary>
    public EncodedExtent Encode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        // Vectorised; stops at the first non-zero byte, so ordinary data pays almost nothing.
        if (!source.ContainsAnyExcept((byte)0))
            return new EncodedExtent(ExtentEncoding.Zero, CompressionKind.None, 0);

        int limit = Math.Min(MaxStoredLength(source.Length), destination.Length);
        int n = limit > 0 ? _codec.Compress(source, destination[..limit]) : 0;
        return n > 0
            ? new EncodedExtent(ExtentEncoding.Compressed, _codec.Kind, n)
            : new EncodedExtent(ExtentEncoding.Raw, CompressionKind.None, source.Length);
    }

    /// <summary>
    /// Rebuilds an extent of <paramref name="length"/> bytes from what was stored. A compressed extent needs an
    /// encoder with the codec it was written with.
    /// </summary>
    public CodecStatus Decode(EncodedExtent extent, ReadOnlySpan<byte> stored, Span<byte> destination, int length)
    {
        if (destination.Length < length)
            return CodecStatus.DestinationTooSmall;
        switch (extent.Encoding)
        {
            case ExtentEncoding.Zero:
                destination[..length].Clear();
                return CodecStatus.Ok;
            case ExtentEncoding.Raw:
                if (stored.Length != length)
                    return CodecStatus.Corrupt;
                stored.CopyTo(destination);
                return CodecStatus.Ok;
            case ExtentEncoding.Compressed:
                if (extent.Codec != _codec.Kind)
                    throw new InvalidOperationException($"the extent was compressed with {extent.Codec}; this encoder uses {_codec.Kind}");
                return _codec.Decompress(stored, destination, length);
            default:
                return CodecStatus.Corrupt;
        }
    }
}
