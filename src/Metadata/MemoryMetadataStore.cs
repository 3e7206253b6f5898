using System.Diagnostics.CodeAnalysis;

namespace StorageAppliance.Metadata;

/// <summary>
/// An in-memory <see cref="IMetadataStore"/> with the semantics of <see cref="SqliteMetadataStore"/>, for engine
/// tests that simulate crashes: what Commit returned from is "on disk" and survives <see cref="Reopen"/>; a batch
/// that fails leaves nothing behind. Faults: <see cref="FailNextCommit"/> (a transient failure, e.g. a full disk)
/// and <see cref="CutPowerAtCommit"/> / <see cref="CutPower"/> (every later call fails until <see cref="Reopen"/>).
/// </summary>
/// <remarks>Reads take a shared lock and a commit an exclusive one, so a read sees all or none of a batch.</remarks>
public sealed class MemoryMetadataStore : IMetadataStore
{
    private readonly State _s;
    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    private readonly object _idLock = new();
    private int _failAfterOps = -1;
    private int _commitsBeforeCut = -1;
    private string? _powerOff;
    private bool _disposed;

    /// <param name="applianceId">The appliance id; a random non-zero one if null.</param>
    public MemoryMetadataStore(long? applianceId = null)
    {
        if (applianceId == 0)
            throw new ArgumentOutOfRangeException(nameof(applianceId), "an appliance id is never 0");
        long id = applianceId ?? 0;
        while (id == 0)
            id = Random.Shared.NextInt64(long.MinValue, long.MaxValue);
        _s = new State(id);
    }

    private MemoryMetadataStore(State state) => _s = state;

    public long ApplianceId => _s.ApplianceId;

    public long DrainedSequence
    {
        get
        {
            EnterRead();
            try
            {
                return _s.Drained;
            }
            finally
            {
                _lock.ExitReadLock();
            }
        }
    }

    /// <summary>Batches committed by this instance.</summary>
    public int CommitCount { get; private set; }

    /// <summary>True after a simulated power cut, until the store is reopened.</summary>
    public bool PowerIsOff => _powerOff is not null;

    /// <summary>
    /// The next non-empty Commit applies <paramref name="afterOps"/> of its ops (or all of them), then fails with a
    /// <see cref="MetadataException"/> and undoes them: as a full disk would, nothing of the batch remains.
    /// </summary>
    public void FailNextCommit(int afterOps = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(afterOps);
        Volatile.Write(ref _failAfterOps, afterOps);
    }

    /// <summary>
    /// The power goes off at the <paramref name="commitsFromNow"/>-th next non-empty Commit (0: the very next one),
    /// which fails with nothing applied; every later call fails too, until <see cref="Reopen"/>.
    /// </summary>
    public void CutPowerAtCommit(int commitsFromNow = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(commitsFromNow);
        _lock.EnterWriteLock();
        _commitsBeforeCut = commitsFromNow;
        _lock.ExitWriteLock();
    }

    /// <summary>The power goes off now: every later call on this instance throws <see cref="MetadataException"/>.</summary>
    public void CutPower()
    {
        _lock.EnterWriteLock();
        _powerOff ??= "simulated power cut";
        _lock.ExitWriteLock();
    }

    /// <summary>
    /// The store as a restarted process would open it: a new instance over what was committed. This instance
    /// stops working (as a crashed process would), so an engine still holding it cannot change the new one.
    /// </summary>
    public MemoryMetadataStore Reopen()
    {
        lock (_idLock)
        {
            _lock.EnterWriteLock();
            try
            {
                _powerOff ??= "the store was reopened; this instance is gone";
                return new MemoryMetadataStore(_s.Clone());
            }
            finally
            {
                _lock.ExitWriteLock();
            }
        }
    }

    public long AllocateIds(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        lock (_idLock)
        {
            EnterRead(); // fails on a closed or powered-off store
            _lock.ExitReadLock();
            long first = _s.NextId;
            _s.NextId = checked(first + count);
            return first;
        }
    }

