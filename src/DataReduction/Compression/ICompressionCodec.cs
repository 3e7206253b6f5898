namespace StorageAppliance.DataReduction.Compression;

/// <summary>Which codec produced an extent's stored bytes; kept with the extent in the metadata.</summary>
public enum CompressionKind : byte
{
    None = 0,
    Lz4 = 1,
    Zstd = 2,
}

/// <summary>
/// The outcome of a decompression, as a value: corrupt input on the data path is an error for that read, not an
/// exception.
/// <list type="table">
/// <item><term>Ok</term><description>the output is complete.</description></item>
/// <item><term>Corrupt</term><description>the input is malformed, or decodes to a length other than expected.</description></item>
/// <item><term>DestinationTooSmall</term><description>the caller's span is shorter than the expected length.</description></item>
/// </list>
/// </summary>
public enum CodecStatus : byte
{
    Ok = 0,
    Corrupt = 1,
    DestinationTooSmall = 2,
}

/// <summary>
/// A block compressor over caller-owned spans: nothing is allocated per call. An instance may hold native
/// contexts and is then not thread-safe: use one per thread (or per drain worker).
/// </summary>
public interface ICompressionCodec : IDisposable
{
    CompressionKind Kind { get; }

    /// <summary>
    /// Compresses <paramref name="source"/> into <paramref name="destination"/>. Returns the bytes written, or 0 when
    /// the result does not fit <paramref name="destination"/> (the caller sizes it to the most it would keep, so a
    /// poor ratio stops early).
    /// </summary>
    int Compress(ReadOnlySpan<byte> source, Span<byte> destination);

    /// <summary>
    /// Decompresses <paramref name="source"/>, which must decode to exactly <paramref name="expectedLength"/> bytes,
    /// into the start of <paramref name="destination"/>.
    /// </summary>
    CodecStatus Decompress(ReadOnlySpan<byte> source, Span<byte> destination, int expectedLength);
}
