using StorageAppliance.Metadata;

namespace StorageAppliance.VDisk;

/// <summary>Settings of the storage engine.</summary>
public sealed class StorageEngineOptions
{
    /// <summary>Where the journal's segments live (an ssd-tier disk of the pool).</summary>
    public required string JournalDirectory { get; init; }

    public long JournalSegmentSize { get; init; } = 64L << 20;

    /// <summary>Undrained data kept in memory; writes wait for the drainer above it.</summary>
    public long JournalMemoryLimitBytes { get; init; } = 512L << 20;

    /// <summary>Non-FUA writes become durable within this time even without SYNCHRONIZE CACHE.</summary>
    public TimeSpan JournalBackgroundFlush { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The drainer starts a batch once this much journal data is pending...</summary>
    public long DrainThresholdBytes { get; init; } = 16L << 20;

    /// <summary>...or this long after the oldest pending write.</summary>
    public TimeSpan DrainInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Applied writes are checkpointed (extent groups flushed, metadata committed, journal trimmed) at least
    /// this often. Between checkpoints the journal on disk still holds them, so a crash replays them.
    /// </summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>...or as soon as the journal on disk grows past this.</summary>
    public long CheckpointJournalBytes { get; init; } = 2L << 30;

    /// <summary>The folder of the metadata store, when it shares the engine's file systems (its free space counts too).</summary>
    public string? MetadataDirectory { get; init; }

    /// <summary>
    /// Free space kept on the engine's file systems for the drainer, metadata commits and checkpoints and unmaps: data
    /// writes are refused as out of space (DATA PROTECT 27h/07h, NFS3ERR_NOSPC) before the free space, less what
    /// undrained writes will still take, falls under it.
    /// </summary>
    public long SpaceReserveBytes { get; init; } = 128L << 20;
}

/// <summary>A pool as the config declares it: disks with a tier and a capacity (0 = the free space of its file system).</summary>
public sealed record PoolSpec(string Name, IReadOnlyList<DiskSpec> Disks);

public sealed record DiskSpec(string Path, StorageTier Tier, long CapacityBytes);

/// <summary>A container as the config declares it.</summary>
public sealed record ContainerSpec(
    string Name,
    string Pool,
    int ReplicationFactor,
    long MaxCapacityBytes,
    long ReservedCapacityBytes,
    int VDiskBlockSize,
    long ExtentGroupSize,
    IReadOnlyList<StorageTier> TierPreference,
    DataReductionSpec? DataReduction = null);

/// <summary>A vDisk as the config declares it; <paramref name="Dedup"/> null follows its container.</summary>
public sealed record VDiskSpec(string Name, string Container, long CapacityBytes, int LogicalBlockSize, bool Thin, bool? Dedup = null);
