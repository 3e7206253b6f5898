using StorageAppliance.Protocols.Nfs.Nfs3;

namespace StorageAppliance.Protocols.Nfs.Namespace;

/// <summary>The namespace in memory: for unit tests, and the model the SQLite store is checked against.</summary>
public sealed class InMemoryNamespaceStore : INamespaceStore
{
    private readonly object _lock = new();
    private readonly Dictionary<ulong, NodeRecord> _nodes = new();
    private readonly Dictionary<ulong, SortedDictionary<ulong, (string Name, ulong Child)>> _byCookie = new();
    private readonly Dictionary<(ulong Dir, string Name), (ulong Cookie, ulong Child)> _byName = new();
    private readonly Dictionary<string, ulong> _exports = new(StringComparer.Ordinal);
    private ulong _nextId = 1;
    private ulong _nextCookie = 3;

    public int CommitCount { get; private set; }

    public ulong AllocateId()
    {
        lock (_lock)
            return ++_nextId;
    }

    public void ReserveIdsThrough(ulong id)
    {
        lock (_lock)
            _nextId = Math.Max(_nextId, id);
    }

    public ulong? FindExportRoot(string path)
    {
        lock (_lock)
            return _exports.TryGetValue(path, out var r) ? r : null;
    }

    public bool TryLoad(ulong id, out NodeRecord node)
    {
        lock (_lock)
            return _nodes.TryGetValue(id, out node);
    }

    public bool TryLookup(ulong dir, string name, out ulong child)
    {
        lock (_lock)
        {
            bool found = _byName.TryGetValue((dir, name), out var e);
            child = e.Child;
            return found;
        }
    }

    public bool HasEntries(ulong dir)
    {
        lock (_lock)
            return _byCookie.TryGetValue(dir, out var d) && d.Count > 0;
    }

    public IReadOnlyList<DirEntryRecord> List(ulong dir, ulong afterCookie, int max)
    {
        var result = new List<DirEntryRecord>();
        lock (_lock)
        {
            if (!_byCookie.TryGetValue(dir, out var d))
                return result;
            foreach (var (cookie, e) in d)
            {
                if (cookie <= afterCookie)
                    continue;
                result.Add(new DirEntryRecord(cookie, e.Name, e.Child));
                if (result.Count >= max)
                    break;
            }
        }
        return result;
    }

    /// <summary>Tests: commits fail with this status (NoSpc plays a full disk) and change nothing; null: they succeed.</summary>
    public Nfsstat3? FailCommitsWith { get; set; }

    public Nfsstat3 Commit(NamespaceBatch batch)
    {
        if (FailCommitsWith is { } failure)
            return failure;
        lock (_lock)
        {
            CommitCount++;
            foreach (var (dir, name) in batch.RemovedEntries)
            {
                if (_byName.Remove((dir, name), out var e))
                    _byCookie[dir].Remove(e.Cookie);
            }
            foreach (var (dir, name, child) in batch.AddedEntries)
            {
                ulong cookie = _nextCookie++;
                _byName[(dir, name)] = (cookie, child);
                if (!_byCookie.TryGetValue(dir, out var d))
                    _byCookie[dir] = d = new SortedDictionary<ulong, (string, ulong)>();
                d[cookie] = (name, child);
            }
            foreach (var n in batch.Puts)
                _nodes[n.Id] = n;
            foreach (var id in batch.Deletes)
            {
                _nodes.Remove(id);
                _byCookie.Remove(id);
            }
            foreach (var (path, root) in batch.ExportRoots)
                _exports[path] = root;
        }
        return Nfsstat3.Ok;
    }

    public void MarkHasData(ulong id)
    {
        lock (_lock)
        {
            if (_nodes.TryGetValue(id, out var n))
            {
                n.HasData = true;
                _nodes[id] = n;
            }
        }
    }

    public IReadOnlyList<ulong> FilesWithData()
    {
        var result = new List<ulong>();
        lock (_lock)
        {
            foreach (var (id, n) in _nodes)
                if (n.HasData)
                    result.Add(id);
        }
        return result;
    }

    public bool TryFindEntry(ulong child, out ulong dir, out string name)
    {
        lock (_lock)
        {
            ulong best = ulong.MaxValue;
            dir = 0;
            name = string.Empty;
            foreach (var ((d, n), e) in _byName)
            {
                if (e.Child == child && e.Cookie < best)
                {
                    best = e.Cookie;
                    dir = d;
                    name = n;
                }
            }
            return best != ulong.MaxValue;
        }
    }

    public void Dispose()
    {
    }
}
