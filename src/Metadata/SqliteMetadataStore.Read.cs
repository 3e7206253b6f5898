using Microsoft.Data.Sqlite;
using SQLitePCL;
using System.Diagnostics.CodeAnalysis;

namespace StorageAppliance.Metadata;

public sealed partial class SqliteMetadataStore
{
    public bool TryGetBlock(long vdiskId, long block, [MaybeNullWhen(false)] out BlockRecord record)
    {
        ReadConnection r = RentReader();
        SqliteStatement s = r.GetBlock;
        bool ok = false;
        try
        {
            s.Bind(1, vdiskId);
            s.Bind(2, block);
            bool found = s.Step();
            record = found ? new BlockRecord(vdiskId, block, s.Int64(0), s.Int32(1), s.IsNull(2) ? null : s.Blob(2)) : null;
            ok = true;
            return found;
        }
        finally
        {
            s.Reset();
            ReturnReader(r, ok);
        }
    }

    public IReadOnlyList<BlockRecord> Blocks(long vdiskId)
    {
        ReadConnection r = RentReader();
        SqliteStatement s = r.Blocks;
        bool ok = false;
        try
        {
            s.Bind(1, vdiskId);
            var list = new List<BlockRecord>();
            while (s.Step())
                list.Add(new BlockRecord(vdiskId, s.Int64(0), s.Int64(1), s.Int32(2), s.IsNull(3) ? null : s.Blob(3)));
            ok = true;
            return list;
        }
        finally
        {
            s.Reset();
            ReturnReader(r, ok);
        }
    }

    public bool TryGetExtentId(ReadOnlySpan<byte> extentId, out long egroupId)
    {
        ReadConnection r = RentReader();
        SqliteStatement s = r.GetExtentId;
        bool ok = false;
        try
        {
            s.BindBlob(1, extentId);
            bool found = s.Step();
            egroupId = found ? s.Int64(0) : 0;
            ok = true;
            return found;
        }
        finally
        {
            s.Reset();
            ReturnReader(r, ok);
        }
    }

    public byte[]? GetValue(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        ReadConnection r = RentReader();
        SqliteStatement s = r.GetValue;
        bool ok = false;
        try
        {
            s.Bind(1, key);
            byte[]? value = s.Step() ? s.Blob(0) : null;
            ok = true;
            return value;
        }
        finally
        {
            s.Reset();
            ReturnReader(r, ok);
        }
    }

    public IReadOnlyList<PoolRecord> Pools() => ReadAll(static r => r.Pools, static s => new PoolRecord(s.Int64(0), s.Text(1)));

    public IReadOnlyList<DiskRecord> Disks() => ReadAll(static r => r.Disks,
        static s => new DiskRecord(s.Int64(0), s.Int64(1), s.Text(2), (StorageTier)s.Int32(3), s.Int64(4)));

    public IReadOnlyList<ContainerRecord> Containers() => ReadAll(static r => r.Containers,
        static s => new ContainerRecord(s.Int64(0), s.Text(1), s.Int64(2), s.Int32(3), s.Int64(4), s.Int64(5), s.Int32(6), s.Int64(7)));

    public IReadOnlyList<VDiskRecord> VDisks() => ReadAll(static r => r.VDisks,
        static s => new VDiskRecord(s.Int64(0), s.Text(1), s.Int64(2), s.Int64(3), s.Int32(4), s.Int32(5) != 0, (VDiskState)s.Int32(6), s.Int64(7)));

    public IReadOnlyList<EgroupRecord> Egroups() => ReadAll(static r => r.Egroups,
        static s => new EgroupRecord(s.Int64(0), s.Int64(1), s.Int64(2), s.Int64(3), s.Int32(4), s.Int32(5), s.Int64(6), s.Int64(7)));

    public IReadOnlyList<ExtentRecord> Extents() => ReadAll(static r => r.Extents,
        static s => new ExtentRecord(s.Int64(0), s.Int32(1), s.Int64(2), s.Int64(3), s.Int32(4)));

