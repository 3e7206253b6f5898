using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using StorageAppliance.Common;
using StorageAppliance.Common.Devices;
using StorageAppliance.Metadata;

namespace StorageAppliance.ExtentStore;

/// <summary>Outcome of reading from the extent store.</summary>
public enum ExtentReadResult : byte
{
    Ok,

    /// <summary>Data failed its checksum: never returned as data.</summary>
    ChecksumMismatch,

    /// <summary>The disk failed the read (EIO) or the extent group is missing.</summary>
    IoError,

    /// <summary>The slice was lost earlier (marked bad) and has not been rewritten since.</summary>
    BadSlice,
}

/// <summary>No disk of the container's pool has room for a new extent group.</summary>
public sealed class NoSpaceException(string message) : IOException(message);

/// <summary>A write or flush to a disk failed; the disk is now marked failed and its data must be moved.</summary>
public sealed class DiskFailedException(PoolDisk disk, string message, Exception inner) : IOException(message, inner)
{
    public PoolDisk Disk { get; } = disk;
}

/// <summary>One change to a block, applied in sequence order: a write of bytes or an unmap of a range.</summary>
public readonly record struct BlockChange(int Offset, int Length, ReadOnlyMemory<byte> Data, bool Unmap);

/// <summary>
/// The extent store: extent groups on the pool's disks, slots for non-deduplicated extents, per-slice
/// CRC32C checksums verified on every read, and space accounting with reservations so a full pool is
/// refused at write time, before anything is acknowledged.
/// </summary>
/// <remarks>
/// Threading: reads from any thread; allocation, <see cref="Apply"/>, <see cref="FlushDirty"/> and
/// <see cref="AfterCommit"/> from the single drainer. The caller keeps reads and applies of the same
/// block apart (the engine's per-block stripe lock).
/// </remarks>
public sealed partial class ExtentStore : IDisposable
{
    public const int SliceSize = 4096;

    private readonly IStorageFileSystem _fs;
    private readonly ILogger _log;
    private readonly Func<int, long> _allocateIds;
    private readonly long _applianceId;
    private readonly Dictionary<long, PoolState> _pools = new();
    private readonly Dictionary<long, ContainerState> _containers = new();
    private readonly ConcurrentDictionary<long, Egroup> _egroups = new();
    private readonly object _space = new();
    private readonly List<Egroup> _createdInBatch = new();
    private readonly List<SlotRef> _freedInBatch = new();

    private sealed class PoolState(PoolRecord record)
    {
        public PoolRecord Record { get; } = record;
        public List<PoolDisk> Disks { get; } = new();
        public long Used;
        public long Reserved;

        public long Capacity
        {
            get
            {
                long c = 0;
                foreach (var d in Disks)
                    if (d.Failure is null)
                        c += d.CapacityBytes;
                return c;
            }
        }
    }

    private sealed class ContainerState(ContainerRecord record, PoolState pool, EgroupLayout layout, IReadOnlyList<StorageTier> tiers)
    {
        public ContainerRecord Record { get; } = record;
        public PoolState Pool { get; } = pool;
        public EgroupLayout Layout { get; } = layout;
        public IReadOnlyList<StorageTier> Tiers { get; } = tiers;
        public List<Egroup> Egroups { get; } = new();
        public long Used;
        public long Reserved;

        /// <summary>Bytes one slot costs: the slot plus its share of the group's header and descriptors.</summary>
        public long SlotCost => Layout.SlotSize + (Layout.Overhead + Layout.SlotCount - 1) / Layout.SlotCount;
    }

    public ExtentStore(IStorageFileSystem fs, long applianceId, Func<int, long> allocateIds, ILogger log)
    {
        _fs = fs;
        _applianceId = applianceId;
        _allocateIds = allocateIds;
        _log = log;
    }

    public IStorageFileSystem FileSystem => _fs;

    // ---------------------------------------------------------------- catalog

    public void AddPool(PoolRecord pool, IEnumerable<PoolDisk> disks)
    {
        var state = new PoolState(pool);
        state.Disks.AddRange(disks);
        _pools[pool.Id] = state;
    }

    public IReadOnlyList<PoolDisk> Disks(long poolId) => _pools[poolId].Disks;

    public void AddContainer(ContainerRecord container, IReadOnlyList<StorageTier> tierPreference)
    {
        var layout = new EgroupLayout(container.VDiskBlockSize, (int)(container.ExtentGroupSize / container.VDiskBlockSize), SliceSize);
        _containers[container.Id] = new ContainerState(container, _pools[container.PoolId], layout, tierPreference);
    }

    public EgroupLayout Layout(long containerId) => _containers[containerId].Layout;

