using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using StorageAppliance.Common.Devices;
using StorageAppliance.Director;
using StorageAppliance.ExtentStore;
using StorageAppliance.Journal;
using StorageAppliance.Metadata;
using Extents = StorageAppliance.ExtentStore.ExtentStore;

namespace StorageAppliance.VDisk;

/// <summary>
/// The storage engine behind the Director (DESIGN.md "The data path"): vDisk controllers, the journal in
/// front, the drainer, the extent store on the pool's disks and the metadata store. It reconciles the
/// config's pools, containers and vDisks with the metadata at start, replays the journal, and provisions
/// vDisks at run time.
/// </summary>
public sealed partial class StorageEngine : IVDiskProvisioner, IContainerSpace, IDisposable
{
    private readonly IStorageFileSystem _fs;
    private readonly StorageEngineOptions _options;
    private readonly ILogger _log;
    private readonly IoDirector? _director;
    private readonly ConcurrentDictionary<long, EngineVDisk> _byId = new();
    private readonly ConcurrentDictionary<string, EngineVDisk> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ContainerRecord> _containers = new(StringComparer.Ordinal);
    private readonly object _catalogLock = new();

    public StorageEngine(IMetadataStore metadata, IStorageFileSystem fs, StorageEngineOptions options, ILoggerFactory loggerFactory, IoDirector? director = null)
    {
        Metadata = metadata;
        _fs = fs;
        _options = options;
        _director = director;
        _log = loggerFactory.CreateLogger("StorageAppliance.Engine");
        Journal = new Journal.Journal(fs, new JournalOptions
        {
            Directory = options.JournalDirectory,
            SegmentSize = options.JournalSegmentSize,
            MemoryLimitBytes = options.JournalMemoryLimitBytes,
            BackgroundFlushInterval = options.JournalBackgroundFlush,
        }, loggerFactory.CreateLogger("StorageAppliance.Journal"));
        Extents = new Extents(fs, metadata.ApplianceId, n => metadata.AllocateIds(n), loggerFactory.CreateLogger("StorageAppliance.ExtentStore"));
    }

    public IMetadataStore Metadata { get; }

    public Journal.Journal Journal { get; }

    internal Extents Extents { get; }

    /// <summary>Real free space against the reserve (null before <see cref="Open"/>).</summary>
    internal SpaceGuard? Space { get; private set; }

    /// <summary>True while data writes are refused because the file systems the engine writes to are full.</summary>
    public bool IsFull => Space?.IsFull ?? false;

    /// <summary>Looks at the free space now rather than at the next sample (tests, and the admin API's status).</summary>
    public void SampleFreeSpace() => Space?.Sample();

