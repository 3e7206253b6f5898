using StorageAppliance.Protocols.Nfs.Nfs3;

namespace StorageAppliance.Protocols.Nfs.Namespace;

/// <summary>
/// What the namespace stores about one object (file, directory, symlink, device node): its identity and
/// attributes. Times are nanoseconds since 1970-01-01 UTC. A regular file's data is the vDisk named
/// <see cref="NfsFileSystem.VDiskName"/>(<see cref="Id"/>); its size is kept here.
/// </summary>
public struct NodeRecord
{
    public ulong Id;
    public ulong Generation;
    public uint ExportId;
    public Ftype3 Type;
    public uint Mode;
    public uint Uid;
    public uint Gid;
    public uint Nlink;
    public ulong Size;
    public uint RdevMajor;
    public uint RdevMinor;
    public long AtimeNs;
    public long MtimeNs;
    public long CtimeNs;

    /// <summary>For a directory, its parent (the root's parent is itself).</summary>
    public ulong ParentId;

    /// <summary>The createverf3 of an EXCLUSIVE create, until attributes are set.</summary>
    public ulong CreateVerifier;

    /// <summary>A symbolic link's target.</summary>
    public string? SymlinkTarget;

    /// <summary>
    /// A regular file whose data vDisk has been created (<see cref="INamespaceStore.MarkHasData"/>): from
    /// then on a missing vDisk is lost data (NFS3ERR_IO, and a problem in the Curator's audit), not a file
    /// that was never written.
    /// </summary>
    public bool HasData;
}

/// <summary>A directory entry as listed: its cookie (stable for the entry's life), name and object.</summary>
public readonly record struct DirEntryRecord(ulong Cookie, string Name, ulong ChildId);

/// <summary>
/// The changes of one namespace operation, applied atomically by <see cref="INamespaceStore.Commit"/>
/// (one transaction): a crash leaves either all or none.
/// </summary>
public sealed class NamespaceBatch
{
    public List<NodeRecord> Puts { get; } = new();

    public List<ulong> Deletes { get; } = new();

    public List<(ulong Dir, string Name, ulong Child)> AddedEntries { get; } = new();

    public List<(ulong Dir, string Name)> RemovedEntries { get; } = new();

    public List<(string Path, ulong Root)> ExportRoots { get; } = new();

    public bool IsEmpty => Puts.Count == 0 && Deletes.Count == 0 && AddedEntries.Count == 0 && RemovedEntries.Count == 0 && ExportRoots.Count == 0;

    public void Clear()
    {
        Puts.Clear();
        Deletes.Clear();
        AddedEntries.Clear();
        RemovedEntries.Clear();
        ExportRoots.Clear();
    }
}