    /// <summary>
    /// Opens the extent groups the metadata knows, marks the slots of its extents as taken, and removes
    /// extent group files no metadata refers to (left by a drain interrupted before its commit).
    /// </summary>
    public void Load(IReadOnlyList<EgroupRecord> egroups, IReadOnlyList<ExtentRecord> extents)
    {
        var disks = _pools.Values.SelectMany(p => p.Disks).ToDictionary(d => d.Id);
        foreach (var r in egroups)
        {
            if (!_containers.TryGetValue(r.ContainerId, out var c) || !disks.TryGetValue(r.DiskId, out var disk))
            {
                ExtentStoreLog.EgroupWithoutHome(_log, r.Id, r.ContainerId, r.DiskId);
                continue;
            }
            var layout = new EgroupLayout(r.SlotSize, r.SlotCount, SliceSize);
            IStorageFile file;
            long baseOffset;
            try
            {
                (file, baseOffset) = disk.IsDirectory
                    ? (_fs.Open(disk.EgroupPath(r.Id), create: false), 0L)
                    : (disk.Device!, r.DiskOffset);
            }
            catch (IOException e)
            {
                ExtentStoreLog.EgroupMissing(_log, r.Id, disk.Path, e.Message);
                continue;
            }
            var g = new Egroup(r, disk, layout, file, baseOffset) { Committed = true };
            _egroups[r.Id] = g;
            c.Egroups.Add(g);
        }
        foreach (var e in extents)
        {
            if (!_egroups.TryGetValue(e.EgroupId, out var g) || e.Slot < 0 || e.Slot >= g.Layout.SlotCount)
                continue;
            g.MarkUsed(e.Slot);
            var c = _containers[g.Record.ContainerId];
            c.Used += c.SlotCost;
            c.Pool.Used += c.SlotCost;
            g.Disk.AddUsed(c.SlotCost);
        }
        RemoveOrphanFiles();
    }

