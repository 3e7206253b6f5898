namespace StorageAppliance.Metadata;

/// <summary>
/// One metadata change. A batch of them is applied in order in one transaction (all or nothing, durable on
/// return). Writers order a batch bottom-up (extent group, extent, then vDisk block) so a reader that
/// goes top-down never meets a dangling reference even across several batches (seed 003).
/// </summary>
public abstract record MetadataOp
{
    public sealed record PutPool(PoolRecord Pool) : MetadataOp;

    public sealed record PutDisk(DiskRecord Disk) : MetadataOp;

    public sealed record PutContainer(ContainerRecord Container) : MetadataOp;

    public sealed record PutVDisk(VDiskRecord VDisk) : MetadataOp;

    /// <summary>Removes the vDisk row only; its blocks, extents and extent groups go by their own ops.</summary>
    public sealed record DeleteVDisk(long VDiskId) : MetadataOp;

    public sealed record PutEgroup(EgroupRecord Egroup) : MetadataOp;

    public sealed record DeleteEgroup(long EgroupId) : MetadataOp;

    public sealed record PutExtent(ExtentRecord Extent) : MetadataOp;

    public sealed record DeleteExtent(long EgroupId, int Slot) : MetadataOp;

    /// <summary>Extent id map (seed 003 map 804): a deduplicated extent, by its content id, lives in this extent group.</summary>
    public sealed record PutExtentId(byte[] ExtentId, long EgroupId) : MetadataOp;

    public sealed record DeleteExtentId(byte[] ExtentId) : MetadataOp;

    /// <summary>A deduplicated extent's location, encoding and reference count (extent group map detail).</summary>
    public sealed record PutDedupExtent(DedupExtentRecord Extent) : MetadataOp;

    public sealed record DeleteDedupExtent(long ContainerId, byte[] ExtentId) : MetadataOp;

    public sealed record PutBlock(BlockRecord Block) : MetadataOp;

    public sealed record DeleteBlock(long VDiskId, long Block) : MetadataOp;

    /// <summary>The journal is applied to the extent store up to and including this sequence number.</summary>
    public sealed record SetDrainedSequence(long Sequence) : MetadataOp;

    /// <summary>A small named value (e.g. persistent reservations of a logical unit, as JSON).</summary>
    public sealed record PutValue(string Key, byte[] Value) : MetadataOp;

    public sealed record DeleteValue(string Key) : MetadataOp;
}

/// <summary>An ordered list of <see cref="MetadataOp"/>s applied atomically by <see cref="IMetadataStore.Commit"/>.</summary>
public sealed class MetadataBatch
{
    private readonly List<MetadataOp> _ops = new();

    public IReadOnlyList<MetadataOp> Ops => _ops;

    public int Count => _ops.Count;

    public MetadataBatch Add(MetadataOp op)
    {
        _ops.Add(op);
        return this;
    }

    public void Clear() => _ops.Clear();
}
