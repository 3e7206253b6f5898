namespace StorageAppliance.DataReduction.Compression;

public static class CompressionCodecs
{
    /// <summary>
    /// A new codec of <paramref name="kind"/> (level applies to zstd only). Throws
    /// <see cref="CompressionLibraryMissingException"/> if its library is not installed.
    /// </summary>
    public static ICompressionCodec Create(CompressionKind kind, int level = ZstdCodec.DefaultLevel) => kind switch
    {
        CompressionKind.None => NoCompressionCodec.Instance,
        CompressionKind.Lz4 => new Lz4Codec(),
        CompressionKind.Zstd => new ZstdCodec(level),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown compression"),
    };
}