    private void RemoveOrphanFiles()
    {
        foreach (var pool in _pools.Values)
        {
            foreach (var disk in pool.Disks.Where(d => d.IsDirectory))
            {
                foreach (var name in _fs.List(disk.EgroupDirectory, "*.eg"))
                {
                    if (long.TryParse(Path.GetFileNameWithoutExtension(name), System.Globalization.NumberStyles.HexNumber, null, out long id) && _egroups.ContainsKey(id))
                        continue;
                    ExtentStoreLog.OrphanRemoved(_log, Path.Combine(disk.EgroupDirectory, name));
                    try
                    {
                        _fs.Delete(Path.Combine(disk.EgroupDirectory, name));
                    }
                    catch (IOException)
                    {
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- space

    /// <summary>
    /// Reserves room for one new extent of the container, or refuses when the container's maximum or the
    /// pool (less what other containers are guaranteed) has no room. Called before a write is journaled.
    /// </summary>
    public bool TryReserve(long containerId)
    {
        lock (_space)
        {
            var c = _containers[containerId];
            long cost = c.SlotCost;
            if (c.Record.MaxCapacityBytes > 0 && c.Used + c.Reserved + cost > c.Record.MaxCapacityBytes)
                return false;
            var pool = c.Pool;
            long guaranteedToOthers = 0;
            foreach (var other in _containers.Values)
                if (!ReferenceEquals(other, c) && ReferenceEquals(other.Pool, pool))
                    guaranteedToOthers += Math.Max(0, other.Record.ReservedCapacityBytes - other.Used - other.Reserved);
            if (pool.Used + pool.Reserved + guaranteedToOthers + cost > pool.Capacity)
                return false;
            c.Reserved += cost;
            pool.Reserved += cost;
            return true;
        }
    }

    public void ReleaseReservation(long containerId)
    {
        lock (_space)
        {
            var c = _containers[containerId];
            c.Reserved -= c.SlotCost;
            c.Pool.Reserved -= c.SlotCost;
        }
    }

    /// <summary>Bytes allocated to extents (and their share of group overhead) in a container.</summary>
    public long UsedBytes(long containerId)
    {
        lock (_space)
            return _containers[containerId].Used;
    }

    /// <summary>
    /// What the container may hold in all (its maximum, or its pool's capacity) and what it can still take
    /// now, by the same rule as <see cref="TryReserve"/>: the pool's free space less what other containers
    /// are guaranteed, capped by the container's maximum.
    /// </summary>
    public (long Total, long Free) ContainerSpace(long containerId)
    {
        lock (_space)
        {
            var c = _containers[containerId];
            var pool = c.Pool;
            long capacity = pool.Capacity;
            long total = c.Record.MaxCapacityBytes > 0 ? Math.Min(c.Record.MaxCapacityBytes, capacity) : capacity;
            long guaranteedToOthers = 0;
            foreach (var other in _containers.Values)
                if (!ReferenceEquals(other, c) && ReferenceEquals(other.Pool, pool))
                    guaranteedToOthers += Math.Max(0, other.Record.ReservedCapacityBytes - other.Used - other.Reserved);
            long free = capacity - pool.Used - pool.Reserved - guaranteedToOthers;
            if (c.Record.MaxCapacityBytes > 0)
                free = Math.Min(free, c.Record.MaxCapacityBytes - c.Used - c.Reserved);
            return (total, Math.Clamp(free, 0, total));
        }
    }

    public (long Capacity, long Used, long Reserved) PoolSpace(long poolId)
    {
        lock (_space)
        {
            var p = _pools[poolId];
            return (p.Capacity, p.Used, p.Reserved);
        }
    }

    // ---------------------------------------------------------------- allocation (drainer only)

    /// <summary>
    /// Takes a free slot for a new extent of <paramref name="vdiskId"/>'s block, creating an extent group
    /// when none has room. Adds the metadata rows bottom-up (extent group, then extent) to <paramref name="ops"/>;
    /// the caller adds the vDisk block row after. Consumes a reservation when <paramref name="reserved"/>.
    /// </summary>
    public SlotRef AllocateSlot(long containerId, long vdiskId, long block, MetadataBatch ops, bool reserved)
    {
        var c = _containers[containerId];
        Egroup? g = null;
        foreach (var candidate in c.Egroups)
        {
            if (candidate.FreeSlots > 0 && candidate.Disk.Failure is null)
            {
                g = candidate;
                break;
            }
        }
        g ??= CreateEgroup(c, vdiskId, ops);
        int slot = g.FirstFreeSlot();
        g.MarkUsed(slot);
        // A slot may hold stale descriptors from a drain that never committed: start from all-empty.
        for (int i = 0; i < g.Layout.SlicesPerSlot; i++)
            g.SetDescriptor(slot, i, SliceState.Empty, 0);
        try
        {
            g.WriteDescriptors(slot, 0, g.Layout.SlicesPerSlot);
        }
        catch (IOException e)
        {
            g.MarkFree(slot);
            throw Fault(g.Disk, e);
        }
        lock (_space)
        {
            long cost = c.SlotCost;
            if (reserved)
            {
                c.Reserved -= cost;
                c.Pool.Reserved -= cost;
            }
            c.Used += cost;
            c.Pool.Used += cost;
        }
        g.Disk.AddUsed(c.SlotCost);
        ops.Add(new MetadataOp.PutExtent(new ExtentRecord(g.Id, slot, vdiskId, block, 1)));
        return new SlotRef(g.Id, slot);
    }

    private Egroup CreateEgroup(ContainerState c, long vdiskId, MetadataBatch ops)
    {
        var layout = c.Layout;
        PoolDisk? disk = null;
        foreach (var tier in c.Tiers)
        {
            foreach (var d in c.Pool.Disks)
            {
                if (d.Tier != tier || d.Failure is not null || d.FreeBytes < c.SlotCost)
                    continue;
                if (!d.IsDirectory && FindRegion(d, layout.TotalSize) < 0)
                    continue;
                if (disk is null || d.FreeBytes > disk.FreeBytes)
                    disk = d;
            }
            if (disk is not null)
                break;
        }
        if (disk is null)
            throw new NoSpaceException($"no disk of pool {c.Pool.Record.Name} has room for a new extent group of container {c.Record.Name}");

        long id = _allocateIds(1);
        IStorageFile file;
        long baseOffset;
        var header = new byte[EgroupLayout.HeaderSize];
        layout.WriteHeader(header, id, c.Record.Id, vdiskId, disk.Id);
        try
        {
            if (disk.IsDirectory)
            {
                file = _fs.Open(disk.EgroupPath(id), create: true);
                baseOffset = 0;
                file.Write(header, 0);
                file.SetLength(layout.TotalSize);
                file.Flush();
                _fs.SyncDirectory(disk.EgroupDirectory);
            }
            else
            {
                file = disk.Device!;
                baseOffset = FindRegion(disk, layout.TotalSize);
                file.Write(header, baseOffset);
                // The region may hold an older group's descriptors: clear them.
                file.Write(new byte[layout.DescriptorTableSize], baseOffset + EgroupLayout.HeaderSize);
                file.Flush();
            }
        }
        catch (IOException e)
        {
            if (NativeFile.IsNoSpace(e) && disk.IsDirectory)
            {
                // A full file system: no half-made group file is left behind to be found as an orphan.
                try
                {
                    _fs.Delete(disk.EgroupPath(id));
                }
                catch (IOException)
                {
                }
            }
            throw Fault(disk, e);
        }
        var record = new EgroupRecord(id, c.Record.Id, disk.Id, vdiskId, layout.SlotSize, layout.SlotCount, disk.IsDirectory ? -1 : baseOffset, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var g = new Egroup(record, disk, layout, file, baseOffset);
        _egroups[id] = g;
        c.Egroups.Add(g);
        _createdInBatch.Add(g);
        ops.Add(new MetadataOp.PutEgroup(record));
        ExtentStoreLog.EgroupCreated(_log, id, c.Record.Name, disk.Path);
        return g;
    }

    /// <summary>First-fit region on a file disk, or -1.</summary>
    private long FindRegion(PoolDisk disk, long size)
    {
        var taken = _egroups.Values.Where(g => ReferenceEquals(g.Disk, disk)).Select(g => (g.Base, End: g.Base + g.Layout.TotalSize)).OrderBy(r => r.Base).ToList();
        long pos = PoolDisk.FileDiskDataStart;
        long end = PoolDisk.FileDiskDataStart + disk.CapacityBytes;
        foreach (var r in taken)
        {
            if (r.Base - pos >= size)
                return pos;
            pos = Math.Max(pos, (r.End + (1 << 20) - 1) / (1 << 20) * (1 << 20));
        }
        return end - pos >= size ? pos : -1;
    }

    /// <summary>Gives a slot back; it becomes free for reuse after the batch that deletes its extent commits.</summary>
    public void FreeSlot(SlotRef slot, MetadataBatch ops)
    {
        ops.Add(new MetadataOp.DeleteExtent(slot.EgroupId, slot.Slot));
        _freedInBatch.Add(slot);
    }

    /// <summary>After the drain batch committed: new groups are committed, freed slots become free.</summary>
    public void AfterCommit()
    {
        foreach (var g in _createdInBatch)
            g.Committed = true;
        _createdInBatch.Clear();
        foreach (var s in _freedInBatch)
        {
            if (!_egroups.TryGetValue(s.EgroupId, out var g))
                continue;
            // Nothing refers to its data any more: give the space back to the file system now, not at reuse.
            try
            {
                g.PunchData(s.Slot, 0, g.Layout.SlotSize);
            }
            catch (IOException)
            {
                // A disk that cannot punch (or is failing) keeps the bytes until the slot is reused.
            }
            g.MarkFree(s.Slot);
            var c = _containers[g.Record.ContainerId];
            lock (_space)
            {
                c.Used -= c.SlotCost;
                c.Pool.Used -= c.SlotCost;
            }
            g.Disk.AddUsed(-c.SlotCost);
        }
        _freedInBatch.Clear();
    }

    /// <summary>The drain batch failed before its commit: groups created in it stay (orphan files are removed at the next start), freed slots stay taken.</summary>
    public void AbortBatch()
    {
        _freedInBatch.Clear();
        foreach (var g in _egroups.Values)
            g.Dirty = false;
    }

    /// <summary>Makes every write of the current drain batch durable; a failing disk is marked and reported.</summary>
    public void FlushDirty()
    {
        foreach (var g in _egroups.Values)
        {
            if (!g.Dirty)
                continue;
            try
            {
                g.File.Flush();
                g.Dirty = false;
            }
            catch (IOException e)
            {
                throw Fault(g.Disk, e);
            }
        }
    }

    /// <summary>
    /// What an I/O error on a disk means: ENOSPC is a full file system (a <see cref="NoSpaceException"/>: the drain
    /// keeps the records and tries again once room is freed; the disk stays in service), anything else a failing disk.
    /// </summary>
    private IOException Fault(PoolDisk disk, IOException e) =>
        NativeFile.IsNoSpace(e) ? new NoSpaceException($"disk {disk.Path} is full: {e.Message}") : FailDisk(disk, e);

    private DiskFailedException FailDisk(PoolDisk disk, IOException e)
    {
        if (disk.Failure is null)
        {
            disk.Failure = e.Message;
            ExtentStoreLog.DiskFailed(_log, disk.Path, disk.Id, e.Message);
        }
        return new DiskFailedException(disk, $"disk {disk.Path} failed: {e.Message}", e);
    }

    public bool IsOnFailedDisk(SlotRef slot) => _egroups.TryGetValue(slot.EgroupId, out var g) && g.Disk.Failure is not null;

    public string DiskPathOf(SlotRef slot) => _egroups.TryGetValue(slot.EgroupId, out var g) ? g.Disk.Path : "?";

    public void Dispose()
    {
        foreach (var g in _egroups.Values)
            if (g.Disk.IsDirectory)
                g.File.Dispose();
        foreach (var p in _pools.Values)
            foreach (var d in p.Disks)
                d.Dispose();
    }
}