    public IReadOnlyList<DedupExtentRecord> DedupExtents() => ReadAll(static r => r.DedupExtents,
        static s => new DedupExtentRecord(s.Int64(0), s.Blob(1), s.Int64(2), s.Int32(3), s.Int32(4), s.Int32(5), new DedupEncoding((byte)s.Int32(6), (byte)s.Int32(7)), s.Int64(8)));

    private List<T> ReadAll<T>(Func<ReadConnection, SqliteStatement> statement, Func<SqliteStatement, T> row)
    {
        ReadConnection r = RentReader();
        SqliteStatement s = statement(r);
        bool ok = false;
        try
        {
            var list = new List<T>();
            while (s.Step())
                list.Add(row(s));
            ok = true;
            return list;
        }
        finally
        {
            s.Reset();
            ReturnReader(r, ok);
        }
    }

    // Readers come from a small lock-free pool of idle connections; one is opened when none is idle, and one
    // that finds the pool full is closed. No allocation when a reader is idle.
    //
    // Snapshot reuse: a reader keeps its read transaction open between uses, tagged with the commit generation
    // it was begun at, and reuses it while the generation is unchanged and even, i.e. while no commit has started
    // since. A commit makes the generation odd before its COMMIT and even again after it, so a read that starts
    // after Commit returned never reuses an older snapshot, and snapshots in use only ever move forward.
    private ReadConnection RentReader()
    {
        ThrowIfDisposed();
        ReadConnection?[] idle = _idleReaders;
        ReadConnection? r = null;
        for (int i = 0; i < idle.Length && r is null; i++)
        {
            if (Volatile.Read(ref idle[i]) is not null)
                r = Interlocked.Exchange(ref idle[i], null);
        }
        r ??= new ReadConnection(_path);

        long generation = Volatile.Read(ref _generation);
        if (r.Snapshot != generation || (generation & 1) != 0)
        {
            try
            {
                r.EndSnapshot();
                if ((generation & 1) == 0)
                    r.BeginSnapshot(generation); // else: one statement, one snapshot, as without reuse
            }
            catch
            {
                r.Dispose();
                throw;
            }
        }
        return r;
    }

    private void ReturnReader(ReadConnection reader, bool ok)
    {
        if (!ok)
        {
            // After an error the connection's state is unknown: do not pool it.
            reader.Dispose();
            return;
        }
        if (reader.Snapshot >= 0 && reader.Snapshot != Volatile.Read(ref _generation) && !TryEndSnapshot(reader))
            return;
        Pool(reader);
    }

    private void Pool(ReadConnection reader)
    {
        ReadConnection?[] idle = _idleReaders;
        for (int i = 0; i < idle.Length; i++)
        {
            if (Interlocked.CompareExchange(ref idle[i], reader, null) is null)
            {
                // Dispose may have swept the pool while this reader was out.
                if (_disposed)
                    Interlocked.Exchange(ref idle[i], null)?.Dispose();
                return;
            }
        }
        reader.Dispose();
    }

    /// <summary>
    /// Ends the read transactions of idle readers when a commit starts, so that old snapshots do not hold back
    /// the checkpoint or the restart of the WAL. Readers in use end theirs when they come back.
    /// </summary>
    private void ReleaseIdleSnapshots()
    {
        ReadConnection?[] idle = _idleReaders;
        for (int i = 0; i < idle.Length; i++)
        {
            if (Volatile.Read(ref idle[i]) is not { Snapshot: >= 0 })
                continue;
            ReadConnection? r = Interlocked.Exchange(ref idle[i], null);
            if (r is not null && TryEndSnapshot(r))
                Pool(r);
        }
    }

    private static bool TryEndSnapshot(ReadConnection reader)
    {
        try
        {
            reader.EndSnapshot();
            return true;
        }
        catch (MetadataException)
        {
            reader.Dispose();
            return false;
        }
    }

    /// <summary>A read-only connection with its statements, used by one thread at a time.</summary>
    private sealed class ReadConnection : IDisposable
    {
        private readonly SqliteConnection _connection;
        private readonly List<SqliteStatement> _all = new();
        private readonly SqliteStatement _begin = null!;
        private readonly SqliteStatement _end = null!;

