using System.Diagnostics.CodeAnalysis;

namespace StorageAppliance.Metadata;

/// <summary>
/// The appliance's metadata: the catalog (pools, disks, containers, vDisks) and the three maps of seed 003
/// (vDisk map, extent id map, extent group map), plus the journal's drain point and small named values.
/// </summary>
/// <remarks>
/// Contract, which every implementation and its tests hold to:
/// <list type="bullet">
/// <item><see cref="Commit"/> applies a batch in order, atomically, and it is durable when Commit returns
/// (a crash right after loses nothing of it; a crash during it leaves none of it).</item>
/// <item>Reads may run on any thread concurrently with one Commit and see either all or none of it.</item>
/// <item>Put* ops are upserts by key; Delete* of a missing key is not an error.</item>
/// <item>Damaged or unreadable storage surfaces as <see cref="MetadataException"/> with a clear message.</item>
/// </list>
/// </remarks>
public interface IMetadataStore : IDisposable
{
    /// <summary>A random 64-bit id made when the store was created; part of every NAA identifier.</summary>
    long ApplianceId { get; }

    /// <summary>Reserves <paramref name="count"/> consecutive ids, never handed out before (persistent, monotonic, never 0).</summary>
    long AllocateIds(int count);

    long DrainedSequence { get; }

    IReadOnlyList<PoolRecord> Pools();

    IReadOnlyList<DiskRecord> Disks();

    IReadOnlyList<ContainerRecord> Containers();

    IReadOnlyList<VDiskRecord> VDisks();

    IReadOnlyList<EgroupRecord> Egroups();

    /// <summary>All extents (extent group map detail); the engine loads them at start for space accounting.</summary>
    IReadOnlyList<ExtentRecord> Extents();

    bool TryGetBlock(long vdiskId, long block, [MaybeNullWhen(false)] out BlockRecord record);

    /// <summary>The vDisk map rows of one vDisk, ordered by block.</summary>
    IReadOnlyList<BlockRecord> Blocks(long vdiskId);

    /// <summary>
    /// Extent id map (seed 003 map 804): the extent group holding a deduplicated extent, by its extent id (a content
    /// hash such as SHA-1). Non-deduplicated extents have no row here (their block row names the extent group).
    /// </summary>
    bool TryGetExtentId(ReadOnlySpan<byte> extentId, out long egroupId);

    /// <summary>Every deduplicated extent (extent group map detail with reference counts); the engine loads them at start.</summary>
    IReadOnlyList<DedupExtentRecord> DedupExtents();

    /// <summary>A copy of the value stored under <paramref name="key"/>, or null.</summary>
    byte[]? GetValue(string key);

    void Commit(MetadataBatch batch);
}

/// <summary>The metadata store cannot be read or written; the message says which file and why.</summary>
public sealed class MetadataException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The store's file system is full (SQLITE_FULL, or ENOSPC from a file it opens): nothing was changed, and a retry can succeed once room is freed.</summary>
    public bool IsDiskFull
    {
        get
        {
            for (var x = InnerException; x is not null; x = x.InnerException)
            {
                if (x is Microsoft.Data.Sqlite.SqliteException s && (s.SqliteErrorCode & 0xFF) == 13)
                    return true;
                if (x is IOException io && (io.HResult & 0xFFFF) == 28)
                    return true;
            }
            return false;
        }
    }
}
