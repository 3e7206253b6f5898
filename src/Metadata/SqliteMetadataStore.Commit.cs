using Microsoft.Extensions.Logging;
using SQLitePCL;

namespace StorageAppliance.Metadata;

public sealed partial class SqliteMetadataStore
{
    /// <summary>
    /// Applies the batch in order in one IMMEDIATE transaction on the writer connection; on return it is in the
    /// fsynced WAL. On failure nothing of it is applied and a <see cref="MetadataException"/> says why.
    /// </summary>
    public void Commit(MetadataBatch batch)
    {
        BatchValidator.Validate(batch);
        IReadOnlyList<MetadataOp> ops = batch.Ops;
        if (ops.Count == 0)
            return;

        lock (_writeLock)
        {
            ThrowIfDisposed();
            if (_writesStopped is not null)
                throw new MetadataException($"metadata store {_path}: commits stopped after an earlier failure; reopen the store ({_writesStopped.Message})", _writesStopped);

            long drained = _drained;
            int failAfter = FailNextCommitAfterOps;
            FailNextCommitAfterOps = -1;
            // Odd generation: a commit is running, so no reader reuses a snapshot; idle readers let theirs go.
            Interlocked.Increment(ref _generation);
            ReleaseIdleSnapshots();
            try
            {
                _w.Begin.Run();
                for (int i = 0; i < ops.Count; i++)
                {
                    if (i == failAfter)
                        throw new MetadataException($"metadata store {_path}: injected failure after {i} ops");
                    Apply(ops[i], ref drained);
                }
                if (failAfter >= ops.Count)
                    throw new MetadataException($"metadata store {_path}: injected failure after {ops.Count} ops");
                BeforeTransactionCommit?.Invoke();
                _w.CommitTx.Run();
                Volatile.Write(ref _drained, drained);
            }
            catch (MetadataException e)
            {
                RollBack(e);
                MetadataLog.CommitFailed(_log, _path, ops.Count, e);
                throw;
            }
            catch (Exception e)
            {
                RollBack(null);
                MetadataLog.CommitFailed(_log, _path, ops.Count, e);
                throw;
            }
            finally
            {
                Interlocked.Increment(ref _generation);
            }
        }
    }

    public long AllocateIds(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        lock (_idLock)
        {
            if (count > _reservedEnd - _nextId)
            {
                long end = checked(_nextId + Math.Max(count, IdRange));
                lock (_writeLock)
                {
                    ThrowIfDisposed();
                    try
                    {
                        _w.Begin.Run();
                        SetMeta(SqliteSchema.NextIdKey, end);
                        _w.CommitTx.Run();
                    }
                    catch (MetadataException e)
                    {
                        RollBack(e);
                        throw;
                    }
                }
                // Ids of a range not handed out before a restart are skipped, never reused.
                _reservedEnd = end;
            }
            long first = _nextId;
            _nextId += count;
            return first;
        }
    }

