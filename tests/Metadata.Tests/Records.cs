using StorageAppliance.Metadata;

namespace StorageAppliance.Metadata.Tests;

/// <summary>Records with every field set to something other than its default, so a dropped column shows.</summary>
internal static class Rec
{
    public static PoolRecord Pool(long id, string name = "pool-a") => new(id, name);

    public static DiskRecord Disk(long id, long poolId = 1, StorageTier tier = StorageTier.Hdd) =>
        new(id, poolId, $"/srv/disks/d{id}", tier, 4_000_000_000_000 + id);

    public static ContainerRecord Container(long id, string name = "ctr") =>
        new(id, name, PoolId: 3, ReplicationFactor: 2, MaxCapacityBytes: 1L << 40, ReservedCapacityBytes: 1L << 30,
            VDiskBlockSize: 1 << 20, ExtentGroupSize: 4L << 20);

    public static VDiskRecord VDisk(long id, string name = "vm-disk", VDiskState state = VDiskState.Deleting) =>
        new(id, name, ContainerId: 9, CapacityBytes: 10L << 30, LogicalBlockSize: 4096, Thin: true, state, CreatedUnixMs: 1_790_000_000_123);

    public static EgroupRecord Egroup(long id, long owner = 21) =>
        new(id, ContainerId: 9, DiskId: 4, OwnerVDiskId: owner, SlotSize: 1 << 20, SlotCount: 4, DiskOffset: -1, CreatedUnixMs: 1_790_000_000_456);

    public static ExtentRecord Extent(long egroupId, int slot, int refCount = 1) =>
        new(egroupId, slot, OwnerVDiskId: 21, Block: 1000 + slot, refCount);

    public static BlockRecord Block(long vdiskId, long block, long egroupId = 77, int slot = 3) => new(vdiskId, block, egroupId, slot);

    public static byte[] Sha1Like(int seed)
    {
        var key = new byte[20];
        new Random(seed).NextBytes(key);
        return key;
    }

    public static MetadataBatch Batch(params MetadataOp[] ops)
    {
        var batch = new MetadataBatch();
        foreach (MetadataOp op in ops)
            batch.Add(op);
        return batch;
    }
}

/// <summary>Everything a store holds, as comparable text: two stores with equal snapshots hold the same data.</summary>
internal static class Snapshot
{
    public static string Of(IMetadataStore store, params long[] vdisks)
    {
        var lines = new List<string>
        {
            $"drained {store.DrainedSequence}",
        };
        lines.AddRange(store.Pools().Select(r => r.ToString()));
        lines.AddRange(store.Disks().Select(r => r.ToString()));
        lines.AddRange(store.Containers().Select(r => r.ToString()));
        lines.AddRange(store.VDisks().Select(r => r.ToString()));
        lines.AddRange(store.Egroups().Select(r => r.ToString()));
        lines.AddRange(store.Extents().Select(r => r.ToString()));
        foreach (long v in vdisks)
            lines.AddRange(store.Blocks(v).Select(r => r.ToString()));
        return string.Join("\n", lines);
    }
}
