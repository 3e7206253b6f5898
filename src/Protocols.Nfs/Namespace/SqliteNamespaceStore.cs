using Microsoft.Data.Sqlite;
using StorageAppliance.Protocols.Nfs.Nfs3;

namespace StorageAppliance.Protocols.Nfs.Namespace;

/// <summary>
/// The namespace in its own SQLite database (<c>&lt;data_dir&gt;/nfs-namespace.db</c>), WAL with
/// synchronous=FULL: every <see cref="Commit"/> is one transaction, durable when it returns.
/// <code>
/// nodes(id PK, generation, export_id, type, mode, uid, gid, nlink, size, rdev_major, rdev_minor,
///       atime, mtime, ctime, parent, verifier, target)          -- one row per object
/// entries(cookie PK AUTOINCREMENT, dir, name, child)             -- UNIQUE(dir, name); the cookie orders
///                                                                   READDIR and never changes or is reused
/// exports(path PK, root)
/// file_data(id PK)                                               -- regular files whose data vDisk exists
///                                                                   (NodeRecord.HasData); rows of deleted
///                                                                   nodes are dropped at open
/// </code>
/// READDIR cookies 1 and 2 are "." and ".."; an entry's cookie is its row id + 2.
/// </summary>
public sealed class SqliteNamespaceStore : INamespaceStore
{
    private const ulong CookieBase = 2;

    private readonly object _lock = new();
    private readonly SqliteConnection _db;
    private readonly SqliteCommand _load;
    private readonly SqliteCommand _lookup;
    private readonly SqliteCommand _hasEntries;
    private readonly SqliteCommand _list;
    private readonly SqliteCommand _put;
    private readonly SqliteCommand _delete;
    private readonly SqliteCommand _deleteEntriesOf;
    private readonly SqliteCommand _addEntry;
    private readonly SqliteCommand _removeEntry;
    private readonly SqliteCommand _setExport;
    private long _nextId;

