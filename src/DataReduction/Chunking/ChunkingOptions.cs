using System.Numerics;

namespace StorageAppliance.DataReduction.Chunking;

/// <summary>
/// Chunk sizes for content-defined chunking, in bytes. A boundary is never placed before <see cref="Min"/> bytes,
/// always placed at <see cref="Max"/>, and in between wherever the fingerprint's low log2(<see cref="Average"/>)
/// bits equal a fixed magic value, which happens with probability 1/<see cref="Average"/> per byte.
/// </summary>
/// <remarks>
/// Because the first <see cref="Min"/> bytes are never cut, the mean chunk on random data is
/// Min + Average·(1 − e^(−(Max−Min)/Average)), about Min + Average: <see cref="ExpectedMean"/>.
/// </remarks>
public readonly record struct ChunkingOptions(int Min, int Average, int Max)
{
    /// <summary>16 KiB / 64 KiB / 256 KiB, the container default.</summary>
    public static ChunkingOptions Default => new(16 << 10, 64 << 10, 256 << 10);

    /// <summary>The mean chunk length expected on random data (see the remarks).</summary>
    public double ExpectedMean => Min + Average * (1 - Math.Exp(-(double)(Max - Min) / Average));

    /// <summary>Throws <see cref="ArgumentException"/> naming the rule broken.</summary>
    public void Validate()
    {
        if (Min < RabinFingerprint.WindowSize)
            throw new ArgumentException($"min chunk {Min} is smaller than the fingerprint window ({RabinFingerprint.WindowSize} bytes)");
        if (!BitOperations.IsPow2(Average) || Average < 64)
            throw new ArgumentException($"average chunk {Average} is not a power of two of at least 64");
        if (!(Min < Average && Average < Max))
            throw new ArgumentException($"chunk sizes must satisfy min < average < max (got {Min} / {Average} / {Max})");
        if (Max > 64 << 20)
            throw new ArgumentException($"max chunk {Max} is over 64 MiB");
    }
}