    /// <summary>
    /// Brings the engine up: pools and disks (labelled, ids kept), containers and vDisks from the config,
    /// extent groups from the metadata, then the journal replayed into the vDisks' overlays.
    /// </summary>
    public void Open(IReadOnlyList<PoolSpec> pools, IReadOnlyList<ContainerSpec> containers, IReadOnlyList<VDiskSpec> vdisks, Func<string, long?>? legacyIds = null)
    {
        var batch = new MetadataBatch();
        var existingPools = Metadata.Pools().ToDictionary(p => p.Name, StringComparer.Ordinal);
        var poolIds = new Dictionary<string, long>(StringComparer.Ordinal);
        var spacePaths = new List<string> { _options.JournalDirectory };
        if (_options.MetadataDirectory is { } metadataDirectory)
            spacePaths.Add(metadataDirectory);
        foreach (var p in pools)
        {
            var record = existingPools.TryGetValue(p.Name, out var r) ? r : new PoolRecord(Metadata.AllocateIds(1), p.Name);
            batch.Add(new MetadataOp.PutPool(record));
            poolIds[p.Name] = record.Id;
            var disks = new List<PoolDisk>();
            foreach (var d in p.Disks)
            {
                var disk = PoolDisk.Open(_fs, d.Path, record.Id, d.Tier, d.CapacityBytes, Metadata.ApplianceId, () => Metadata.AllocateIds(1));
                disks.Add(disk);
                if (disk.IsDirectory)
                    spacePaths.Add(disk.Path);
                batch.Add(new MetadataOp.PutDisk(disk.Record));
            }
            Extents.AddPool(record, disks);
        }

        var existingContainers = Metadata.Containers().ToDictionary(c => c.Name, StringComparer.Ordinal);
        foreach (var c in containers)
        {
            if (!poolIds.TryGetValue(c.Pool, out long poolId))
                throw new InvalidOperationException($"container {c.Name} names pool {c.Pool}, which is not configured");
            ContainerRecord record;
            if (existingContainers.TryGetValue(c.Name, out var old))
            {
                // Block and extent group sizes are fixed once data exists: changing them would misread it.
                if (old.VDiskBlockSize != c.VDiskBlockSize || old.ExtentGroupSize != c.ExtentGroupSize)
                    EngineLog.ContainerLayoutKept(_log, c.Name, old.VDiskBlockSize, old.ExtentGroupSize);
                record = old with { PoolId = poolId, MaxCapacityBytes = c.MaxCapacityBytes, ReservedCapacityBytes = c.ReservedCapacityBytes, ReplicationFactor = c.ReplicationFactor };
            }
            else
            {
                record = new ContainerRecord(Metadata.AllocateIds(1), c.Name, poolId, c.ReplicationFactor, c.MaxCapacityBytes, c.ReservedCapacityBytes, c.VDiskBlockSize, c.ExtentGroupSize);
            }
            batch.Add(new MetadataOp.PutContainer(record));
            _containers[c.Name] = record;
            Extents.AddContainer(record, c.TierPreference);
            _reduction[record.Id] = new DedupStore(Extents, record.Id, record.VDiskBlockSize, c.DataReduction ?? DataReductionSpec.Off);
        }
        Metadata.Commit(batch);

        var egroups = Metadata.Egroups();
        var extents = Metadata.Extents();
        Extents.Load(egroups, extents);
        LoadDedup(egroups, extents);
        foreach (var v in vdisks)
            if (v.Dedup is bool dedup)
                _vdiskDedup[v.Name] = dedup;

        foreach (var v in Metadata.VDisks())
        {
            var container = _containers.Values.FirstOrDefault(c => c.Id == v.ContainerId);
            if (container is null)
            {
                EngineLog.VDiskWithoutContainer(_log, v.Name, v.ContainerId);
                continue;
            }
            if (v.State == VDiskState.Deleting)
            {
                // A delete was interrupted: finish it once the drainer runs.
                _deleteAfterStart.Add(v);
                continue;
            }
            AddVDisk(v, container);
        }

        // Config vDisks that do not exist yet are created; existing ones grow to the configured size.
        var create = new MetadataBatch();
        foreach (var v in vdisks)
        {
            if (_byName.TryGetValue(v.Name, out var existing))
            {
                if (v.CapacityBytes > existing.CapacityBytes)
                {
                    var grown = existing.Record with { CapacityBytes = v.CapacityBytes };
                    create.Add(new MetadataOp.PutVDisk(grown));
                    existing.Record = grown;
                    existing.SetCapacity(v.CapacityBytes);
                }
                else if (v.CapacityBytes < existing.CapacityBytes)
                {
                    EngineLog.ConfigSmallerThanVDisk(_log, v.Name, v.CapacityBytes, existing.CapacityBytes);
                }
                continue;
            }
            if (!_containers.TryGetValue(v.Container, out var container))
                throw new InvalidOperationException($"vDisk {v.Name} names container {v.Container}, which is not configured");
            // A vDisk that existed before the engine keeps its id (and so the NAA id hypervisors know it by).
            long id = legacyIds?.Invoke(v.Name) is long legacy && !_byId.ContainsKey(legacy) ? legacy : Metadata.AllocateIds(1);
            var record = new VDiskRecord(id, v.Name, container.Id, v.CapacityBytes, v.LogicalBlockSize, v.Thin, VDiskState.Active, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            create.Add(new MetadataOp.PutVDisk(record));
            AddVDisk(record, container);
        }
        if (create.Count > 0)
            Metadata.Commit(create);

        Recover();
        Space = new SpaceGuard(_fs, spacePaths, _options.SpaceReserveBytes, () => Journal.PendingBytes, _log);
        // A start on a full file system comes up read-only (logged here) rather than not at all.
        Space.Sample();
        StartDrainer();
        EngineLog.Opened(_log, _byId.Count, Journal.PendingBytes);
    }

    private readonly List<VDiskRecord> _deleteAfterStart = new();

    private readonly Dictionary<long, DedupStore> _reduction = new();
    private readonly Dictionary<string, bool> _vdiskDedup = new(StringComparer.Ordinal);

    /// <summary>The deduplicated extents the metadata holds, and the pack slots they live in.</summary>
    private void LoadDedup(IReadOnlyList<EgroupRecord> egroupRecords, IReadOnlyList<ExtentRecord> extents)
    {
        var containerOf = egroupRecords.ToDictionary(g => g.Id, g => g.ContainerId);
        foreach (var x in extents)
        {
            if (x.OwnerVDiskId == 0 && x.Block == DedupStore.PackBlock && containerOf.TryGetValue(x.EgroupId, out long cid) && _reduction.TryGetValue(cid, out var store))
                store.LoadPack(new SlotRef(x.EgroupId, x.Slot));
        }
        foreach (var r in Metadata.DedupExtents())
            if (_reduction.TryGetValue(r.ContainerId, out var store))
                store.Load(r);
    }

    private void AddVDisk(VDiskRecord record, ContainerRecord container)
    {
        var store = _reduction[container.Id];
        bool dedup = _vdiskDedup.TryGetValue(record.Name, out bool d) ? d : store.Spec.Dedup;
        var v = new EngineVDisk(this, record, container, store)
        {
            SharesExtents = dedup,
            Reduce = dedup || store.Spec.Compression != DataReduction.Compression.CompressionKind.None,
        };
        _byId[record.Id] = v;
        _byName[record.Name] = v;
        _director?.Register(v);
    }

    /// <summary>Replays undrained journal records into the overlays; reservations are taken again for new blocks.</summary>
    private void Recover()
    {
        var entries = Journal.Open(Metadata.DrainedSequence);
        foreach (var e in entries)
        {
            if (!_byId.TryGetValue(e.VDiskId, out var v))
            {
                Journal.Release(e); // its vDisk was deleted
                continue;
            }
            v.Index(e);
        }
        foreach (var v in _byId.Values)
        {
            List<long> blocks;
            lock (v.Lock)
                blocks = v.Blocks.Where(kv => kv.Value.Pending is { Count: > 0 }).Select(kv => kv.Key).ToList();
            foreach (var b in blocks)
            {
                var loc = v.EnsureLocation(b);
                if (loc.IsNone && Extents.TryReserve(v.Container.Id))
                    lock (v.Lock)
                        v.Blocks[b].Reserved = true;
            }
        }
        if (entries.Count > 0)
            EngineLog.Replayed(_log, entries.Count, Metadata.DrainedSequence);
    }

    internal void ReadFailed(EngineVDisk v, long offset, SlotRef slot, ExtentReadResult result) =>
        EngineLog.ReadFailed(_log, v.Name, offset, Extents.DiskPathOf(slot), result.ToString());

    internal void DedupReadFailed(EngineVDisk v, long offset, ExtentReadResult result) =>
        EngineLog.ReadFailed(_log, v.Name, offset, "(deduplicated extent)", result.ToString());

    /// <summary>Commits a provisioning change; a full metadata disk is a NoSpace refusal (NFS3ERR_NOSPC, HTTP 507), not a crash of the caller.</summary>
    private void CommitCatalog(MetadataBatch batch)
    {
        try
        {
            lock (_commitLock)
                Metadata.Commit(batch);
        }
        catch (MetadataException e) when (e.IsDiskFull)
        {
            throw new ProvisioningException(ProvisioningError.NoSpace, e.Message);
        }
    }

    private long AllocateCatalogId()
    {
        try
        {
            return Metadata.AllocateIds(1);
        }
        catch (MetadataException e) when (e.IsDiskFull)
        {
            throw new ProvisioningException(ProvisioningError.NoSpace, e.Message);
        }
    }

    private readonly object _commitLock = new();

    // ---------------------------------------------------------------- provisioning

    public IVDisk Create(string container, string name, long capacityBytes, int logicalBlockSize = 512, bool thin = true)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 255)
            throw new ProvisioningException(ProvisioningError.InvalidArgument, $"'{name}' is not a valid vDisk name");
        if (capacityBytes <= 0 || capacityBytes % logicalBlockSize != 0)
            throw new ProvisioningException(ProvisioningError.InvalidArgument, $"size {capacityBytes} must be a positive multiple of the block size {logicalBlockSize}");
        if (logicalBlockSize is not (512 or 4096))
            throw new ProvisioningException(ProvisioningError.InvalidArgument, "block size must be 512 or 4096");
        lock (_catalogLock)
        {
            if (!_containers.TryGetValue(container, out var c))
                throw new ProvisioningException(ProvisioningError.NotFound, $"no container named {container}");
            if (_byName.ContainsKey(name))
                throw new ProvisioningException(ProvisioningError.AlreadyExists, $"a vDisk named {name} already exists");
            var record = new VDiskRecord(AllocateCatalogId(), name, c.Id, capacityBytes, logicalBlockSize, thin, VDiskState.Active, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            CommitCatalog(new MetadataBatch().Add(new MetadataOp.PutVDisk(record)));
            AddVDisk(record, c);
            EngineLog.VDiskCreated(_log, name, record.Id, container, capacityBytes);
            return _byId[record.Id];
        }
    }

