using StorageAppliance.Protocols.Nfs.Nfs3;

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

    /// <summary>
    /// Applies the batch atomically. Outcomes are values (STYLE.md 6): Ok; NoSpc when the store's file system is full
    /// (SQLite's SQLITE_FULL), nothing applied, the caller answers NFS3ERR_NOSPC (RFC 1813: "No space left on device.
    /// The operation would have caused the server's file system to exceed its limit"); Io for another storage error.
    /// </summary>
    Nfsstat3 Commit(NamespaceBatch batch);
}
