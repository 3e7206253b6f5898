namespace StorageAppliance.Protocols.Nfs.Namespace;

/// <summary>
/// Where the NFS directory tree, names and attributes live. Callers serialize mutations (the file
/// system holds one lock around each operation); implementations need not be re-entrant but must make
/// each <see cref="Commit"/> atomic and, for a persistent store, durable before it returns.
/// </summary>
public interface INamespaceStore : IDisposable
{
    /// <summary>A new object id, never handed out before (ids are never reused, so handles of deleted objects stay stale).</summary>
    ulong AllocateId();

    /// <summary>The root directory of an export, or null the first time the export is seen.</summary>
    ulong? FindExportRoot(string path);

    bool TryLoad(ulong id, out NodeRecord node);

    bool TryLookup(ulong dir, string name, out ulong child);

    bool HasEntries(ulong dir);

    /// <summary>Entries of <paramref name="dir"/> with a cookie greater than <paramref name="afterCookie"/>, in cookie order, at most <paramref name="max"/>.</summary>
    IReadOnlyList<DirEntryRecord> List(ulong dir, ulong afterCookie, int max);

    void Commit(NamespaceBatch batch);
}