    public IVDisk? Open(string name) => _byName.TryGetValue(name, out var v) ? v : null;

    public void Resize(string name, long capacityBytes)
    {
        lock (_catalogLock)
        {
            if (!_byName.TryGetValue(name, out var v))
                throw new ProvisioningException(ProvisioningError.NotFound, $"no vDisk named {name}");
            if (capacityBytes <= 0 || capacityBytes % v.Record.LogicalBlockSize != 0)
                throw new ProvisioningException(ProvisioningError.InvalidArgument, $"size {capacityBytes} must be a positive multiple of the block size {v.Record.LogicalBlockSize}");
            long old = v.CapacityBytes;
            if (capacityBytes < old)
            {
                // The data past the new end is released through the journal like any unmap.
                var unmap = v.UnmapAsync(capacityBytes, old - capacityBytes, IoContext.Internal("resize"));
                if (!unmap.IsCompletedSuccessfully || unmap.Result != IoStatus.Ok)
                    throw new ProvisioningException(ProvisioningError.InUse, $"could not release the end of {name}");
            }
            var record = v.Record with { CapacityBytes = capacityBytes };
            CommitCatalog(new MetadataBatch().Add(new MetadataOp.PutVDisk(record)));
            v.Record = record;
            v.SetCapacity(capacityBytes);
            EngineLog.VDiskResized(_log, name, old, capacityBytes);
        }
    }