    public void Commit(MetadataBatch batch)
    {
        BatchValidator.Validate(batch);
        IReadOnlyList<MetadataOp> ops = batch.Ops;
        if (ops.Count == 0)
            return;

        _lock.EnterWriteLock();
        try
        {
            ThrowIfUnusable();
            if (_commitsBeforeCut == 0)
            {
                _commitsBeforeCut = -1;
                _powerOff = "simulated power cut during a commit";
                throw new MetadataException($"memory metadata store: {_powerOff}; nothing of the batch was applied");
            }
            if (_commitsBeforeCut > 0)
                _commitsBeforeCut--;

            int failAfter = Interlocked.Exchange(ref _failAfterOps, -1);
            var undo = new List<Action>(ops.Count);
            try
            {
                for (int i = 0; i < ops.Count; i++)
                {
                    if (i == failAfter)
                        throw new MetadataException($"memory metadata store: injected failure after {i} ops");
                    Apply(ops[i], undo);
                }
                if (failAfter >= ops.Count)
                    throw new MetadataException($"memory metadata store: injected failure after {ops.Count} ops");
            }
            catch
            {
                for (int i = undo.Count - 1; i >= 0; i--)
                    undo[i]();
                throw;
            }
            CommitCount++;
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    public IReadOnlyList<PoolRecord> Pools() => Sorted(_s.Pools);

    public IReadOnlyList<DiskRecord> Disks() => Sorted(_s.Disks);

    public IReadOnlyList<ContainerRecord> Containers() => Sorted(_s.Containers);

    public IReadOnlyList<VDiskRecord> VDisks() => Sorted(_s.VDisks);

    public IReadOnlyList<EgroupRecord> Egroups() => Sorted(_s.Egroups);

    public IReadOnlyList<ExtentRecord> Extents()
    {
        EnterRead();
        try
        {
            var list = new List<ExtentRecord>(_s.Extents.Values);
            list.Sort(static (a, b) => a.EgroupId != b.EgroupId ? a.EgroupId.CompareTo(b.EgroupId) : a.Slot.CompareTo(b.Slot));
            return list;
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    public IReadOnlyList<DedupExtentRecord> DedupExtents()
    {
        EnterRead();
        try
        {
            return new List<DedupExtentRecord>(_s.DedupExtents.Values);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    public bool TryGetBlock(long vdiskId, long block, [MaybeNullWhen(false)] out BlockRecord record)
    {
        EnterRead();
        try
        {
            if (_s.Blocks.TryGetValue(vdiskId, out SortedDictionary<long, BlockRecord>? map) && map.TryGetValue(block, out record))
                return true;
            record = null;
            return false;
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    public IReadOnlyList<BlockRecord> Blocks(long vdiskId)
    {
        EnterRead();
        try
        {
            return _s.Blocks.TryGetValue(vdiskId, out SortedDictionary<long, BlockRecord>? map)
                ? new List<BlockRecord>(map.Values)
                : new List<BlockRecord>();
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    public bool TryGetExtentId(ReadOnlySpan<byte> extentId, out long egroupId)
    {
        EnterRead();
        try
        {
            return _s.ExtentIds.TryGetValue(Convert.ToHexString(extentId), out egroupId);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    public byte[]? GetValue(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        EnterRead();
        try
        {
            return _s.Values.TryGetValue(key, out byte[]? value) ? value.AsSpan().ToArray() : null;
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <summary>Closes this instance; what it committed stays available to <see cref="Reopen"/>.</summary>
    public void Dispose()
    {
        _lock.EnterWriteLock();
        _disposed = true;
        _lock.ExitWriteLock();
    }

    private void Apply(MetadataOp op, List<Action> undo)
    {
        State s = _s;
        switch (op)
        {
            case MetadataOp.PutPool p:
                Put(s.Pools, p.Pool.Id, p.Pool, undo);
                break;
            case MetadataOp.PutDisk d:
                Put(s.Disks, d.Disk.Id, d.Disk, undo);
                break;
            case MetadataOp.PutContainer c:
                Put(s.Containers, c.Container.Id, c.Container, undo);
                break;
            case MetadataOp.PutVDisk v:
                Put(s.VDisks, v.VDisk.Id, v.VDisk, undo);
                break;
            case MetadataOp.DeleteVDisk d:
                Delete(s.VDisks, d.VDiskId, undo);
                break;
            case MetadataOp.PutEgroup e:
                Put(s.Egroups, e.Egroup.Id, e.Egroup, undo);
                break;
            case MetadataOp.DeleteEgroup d:
                Delete(s.Egroups, d.EgroupId, undo);
                break;
            case MetadataOp.PutExtent x:
                Put(s.Extents, (x.Extent.EgroupId, x.Extent.Slot), x.Extent, undo);
                break;
            case MetadataOp.DeleteExtent d:
                Delete(s.Extents, (d.EgroupId, d.Slot), undo);
                break;
            case MetadataOp.PutExtentId p:
                Put(s.ExtentIds, Convert.ToHexString(p.ExtentId), p.EgroupId, undo);
                break;
            case MetadataOp.DeleteExtentId d:
                Delete(s.ExtentIds, Convert.ToHexString(d.ExtentId), undo);
                break;
            case MetadataOp.PutDedupExtent x:
                Put(s.DedupExtents, $"{x.Extent.ContainerId}:{Convert.ToHexString(x.Extent.ExtentId)}", x.Extent with { ExtentId = x.Extent.ExtentId.AsSpan().ToArray() }, undo);
                break;
            case MetadataOp.DeleteDedupExtent d:
                Delete(s.DedupExtents, $"{d.ContainerId}:{Convert.ToHexString(d.ExtentId)}", undo);
                break;
            case MetadataOp.PutBlock b:
                if (!s.Blocks.TryGetValue(b.Block.VDiskId, out SortedDictionary<long, BlockRecord>? map))
                {
                    map = new SortedDictionary<long, BlockRecord>();
                    s.Blocks.Add(b.Block.VDiskId, map);
                }
                Put(map, b.Block.Block, b.Block, undo);
                break;
            case MetadataOp.DeleteBlock d:
                if (s.Blocks.TryGetValue(d.VDiskId, out SortedDictionary<long, BlockRecord>? blocks))
                    Delete(blocks, d.Block, undo);
                break;
            case MetadataOp.SetDrainedSequence d:
                long old = s.Drained;
                s.Drained = d.Sequence;
                undo.Add(() => s.Drained = old);
                break;
            case MetadataOp.PutValue p:
                Put(s.Values, p.Key, p.Value.AsSpan().ToArray(), undo); // a copy: the caller may reuse its array
                break;
            case MetadataOp.DeleteValue d:
                Delete(s.Values, d.Key, undo);
                break;
            default:
                throw new ArgumentException($"unknown metadata op {op.GetType().Name}", nameof(op));
        }
    }

    private static void Put<TKey, TValue>(IDictionary<TKey, TValue> map, TKey key, TValue value, List<Action> undo)
        where TKey : notnull
    {
        if (map.TryGetValue(key, out TValue? old))
            undo.Add(() => map[key] = old);
        else
            undo.Add(() => map.Remove(key));
        map[key] = value;
    }

    private static void Delete<TKey, TValue>(IDictionary<TKey, TValue> map, TKey key, List<Action> undo)
        where TKey : notnull
    {
        if (map.Remove(key, out TValue? old))
            undo.Add(() => map[key] = old);
    }

    private List<T> Sorted<T>(Dictionary<long, T> map)
    {
        EnterRead();
        try
        {
            var keys = new List<long>(map.Keys);
            keys.Sort();
            var list = new List<T>(keys.Count);
            foreach (long key in keys)
                list.Add(map[key]);
            return list;
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    private void EnterRead()
    {
        _lock.EnterReadLock();
        try
        {
            ThrowIfUnusable();
        }
        catch
        {
            _lock.ExitReadLock();
            throw;
        }
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_powerOff is not null)
            throw new MetadataException($"memory metadata store: {_powerOff}");
    }

    /// <summary>What a file would hold: everything committed, and the id counter.</summary>
    private sealed class State(long applianceId)
    {
        public long ApplianceId { get; } = applianceId;
        public long Drained;
        public long NextId = 1;
        public Dictionary<long, PoolRecord> Pools = new();
        public Dictionary<long, DiskRecord> Disks = new();
        public Dictionary<long, ContainerRecord> Containers = new();
        public Dictionary<long, VDiskRecord> VDisks = new();
        public Dictionary<long, EgroupRecord> Egroups = new();
        public Dictionary<(long EgroupId, int Slot), ExtentRecord> Extents = new();
        public Dictionary<long, SortedDictionary<long, BlockRecord>> Blocks = new();
        public Dictionary<string, long> ExtentIds = new(StringComparer.Ordinal);
        public Dictionary<string, DedupExtentRecord> DedupExtents = new(StringComparer.Ordinal);
        public Dictionary<string, byte[]> Values = new(StringComparer.Ordinal);

        public State Clone()
        {
            var copy = new State(ApplianceId)
            {
                Drained = Drained,
                NextId = NextId,
                Pools = new(Pools),
                Disks = new(Disks),
                Containers = new(Containers),
                VDisks = new(VDisks),
                Egroups = new(Egroups),
                Extents = new(Extents),
                ExtentIds = new(ExtentIds, StringComparer.Ordinal),
                DedupExtents = new(DedupExtents, StringComparer.Ordinal),
                Values = new(Values, StringComparer.Ordinal), // values are never mutated in place
            };
            foreach (KeyValuePair<long, SortedDictionary<long, BlockRecord>> vdisk in Blocks)
                copy.Blocks.Add(vdisk.Key, new SortedDictionary<long, BlockRecord>(vdisk.Value));
            return copy;
        }
    }
}
