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

    /// <summary>Makes every later <see cref="AllocateId"/> return more than <paramref name="id"/> (ids in use outside the store, such as data vDisks a restored namespace does not know).</summary>
    void ReserveIdsThrough(ulong id);

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

    /// <summary>Records, durably, that the regular file <paramref name="id"/> has a data vDisk (<see cref="NodeRecord.HasData"/>); a later <see cref="Commit"/> of the node keeps it.</summary>
    void MarkHasData(ulong id);

    /// <summary>Every object with <see cref="NodeRecord.HasData"/>, for the audit of data vDisks.</summary>
    IReadOnlyList<ulong> FilesWithData();

    /// <summary>One entry naming <paramref name="child"/> (the oldest, for a file with several links), to show an object's path.</summary>
    bool TryFindEntry(ulong child, out ulong dir, out string name);
}