    private void Apply(MetadataOp op, ref long drained)
    {
        WriteStatements w = _w;
        SqliteStatement s;
        switch (op)
        {
            case MetadataOp.PutBlock { Block: var b }:
                s = w.PutBlock;
                s.Bind(1, b.VDiskId);
                s.Bind(2, b.Block);
                s.Bind(3, b.EgroupId);
                s.Bind(4, b.Slot);
                if (b.Extents is null)
                    s.BindNull(5);
                else
                    s.BindBlob(5, b.Extents);
                break;
            case MetadataOp.PutDedupExtent { Extent: var x }:
                s = w.PutDedupExtent;
                s.Bind(1, x.ContainerId);
                s.BindBlob(2, x.ExtentId);
                s.Bind(3, x.EgroupId);
                s.Bind(4, x.Slot);
                s.Bind(5, x.Offset);
                s.Bind(6, x.StoredLength);
                s.Bind(7, x.Encoding.Encoding);
                s.Bind(8, x.Encoding.Codec);
                s.Bind(9, x.RefCount);
                break;
            case MetadataOp.DeleteDedupExtent d:
                s = w.DeleteDedupExtent;
                s.Bind(1, d.ContainerId);
                s.BindBlob(2, d.ExtentId);
                break;
            case MetadataOp.DeleteBlock d:
                s = w.DeleteBlock;
                s.Bind(1, d.VDiskId);
                s.Bind(2, d.Block);
                break;
            case MetadataOp.PutExtent { Extent: var x }:
                s = w.PutExtent;
                s.Bind(1, x.EgroupId);
                s.Bind(2, x.Slot);
                s.Bind(3, x.OwnerVDiskId);
                s.Bind(4, x.Block);
                s.Bind(5, x.RefCount);
                break;
            case MetadataOp.DeleteExtent d:
                s = w.DeleteExtent;
                s.Bind(1, d.EgroupId);
                s.Bind(2, d.Slot);
                break;
            case MetadataOp.PutEgroup { Egroup: var e }:
                s = w.PutEgroup;
                s.Bind(1, e.Id);
                s.Bind(2, e.ContainerId);
                s.Bind(3, e.DiskId);
                s.Bind(4, e.OwnerVDiskId);
                s.Bind(5, e.SlotSize);
                s.Bind(6, e.SlotCount);
                s.Bind(7, e.DiskOffset);
                s.Bind(8, e.CreatedUnixMs);
                break;
            case MetadataOp.DeleteEgroup d:
                s = w.DeleteEgroup;
                s.Bind(1, d.EgroupId);
                break;
            case MetadataOp.PutExtentId p:
                s = w.PutExtentId;
                s.BindBlob(1, p.ExtentId);
                s.Bind(2, p.EgroupId);
                break;
            case MetadataOp.DeleteExtentId d:
                s = w.DeleteExtentId;
                s.BindBlob(1, d.ExtentId);
                break;
            case MetadataOp.SetDrainedSequence d:
                SetMeta(SqliteSchema.DrainedSequenceKey, d.Sequence);
                drained = d.Sequence;
                return;
            case MetadataOp.PutValue p:
                s = w.PutValue;
                s.Bind(1, p.Key);
                s.BindBlob(2, p.Value);
                break;
            case MetadataOp.DeleteValue d:
                s = w.DeleteValue;
                s.Bind(1, d.Key);
                break;
            case MetadataOp.PutVDisk { VDisk: var v }:
                s = w.PutVDisk;
                s.Bind(1, v.Id);
                s.Bind(2, v.Name);
                s.Bind(3, v.ContainerId);
                s.Bind(4, v.CapacityBytes);
                s.Bind(5, v.LogicalBlockSize);
                s.Bind(6, v.Thin ? 1 : 0);
                s.Bind(7, (long)v.State);
                s.Bind(8, v.CreatedUnixMs);
                break;
            case MetadataOp.DeleteVDisk d:
                s = w.DeleteVDisk;
                s.Bind(1, d.VDiskId);
                break;
            case MetadataOp.PutContainer { Container: var c }:
                s = w.PutContainer;
                s.Bind(1, c.Id);
                s.Bind(2, c.Name);
                s.Bind(3, c.PoolId);
                s.Bind(4, c.ReplicationFactor);
                s.Bind(5, c.MaxCapacityBytes);
                s.Bind(6, c.ReservedCapacityBytes);
                s.Bind(7, c.VDiskBlockSize);
                s.Bind(8, c.ExtentGroupSize);
                break;
            case MetadataOp.PutDisk { Disk: var k }:
                s = w.PutDisk;
                s.Bind(1, k.Id);
                s.Bind(2, k.PoolId);
                s.Bind(3, k.Path);
                s.Bind(4, (long)k.Tier);
                s.Bind(5, k.CapacityBytes);
                break;
            case MetadataOp.PutPool { Pool: var p }:
                s = w.PutPool;
                s.Bind(1, p.Id);
                s.Bind(2, p.Name);
                break;
            default:
                throw new ArgumentException($"unknown metadata op {op.GetType().Name}", nameof(op)); // BatchValidator rejects it first
        }
        s.Run();
    }

    private void SetMeta(string key, long value)
    {
        SqliteStatement s = _w.SetMeta;
        s.Bind(1, key);
        s.Bind(2, value);
        s.Run();
    }

    /// <summary>Ends the failed transaction, if SQLite has not already; stops commits after an I/O error or corruption.</summary>
    private void RollBack(MetadataException? cause)
    {
        if (raw.sqlite3_get_autocommit(_writer.Handle!) == 0)
        {
            try
            {
                _w.Rollback.Run();
            }
            catch (MetadataException e)
            {
                StopWrites(e);
                return;
            }
        }
        if (cause is not null && SqliteErrors.StopsWrites(cause))
            StopWrites(cause);
    }

    private void StopWrites(MetadataException cause)
    {
        if (_writesStopped is not null)
            return;
        _writesStopped = cause;
        MetadataLog.WritesStopped(_log, _path, cause);
    }

