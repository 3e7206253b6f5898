using StorageAppliance.Director;
using StorageAppliance.Protocols.Nfs.Namespace;
using StorageAppliance.Protocols.Nfs.Nfs3;

namespace StorageAppliance.Protocols.Nfs;

/// <summary>
/// An object of the namespace held in memory: its record (mutated under the node's own lock, so a
/// WRITE updating size and mtime does not wait for namespace operations), and for a regular file the
/// vDisk that holds its data once it has any.
/// </summary>
public sealed class NfsNode
{
    internal NodeRecord R;
    internal IVDisk? Disk;
    internal bool DiskResolved;

    /// <summary>Size or times changed by writes and not yet in the namespace store.</summary>
    internal bool Dirty;

    internal volatile bool Deleted;

    internal NfsNode(in NodeRecord record)
    {
        R = record;
    }

    public ulong Id => R.Id;

    public Ftype3 Type => R.Type;

    /// <summary>A consistent copy of the attributes.</summary>
    public NodeRecord Snapshot()
    {
        lock (this)
            return R;
    }
}