        public ReadConnection(string path)
        {
            try
            {
                _connection = OpenConnection(path, SqliteOpenMode.ReadWrite);
                SqliteSchema.Execute(_connection, null, "PRAGMA query_only = 1");
                SetBusyTimeout(_connection, DefaultBusyTimeoutMs);
            }
            catch (SqliteException e)
            {
                _connection?.Dispose();
                throw SqliteErrors.From(path, "open a reader connection", e);
            }

            sqlite3 db = _connection.Handle!;
            try
            {
                _begin = Add(new(db, path, "BEGIN", "begin a read transaction"));
                _end = Add(new(db, path, "COMMIT", "end a read transaction"));
                GetBlock = Add(new(db, path, "SELECT egroup_id, slot, extents FROM blocks WHERE vdisk_id = ?1 AND block = ?2", "read a vDisk map row"));
                Blocks = Add(new(db, path, "SELECT block, egroup_id, slot, extents FROM blocks WHERE vdisk_id = ?1 ORDER BY block", "read a vDisk map"));
                GetExtentId = Add(new(db, path, "SELECT egroup_id FROM extent_ids WHERE extent_id = ?1", "read an extent id map row"));
                GetValue = Add(new(db, path, "SELECT value FROM kv WHERE key = ?1", "read a named value"));
                Pools = Add(new(db, path, "SELECT id, name FROM pools ORDER BY id", "read the pools"));
                Disks = Add(new(db, path, "SELECT id, pool_id, path, tier, capacity_bytes FROM disks ORDER BY id", "read the disks"));
                Containers = Add(new(db, path,
                    "SELECT id, name, pool_id, replication_factor, max_capacity_bytes, reserved_capacity_bytes, vdisk_block_size, extent_group_size " +
                    "FROM containers ORDER BY id", "read the containers"));
                VDisks = Add(new(db, path,
                    "SELECT id, name, container_id, capacity_bytes, logical_block_size, thin, state, created_unix_ms FROM vdisks ORDER BY id",
                    "read the vDisks"));
                Egroups = Add(new(db, path,
                    "SELECT id, container_id, disk_id, owner_vdisk_id, slot_size, slot_count, disk_offset, created_unix_ms FROM egroups ORDER BY id",
                    "read the extent group map"));
                Extents = Add(new(db, path,
                    "SELECT egroup_id, slot, owner_vdisk_id, block, ref_count FROM extents ORDER BY egroup_id, slot", "read the extents"));
                DedupExtents = Add(new(db, path,
                    "SELECT container_id, extent_id, egroup_id, slot, offset, stored_length, encoding, codec, ref_count FROM dedup_extents",
                    "read the deduplicated extents"));
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        /// <summary>The commit generation its open read transaction was begun at, or -1 when none is open.</summary>
        public long Snapshot { get; private set; } = -1;

        /// <summary>Opens a read transaction: the next statement fixes its snapshot, and later ones share it.</summary>
        public void BeginSnapshot(long generation)
        {
            _begin.Run();
            Snapshot = generation;
        }

        public void EndSnapshot()
        {
            if (Snapshot < 0)
                return;
            Snapshot = -1;
            _end.Run();
        }

        public SqliteStatement GetBlock { get; } = null!;
        public SqliteStatement Blocks { get; } = null!;
        public SqliteStatement GetExtentId { get; } = null!;
        public SqliteStatement GetValue { get; } = null!;
        public SqliteStatement Pools { get; } = null!;
        public SqliteStatement Disks { get; } = null!;
        public SqliteStatement Containers { get; } = null!;
        public SqliteStatement VDisks { get; } = null!;
        public SqliteStatement Egroups { get; } = null!;
        public SqliteStatement Extents { get; } = null!;
        public SqliteStatement DedupExtents { get; } = null!;

        public void Dispose()
        {
            foreach (SqliteStatement s in _all)
                s.Dispose();
            _connection.Dispose();
        }

        private SqliteStatement Add(SqliteStatement s)
        {
            _all.Add(s);
            return s;
        }
    }
}