    /// <summary>The writer's statements, prepared once when the store opens.</summary>
    private sealed class WriteStatements(sqlite3 db, string path) : IDisposable
    {
        public readonly SqliteStatement Begin = new(db, path, "BEGIN IMMEDIATE", "begin a transaction");
        public readonly SqliteStatement CommitTx = new(db, path, "COMMIT", "commit a transaction");
        public readonly SqliteStatement Rollback = new(db, path, "ROLLBACK", "roll back a transaction");
        public readonly SqliteStatement SetMeta = new(db, path, "UPDATE meta SET value = ?2 WHERE key = ?1", "write a meta value");
        public readonly SqliteStatement PutPool = new(db, path, "INSERT OR REPLACE INTO pools (id, name) VALUES (?1, ?2)", "write a pool");
        public readonly SqliteStatement PutDisk = new(db, path,
            "INSERT OR REPLACE INTO disks (id, pool_id, path, tier, capacity_bytes) VALUES (?1, ?2, ?3, ?4, ?5)", "write a disk");
        public readonly SqliteStatement PutContainer = new(db, path,
            "INSERT OR REPLACE INTO containers (id, name, pool_id, replication_factor, max_capacity_bytes, reserved_capacity_bytes, " +
            "vdisk_block_size, extent_group_size) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", "write a container");
        public readonly SqliteStatement PutVDisk = new(db, path,
            "INSERT OR REPLACE INTO vdisks (id, name, container_id, capacity_bytes, logical_block_size, thin, state, created_unix_ms) " +
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", "write a vDisk");
        public readonly SqliteStatement DeleteVDisk = new(db, path, "DELETE FROM vdisks WHERE id = ?1", "delete a vDisk");
        public readonly SqliteStatement PutEgroup = new(db, path,
            "INSERT OR REPLACE INTO egroups (id, container_id, disk_id, owner_vdisk_id, slot_size, slot_count, disk_offset, created_unix_ms) " +
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", "write an extent group map row");
        public readonly SqliteStatement DeleteEgroup = new(db, path, "DELETE FROM egroups WHERE id = ?1", "delete an extent group map row");
        public readonly SqliteStatement PutExtent = new(db, path,
            "INSERT OR REPLACE INTO extents (egroup_id, slot, owner_vdisk_id, block, ref_count) VALUES (?1, ?2, ?3, ?4, ?5)", "write an extent");
        public readonly SqliteStatement DeleteExtent = new(db, path, "DELETE FROM extents WHERE egroup_id = ?1 AND slot = ?2", "delete an extent");
        public readonly SqliteStatement PutExtentId = new(db, path,
            "INSERT OR REPLACE INTO extent_ids (extent_id, egroup_id) VALUES (?1, ?2)", "write an extent id map row");
        public readonly SqliteStatement DeleteExtentId = new(db, path, "DELETE FROM extent_ids WHERE extent_id = ?1", "delete an extent id map row");
        public readonly SqliteStatement PutDedupExtent = new(db, path,
            "INSERT OR REPLACE INTO dedup_extents (container_id, extent_id, egroup_id, slot, offset, stored_length, encoding, codec, ref_count) " +
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", "write a deduplicated extent");
        public readonly SqliteStatement DeleteDedupExtent = new(db, path, "DELETE FROM dedup_extents WHERE container_id = ?1 AND extent_id = ?2",
            "delete a deduplicated extent");
        public readonly SqliteStatement PutBlock = new(db, path,
            "INSERT OR REPLACE INTO blocks (vdisk_id, block, egroup_id, slot, extents) VALUES (?1, ?2, ?3, ?4, ?5)", "write a vDisk map row");
        public readonly SqliteStatement DeleteBlock = new(db, path, "DELETE FROM blocks WHERE vdisk_id = ?1 AND block = ?2", "delete a vDisk map row");
        public readonly SqliteStatement PutValue = new(db, path, "INSERT OR REPLACE INTO kv (key, value) VALUES (?1, ?2)", "write a named value");
        public readonly SqliteStatement DeleteValue = new(db, path, "DELETE FROM kv WHERE key = ?1", "delete a named value");

        public void Dispose()
        {
            foreach (SqliteStatement s in new[] { Begin, CommitTx, Rollback, SetMeta, PutPool, PutDisk, PutContainer, PutVDisk, DeleteVDisk,
                PutEgroup, DeleteEgroup, PutExtent, DeleteExtent, PutExtentId, DeleteExtentId, PutDedupExtent, DeleteDedupExtent, PutBlock, DeleteBlock, PutValue, DeleteValue })
                s.Dispose();
        }
    }
}