    public SqliteNamespaceStore(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        CreatePrivate(path);
        _db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        _db.Open();
        Exec("PRAGMA journal_mode=WAL");
        Exec("PRAGMA synchronous=FULL");
        Exec("""
            CREATE TABLE IF NOT EXISTS nodes(
              id INTEGER PRIMARY KEY, generation INTEGER NOT NULL, export_id INTEGER NOT NULL, type INTEGER NOT NULL,
              mode INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, nlink INTEGER NOT NULL, size INTEGER NOT NULL,
              rdev_major INTEGER NOT NULL, rdev_minor INTEGER NOT NULL, atime INTEGER NOT NULL, mtime INTEGER NOT NULL,
              ctime INTEGER NOT NULL, parent INTEGER NOT NULL, verifier INTEGER NOT NULL, target TEXT);
            CREATE TABLE IF NOT EXISTS entries(cookie INTEGER PRIMARY KEY AUTOINCREMENT, dir INTEGER NOT NULL, name TEXT NOT NULL, child INTEGER NOT NULL);
            CREATE UNIQUE INDEX IF NOT EXISTS entries_by_name ON entries(dir, name);
            CREATE TABLE IF NOT EXISTS exports(path TEXT PRIMARY KEY, root INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS file_data(id INTEGER PRIMARY KEY);
            CREATE INDEX IF NOT EXISTS entries_by_child ON entries(child);
            DELETE FROM file_data WHERE id NOT IN (SELECT id FROM nodes);
            """);
        // Ids are never reused: the high-water mark is kept apart from the rows, which deletes remove.
        using (var c = _db.CreateCommand())
        {
            c.CommandText = "SELECT max(coalesce((SELECT value FROM meta WHERE key='next_id'), 1), coalesce((SELECT max(id) FROM nodes), 1))";
            _nextId = Convert.ToInt64(c.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }
        _load = Prepare("SELECT generation, export_id, type, mode, uid, gid, nlink, size, rdev_major, rdev_minor, atime, mtime, ctime, parent, verifier, target, EXISTS(SELECT 1 FROM file_data WHERE file_data.id=nodes.id) FROM nodes WHERE id=$id", "$id");
        _lookup = Prepare("SELECT child FROM entries WHERE dir=$dir AND name=$name", "$dir", "$name");
        _hasEntries = Prepare("SELECT 1 FROM entries WHERE dir=$dir LIMIT 1", "$dir");
        _list = Prepare("SELECT cookie, name, child FROM entries WHERE dir=$dir AND cookie>$after ORDER BY cookie LIMIT $max", "$dir", "$after", "$max");
        _put = Prepare("""
            INSERT OR REPLACE INTO nodes(id, generation, export_id, type, mode, uid, gid, nlink, size, rdev_major, rdev_minor, atime, mtime, ctime, parent, verifier, target)
            VALUES($id, $gen, $exp, $type, $mode, $uid, $gid, $nlink, $size, $maj, $min, $atime, $mtime, $ctime, $parent, $verf, $target)
            """, "$id", "$gen", "$exp", "$type", "$mode", "$uid", "$gid", "$nlink", "$size", "$maj", "$min", "$atime", "$mtime", "$ctime", "$parent", "$verf", "$target");
        _delete = Prepare("DELETE FROM nodes WHERE id=$id", "$id");
        _deleteEntriesOf = Prepare("DELETE FROM entries WHERE dir=$id", "$id");
        _addEntry = Prepare("INSERT INTO entries(dir, name, child) VALUES($dir, $name, $child)", "$dir", "$name", "$child");
        _removeEntry = Prepare("DELETE FROM entries WHERE dir=$dir AND name=$name", "$dir", "$name");
        _setExport = Prepare("INSERT OR REPLACE INTO exports(path, root) VALUES($path, $root)", "$path", "$root");
    }

    public string? DatabasePath => _db.DataSource;

    /// <summary>
    /// Creates the database file 0600 before SQLite opens it (an empty file is an empty database): it holds every
    /// export's names and attributes, and SQLite gives its -wal and -shm files the mode of the database file.
    /// </summary>
    private static void CreatePrivate(string path)
    {
        if (OperatingSystem.IsWindows() || File.Exists(path))
            return;
        try
        {
            using var _ = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
        }
        catch (IOException)
        {
            // Made meanwhile by someone else, or no room: SQLite's open reports what matters.
        }
    }

    private void Exec(string sql)
    {
        using var c = _db.CreateCommand();
        c.CommandText = sql;
        c.ExecuteNonQuery();
    }

    private SqliteCommand Prepare(string sql, params string[] parameters)
    {
        var c = _db.CreateCommand();
        c.CommandText = sql;
        foreach (var p in parameters)
            c.Parameters.Add(new SqliteParameter { ParameterName = p });
        c.Prepare();
        return c;
    }

    public ulong AllocateId() => (ulong)Interlocked.Increment(ref _nextId);

    /// <summary>Raises the high-water mark in memory; the next commit writes it with the rest.</summary>
    public void ReserveIdsThrough(ulong id)
    {
        long current;
        do
        {
            current = Interlocked.Read(ref _nextId);
            if ((ulong)current >= id)
                return;
        }
        while (Interlocked.CompareExchange(ref _nextId, (long)id, current) != current);
    }

    public ulong? FindExportRoot(string path)
    {
        lock (_lock)
        {
            using var c = _db.CreateCommand();
            c.CommandText = "SELECT root FROM exports WHERE path=$p";
            c.Parameters.AddWithValue("$p", path);
            var r = c.ExecuteScalar();
            return r is null ? null : (ulong)(long)r;
        }
    }

    public bool TryLoad(ulong id, out NodeRecord node)
    {
        lock (_lock)
        {
            _load.Parameters[0].Value = (long)id;
            using var r = _load.ExecuteReader();
            if (!r.Read())
            {
                node = default;
                return false;
            }
            node = new NodeRecord
            {
                Id = id,
                Generation = (ulong)r.GetInt64(0),
                ExportId = (uint)r.GetInt64(1),
                Type = (Ftype3)r.GetInt64(2),
                Mode = (uint)r.GetInt64(3),
                Uid = (uint)r.GetInt64(4),
                Gid = (uint)r.GetInt64(5),
                Nlink = (uint)r.GetInt64(6),
                Size = (ulong)r.GetInt64(7),
                RdevMajor = (uint)r.GetInt64(8),
                RdevMinor = (uint)r.GetInt64(9),
                AtimeNs = r.GetInt64(10),
                MtimeNs = r.GetInt64(11),
                CtimeNs = r.GetInt64(12),
                ParentId = (ulong)r.GetInt64(13),
                CreateVerifier = (ulong)r.GetInt64(14),
                SymlinkTarget = r.IsDBNull(15) ? null : r.GetString(15),
                HasData = r.GetInt64(16) != 0,
            };
            return true;
        }
    }

    public bool TryLookup(ulong dir, string name, out ulong child)
    {
        lock (_lock)
        {
            _lookup.Parameters[0].Value = (long)dir;
            _lookup.Parameters[1].Value = name;
            var r = _lookup.ExecuteScalar();
            child = r is null ? 0 : (ulong)(long)r;
            return r is not null;
        }
    }

    public bool HasEntries(ulong dir)
    {
        lock (_lock)
        {
            _hasEntries.Parameters[0].Value = (long)dir;
            return _hasEntries.ExecuteScalar() is not null;
        }
    }

    public IReadOnlyList<DirEntryRecord> List(ulong dir, ulong afterCookie, int max)
    {
        var result = new List<DirEntryRecord>();
        lock (_lock)
        {
            _list.Parameters[0].Value = (long)dir;
            _list.Parameters[1].Value = afterCookie <= CookieBase ? 0L : (long)(afterCookie - CookieBase);
            _list.Parameters[2].Value = max;
            using var r = _list.ExecuteReader();
            while (r.Read())
                result.Add(new DirEntryRecord((ulong)r.GetInt64(0) + CookieBase, r.GetString(1), (ulong)r.GetInt64(2)));
        }
        return result;
    }

    public Nfsstat3 Commit(NamespaceBatch batch)
    {
        if (batch.IsEmpty)
            return Nfsstat3.Ok;
        lock (_lock)
        {
            try
            {
                CommitLocked(batch);
                return Nfsstat3.Ok;
            }
            catch (SqliteException e)
            {
                // The transaction rolled back (SQLite does so itself on SQLITE_FULL, or the using in CommitLocked did):
                // nothing of the batch is applied, and the caller has changed nothing in memory yet.
                LastFailure = e.Message;
                return (e.SqliteErrorCode & 0xFF) == SqliteFull ? Nfsstat3.NoSpc : Nfsstat3.Io;
            }
        }
    }

    /// <summary>SQLITE_FULL (https://sqlite.org/rescode.html#full): "the disk is full"; extended codes keep it in the low byte.</summary>
    private const int SqliteFull = 13;

    /// <summary>SQLite's message for the last failed commit (for the log line of the caller).</summary>
    public string? LastFailure { get; private set; }

    private void CommitLocked(NamespaceBatch batch)
    {
        {
            using var tx = _db.BeginTransaction();
            foreach (var (dir, name) in batch.RemovedEntries)
            {
                _removeEntry.Transaction = tx;
                _removeEntry.Parameters[0].Value = (long)dir;
                _removeEntry.Parameters[1].Value = name;
                _removeEntry.ExecuteNonQuery();
            }
            foreach (var (dir, name, child) in batch.AddedEntries)
            {
                _addEntry.Transaction = tx;
                _addEntry.Parameters[0].Value = (long)dir;
                _addEntry.Parameters[1].Value = name;
                _addEntry.Parameters[2].Value = (long)child;
                _addEntry.ExecuteNonQuery();
            }
            foreach (var n in batch.Puts)
            {
                var p = _put.Parameters;
                _put.Transaction = tx;
                p[0].Value = (long)n.Id;
                p[1].Value = (long)n.Generation;
                p[2].Value = (long)n.ExportId;
                p[3].Value = (long)n.Type;
                p[4].Value = (long)n.Mode;
                p[5].Value = (long)n.Uid;
                p[6].Value = (long)n.Gid;
                p[7].Value = (long)n.Nlink;
                p[8].Value = (long)n.Size;
                p[9].Value = (long)n.RdevMajor;
                p[10].Value = (long)n.RdevMinor;
                p[11].Value = n.AtimeNs;
                p[12].Value = n.MtimeNs;
                p[13].Value = n.CtimeNs;
                p[14].Value = (long)n.ParentId;
                p[15].Value = (long)n.CreateVerifier;
                p[16].Value = (object?)n.SymlinkTarget ?? DBNull.Value;
                _put.ExecuteNonQuery();
            }
            foreach (var id in batch.Deletes)
            {
                _delete.Transaction = tx;
                _delete.Parameters[0].Value = (long)id;
                _delete.ExecuteNonQuery();
                _deleteEntriesOf.Transaction = tx;
                _deleteEntriesOf.Parameters[0].Value = (long)id;
                _deleteEntriesOf.ExecuteNonQuery();
            }
            foreach (var (path, root) in batch.ExportRoots)
            {
                _setExport.Transaction = tx;
                _setExport.Parameters[0].Value = path;
                _setExport.Parameters[1].Value = (long)root;
                _setExport.ExecuteNonQuery();
            }
            using (var m = _db.CreateCommand())
            {
                m.Transaction = tx;
                m.CommandText = "INSERT OR REPLACE INTO meta(key, value) VALUES('next_id', $v)";
                m.Parameters.AddWithValue("$v", Interlocked.Read(ref _nextId));
                m.ExecuteNonQuery();
            }
            tx.Commit();
        }
    }

    public void MarkHasData(ulong id)
    {
        lock (_lock)
        {
            using var c = _db.CreateCommand();
            c.CommandText = "INSERT OR IGNORE INTO file_data(id) VALUES($id)";
            c.Parameters.AddWithValue("$id", (long)id);
            c.ExecuteNonQuery();
        }
    }

    public IReadOnlyList<ulong> FilesWithData()
    {
        var result = new List<ulong>();
        lock (_lock)
        {
            using var c = _db.CreateCommand();
            c.CommandText = "SELECT id FROM file_data WHERE id IN (SELECT id FROM nodes) ORDER BY id";
            using var r = c.ExecuteReader();
            while (r.Read())
                result.Add((ulong)r.GetInt64(0));
        }
        return result;
    }

    public bool TryFindEntry(ulong child, out ulong dir, out string name)
    {
        lock (_lock)
        {
            using var c = _db.CreateCommand();
            c.CommandText = "SELECT dir, name FROM entries WHERE child=$c ORDER BY cookie LIMIT 1";
            c.Parameters.AddWithValue("$c", (long)child);
            using var r = c.ExecuteReader();
            if (!r.Read())
            {
                dir = 0;
                name = string.Empty;
                return false;
            }
            dir = (ulong)r.GetInt64(0);
            name = r.GetString(1);
            return true;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var c in new[] { _load, _lookup, _hasEntries, _list, _put, _delete, _deleteEntriesOf, _addEntry, _removeEntry, _setExport })
                c.Dispose();
            _db.Dispose();
        }
    }
}