    public void Delete(string name)
    {
        EngineVDisk? v;
        lock (_catalogLock)
        {
            if (!_byName.TryRemove(name, out v))
                throw new ProvisioningException(ProvisioningError.NotFound, $"no vDisk named {name}");
            v.Deleted = true;
            _director?.Unregister(name);
            // Marked first, so a crash mid-delete finishes the job at the next start.
            CommitCatalog(new MetadataBatch().Add(new MetadataOp.PutVDisk(v.Record with { State = VDiskState.Deleting })));
        }
        DeleteNowAsync(v.Record).GetAwaiter().GetResult();
        EngineLog.VDiskDeleted(_log, name, v.Id);
    }

    public IReadOnlyList<VDiskDescription> List()
    {
        var result = new List<VDiskDescription>();
        foreach (var v in _byName.Values.OrderBy(v => v.Name, StringComparer.Ordinal))
        {
            var container = v.Container;
            long allocated = 0;
            long written = 0;
            foreach (var b in Metadata.Blocks(v.Id))
            {
                allocated += container.VDiskBlockSize;
                written += b.Extents is { } ids ? LogicalBytes(v.Dedup, DedupStore.Deserialize(ids)) : Extents.WrittenBytes(new SlotRef(b.EgroupId, b.Slot));
            }
            result.Add(new VDiskDescription(v.Id, v.Name, container.Name, v.CapacityBytes, written, allocated, v.Record.LogicalBlockSize, v.Record.Thin));
        }
        return result;
    }

    public bool TryGetContainerSpace(string container, out ContainerSpace space)
    {
        ContainerRecord? record;
        lock (_catalogLock)
            _containers.TryGetValue(container, out record);
        if (record is null)
        {
            space = default;
            return false;
        }
        var (total, free) = Extents.ContainerSpace(record.Id);
        space = new ContainerSpace(total, free);
        return true;
    }

    /// <summary>The vDisk with this id (journal records and metadata refer to ids).</summary>
    public IVDisk? ById(long id) => _byId.TryGetValue(id, out var v) ? v : null;

    public IReadOnlyCollection<IVDisk> VDisks => _byId.Values.Where(v => !v.Deleted).ToList();

    private int _disposed;

    public void Dispose()
    {
        // Idempotent: the host's storage service closes the engine at stop, and the DI container that
        // handed it out as IVDiskProvisioner disposes it again when the host is disposed.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        StopDrainer(drainFirst: true);
        Journal.Dispose();
        Extents.Dispose();
    }

    /// <summary>Stops without draining or flushing anything, as a crash would (for power-cut tests).</summary>
    internal void Abandon()
    {
        _stopping = true;
        _drainSignal.Set();
        _drainThread?.Join(TimeSpan.FromSeconds(30));
        _drainThread = null;
    }
}
