namespace StorageAppliance.Metadata;

/// <summary>Storage tier of a disk.</summary>
public enum StorageTier : byte
{
    Ssd = 0,
    Hdd = 1,
}

/// <summary>Lifecycle of a vDisk.</summary>
public enum VDiskState : byte
{
    Active = 0,

    /// <summary>Being deleted: no longer served; its space is being released.</summary>
    Deleting = 1,
}

/// <summary>A storage pool: a set of disks (seed 003 "storage pool").</summary>
public sealed record PoolRecord(long Id, string Name);

/// <summary>
/// A disk of a pool: a directory (extent groups are files in it) or a file or block device (extent groups
/// are fixed-size regions of it). Its id is written into a label on the disk and never changes.
/// </summary>
public sealed record DiskRecord(long Id, long PoolId, string Path, StorageTier Tier, long CapacityBytes);

/// <summary>A container: vDisks that share a pool and storage policies (seed 003).</summary>
public sealed record ContainerRecord(
    long Id,
    string Name,
    long PoolId,
    int ReplicationFactor,
    long MaxCapacityBytes,
    long ReservedCapacityBytes,
    int VDiskBlockSize,
    long ExtentGroupSize);

/// <summary>A vDisk: the address space a LUN or an NFS file exposes.</summary>
public sealed record VDiskRecord(
    long Id,
    string Name,
    long ContainerId,
    long CapacityBytes,
    int LogicalBlockSize,
    bool Thin,
    VDiskState State,
    long CreatedUnixMs);

/// <summary>
/// Extent group map, one row per extent group (seed 003 FIG. 8, map 806): where it lives and who writes it.
/// An extent group holds <see cref="SlotCount"/> slots of <see cref="SlotSize"/> bytes; a non-deduplicated
/// extent occupies one slot. <see cref="DiskOffset"/> is the region's offset on a file/device disk, or -1 on
/// a directory disk (one file per extent group). Only its owner vDisk ever writes to it.
/// </summary>
public sealed record EgroupRecord(
    long Id,
    long ContainerId,
    long DiskId,
    long OwnerVDiskId,
    int SlotSize,
    int SlotCount,
    long DiskOffset,
    long CreatedUnixMs);

/// <summary>
/// Extent group map detail: one extent in a slot of an extent group, with its reference count (seed 003
/// keeps ref counts in the extent group map). For a non-deduplicated extent the extent id is
/// (<see cref="OwnerVDiskId"/>, <see cref="Block"/>). Slice checksums live in the extent group itself.
/// </summary>
public sealed record ExtentRecord(long EgroupId, int Slot, long OwnerVDiskId, long Block, int RefCount);

/// <summary>
/// vDisk map (seed 003 map 802): which extent holds a vDisk block. For a non-deduplicated extent with one
/// reference the extent group and slot are stored here directly (the patent's optimization that skips
/// the extent id map). A deduplicated block instead lists its extents' ids in order (<see cref="Extents"/>:
/// 24 bytes each, size then SHA-1, covering the block from its start; <see cref="EgroupId"/> 0 and
/// <see cref="Slot"/> -1). A block with no row reads as zeros.
/// </summary>
public sealed record BlockRecord(long VDiskId, long Block, long EgroupId, int Slot, byte[]? Extents = null)
{
    public bool IsDeduplicated => Extents is not null;
}

/// <summary>How a deduplicated extent's bytes are kept (the values of DataReduction's ExtentEncoding and CompressionKind).</summary>
public readonly record struct DedupEncoding(byte Encoding, byte Codec);

/// <summary>
/// A deduplicated extent of a container: seed 003's extent id map (content id → extent group) and the extent
/// group map's detail for it (where in the group, how encoded, and its reference count) in one row. The extent with
/// content id <see cref="ExtentId"/> (24 bytes) is kept in slot <see cref="Slot"/> of extent group
/// <see cref="EgroupId"/>, <see cref="StoredLength"/> bytes from <see cref="Offset"/>, encoded as
/// <see cref="Encoding"/>, and <see cref="RefCount"/> vDisk blocks of the container refer to it. An extent of zeros
/// is stored as nothing (slot -1, length 0). Each container keeps its own copy, so the key is (container, id).
/// </summary>
public sealed record DedupExtentRecord(long ContainerId, byte[] ExtentId, long EgroupId, int Slot, int Offset, int StoredLength, DedupEncoding Encoding, long RefCount);
