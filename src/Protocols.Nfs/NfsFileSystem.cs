using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging;
using StorageAppliance.Director;
using StorageAppliance.Protocols.Nfs.Namespace;
using StorageAppliance.Protocols.Nfs.Nfs3;

namespace StorageAppliance.Protocols.Nfs;

/// <summary>Attributes a SETATTR, CREATE or MKDIR asks for (sattr3, RFC 1813 section 2.6); null means "don't change".</summary>
public struct SetAttributes
{
    public uint? Mode;
    public uint? Uid;
    public uint? Gid;
    public ulong? Size;

    /// <summary>0 don't change, 1 server time, 2 client time (time_how).</summary>
    public uint AtimeHow;
    public long AtimeNs;
    public uint MtimeHow;
    public long MtimeNs;

    public readonly bool IsEmpty => Mode is null && Uid is null && Gid is null && Size is null && AtimeHow == 0 && MtimeHow == 0;
}

/// <summary>A regular file as the owner of a data vDisk: its export, its path under the export (by its first link), size and links.</summary>
public sealed record NfsDataFile(ulong FileId, string Export, string Path, ulong SizeBytes, uint Links);

/// <summary>Weak cache consistency attributes (wcc_attr, RFC 1813 section 2.6) taken before an operation.</summary>
public readonly record struct WccAttr(ulong Size, long MtimeNs, long CtimeNs)
{
    public static WccAttr Of(in NodeRecord r) => new(r.Size, r.MtimeNs, r.CtimeNs);
}

/// <summary>
/// The exported file systems: objects cached in memory over an <see cref="INamespaceStore"/>, regular
/// files' data in vDisks created through <see cref="IVDiskProvisioner"/>. Every namespace operation runs
/// under one lock and commits one batch (atomic, durable); data I/O runs outside it. Outcomes are
/// nfsstat3 values.
/// </summary>
public sealed class NfsFileSystem : IDisposable
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

    private readonly object _nsLock = new();
    private readonly NamespaceBatch _batch = new();
    private readonly ConcurrentDictionary<ulong, NfsNode> _nodes = new();
    private readonly ConcurrentDictionary<ulong, NfsNode> _dirty = new();

    /// <summary>Files removed from the namespace whose vDisk is being deleted: not orphans for the audit.</summary>
    private readonly ConcurrentDictionary<ulong, byte> _deleting = new();
    private readonly Dictionary<uint, Export> _exports = new();
    private readonly List<Export> _exportList = new();
    private readonly INamespaceStore _store;
    private readonly IVDiskProvisioner _provisioner;
    private readonly ILogger _log;

    public NfsFileSystem(NfsServerOptions options, INamespaceStore store, IVDiskProvisioner provisioner, ILogger logger)
    {
        Options = options;
        _store = store;
        _provisioner = provisioner;
        _log = logger;
        // A file's data vDisk is named by its id, so no new file may get the id of a data vDisk that
        // exists: after the namespace was restored from an older copy, its high-water mark can be below
        // files created since, whose vDisks would otherwise become the contents of new files.
        ulong highest = 0;
        foreach (var d in provisioner.List())
            if (TryParseVDiskName(d.Name, out ulong id) && id > highest)
                highest = id;
        store.ReserveIdsThrough(highest);
        foreach (var e in options.Exports)
            AddExport(e);
    }

    public NfsServerOptions Options { get; }

    public IReadOnlyList<Export> Exports => _exportList;

    public INamespaceStore Store => _store;

    /// <summary>The prefix of the names of vDisks that hold files' data; no other vDisk may have it.</summary>
    public const string DataVDiskPrefix = "nfs-";

    /// <summary>Name of the vDisk that holds a regular file's data.</summary>
    public static string VDiskName(ulong fileId) => DataVDiskPrefix + fileId.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>True for a name of the form <see cref="VDiskName"/> gives (nfs- and 16 lower-case hex digits), with the file id.</summary>
    public static bool TryParseVDiskName(string name, out ulong fileId)
    {
        fileId = 0;
        if (name.Length != DataVDiskPrefix.Length + 16 || !name.StartsWith(DataVDiskPrefix, StringComparison.Ordinal))
            return false;
        foreach (char ch in name.AsSpan(DataVDiskPrefix.Length))
            if (!char.IsAsciiHexDigitLower(ch) && !char.IsAsciiDigit(ch))
                return false;
        return ulong.TryParse(name.AsSpan(DataVDiskPrefix.Length), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out fileId);
    }

    public static long NowNs() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;

    private void AddExport(ExportOptions options)
    {
        lock (_nsLock)
        {
            ulong? root = _store.FindExportRoot(options.Path);
            if (root is null || !_store.TryLoad(root.Value, out _))
            {
                long now = NowNs();
                ulong id = _store.AllocateId();
                var r = new NodeRecord
                {
                    Id = id,
                    Generation = NewGeneration(),
                    ExportId = options.ExportId,
                    Type = Ftype3.Dir,
                    // World-writable so that squashed clients can create files; set the mode over NFS to restrict.
                    Mode = 0x1ff,
                    Nlink = 2,
                    Size = 4096,
                    AtimeNs = now,
                    MtimeNs = now,
                    CtimeNs = now,
                    ParentId = id,
                };
                _batch.Clear();
                _batch.Puts.Add(r);
                _batch.ExportRoots.Add((options.Path, id));
                // A new export's root must be stored before it is served (its handles would not survive a restart).
                var committed = CommitBatch("export " + options.Path);
                if (committed != Nfsstat3.Ok)
                    throw new IOException($"NFS export {options.Path}: its root directory cannot be stored in the namespace ({committed}; the disk of the data folder may be full)");
                root = id;
            }
            var export = new Export(options, root.Value);
            _exports[export.Id] = export;
            _exportList.Add(export);
        }
    }

    private static ulong NewGeneration() => (ulong)Random.Shared.NextInt64() | 1;

    public Export? FindExport(string path)
    {
        string p = path.Length > 1 ? path.TrimEnd('/') : path;
        foreach (var e in _exportList)
            if (string.Equals(e.Path, p, StringComparison.Ordinal))
                return e;
        return null;
    }

    public FileHandle HandleOf(NfsNode node) => new(node.R.ExportId, node.Id, node.R.Generation);

    /// <summary>The node with that id, from the cache or the store; null when deleted.</summary>
    public NfsNode? GetNode(ulong id)
    {
        if (_nodes.TryGetValue(id, out var n))
            return n;
        lock (_nsLock)
        {
            if (_nodes.TryGetValue(id, out n))
                return n;
            if (!_store.TryLoad(id, out var r))
                return null;
            n = new NfsNode(r);
            _nodes[id] = n;
            return n;
        }
    }

    /// <summary>Resolves a handle: BADHANDLE when it is not one of ours, STALE when its object is gone.</summary>
    public Nfsstat3 Resolve(ReadOnlySpan<byte> handle, out Export export, out NfsNode node)
    {
        export = null!;
        node = null!;
        if (!FileHandle.TryParse(handle, out var fh))
            return Nfsstat3.BadHandle;
        if (!_exports.TryGetValue(fh.ExportId, out export!))
            return Nfsstat3.Stale;
        var n = GetNode(fh.FileId);
        if (n is null || n.Deleted || n.R.Generation != fh.Generation || n.R.ExportId != fh.ExportId)
            return Nfsstat3.Stale;
        node = n;
        return Nfsstat3.Ok;
    }

    // ---- permissions ----

    /// <summary>Bits of <c>want</c> in <see cref="Permits"/>, as in the mode's rwx triplets.</summary>
    public const uint MayRead = 4, MayWrite = 2, MayExec = 1;

    /// <summary>
    /// Unix permission check from the mode bits alone; want is a mask of 4 (read), 2 (write), 1
    /// (execute/search). Root (uid 0 after squashing) may do everything but execute a non-directory that
    /// has no execute bit at all (what Linux grants CAP_DAC_OVERRIDE).
    /// </summary>
    public static bool Permits(in NodeRecord r, in Caller c, uint want)
    {
        if (c.Uid == 0)
            return (want & MayExec) == 0 || r.Type == Ftype3.Dir || (r.Mode & 0x49) != 0;
        uint bits = c.Uid == r.Uid ? r.Mode >> 6 : c.InGroup(r.Gid) ? r.Mode >> 3 : r.Mode;
        return (bits & want) == want;
    }

    /// <summary>
    /// READ, WRITE and COMMIT of a file, and SETATTR of its size: the owner may whatever the mode, as
    /// knfsd's NFSD_MAY_OWNER_OVERRIDE allows, because a client checks permission when a file is opened
    /// (with ACCESS) and a process may keep writing a file it opened before a chmod 0444 or ftruncate a
    /// file of mode 000. READ is also allowed when only execute is (knfsd: a client reads a binary of
    /// mode 0111 to run it). ACCESS does not use this: it answers from the mode bits.
    /// </summary>
    public static bool PermitsData(in NodeRecord r, in Caller c, uint want)
    {
        if (c.Uid == r.Uid || Permits(r, c, want))
            return true;
        return want == MayRead && r.Type == Ftype3.Reg && Permits(r, c, MayExec);
    }

    /// <summary>
    /// Removing or replacing the entry of <paramref name="victim"/> in <paramref name="dir"/>, beyond write
    /// and search on the directory: in a sticky directory (mode 01000, as /tmp) only the owner of the
    /// entry's object or of the directory, or root, may (POSIX; Linux's may_delete).
    /// </summary>
    public static bool MayDeleteEntry(in NodeRecord dir, in NodeRecord victim, in Caller c) =>
        (dir.Mode & 0x200) == 0 || c.Uid == 0 || c.Uid == dir.Uid || c.Uid == victim.Uid;

    // ---- names ----

    /// <summary>Checks and decodes a filename3 for creating an entry.</summary>
    public static Nfsstat3 ValidateNewName(ReadOnlySpan<byte> name, out string text)
    {
        text = string.Empty;
        if (name.Length == 0)
            return Nfsstat3.Inval;
        if (name.Length > Nfs3Constants.MaxNameLength)
            return Nfsstat3.NameTooLong;
        if (name.IndexOf((byte)'/') >= 0 || name.IndexOf((byte)0) >= 0)
            return Nfsstat3.Inval;
        if (name.SequenceEqual("."u8) || name.SequenceEqual(".."u8))
            return Nfsstat3.Exist;
        try
        {
            text = StrictUtf8.GetString(name);
        }
        catch (DecoderFallbackException)
        {
            return Nfsstat3.Inval;
        }
        return Nfsstat3.Ok;
    }

    // ---- lookup and listing ----

    public Nfsstat3 Lookup(NfsNode dir, ReadOnlySpan<byte> name, in Caller caller, out NfsNode? child)
    {
        child = null;
        var d = dir.Snapshot();
        if (d.Type != Ftype3.Dir)
            return Nfsstat3.NotDir;
        if (!Permits(d, caller, 1))
            return Nfsstat3.Acces;
        if (name.Length > Nfs3Constants.MaxNameLength)
            return Nfsstat3.NameTooLong;
        if (name.SequenceEqual("."u8))
        {
            child = dir;
            return Nfsstat3.Ok;
        }
        if (name.SequenceEqual(".."u8))
        {
            child = GetNode(d.ParentId);
            return child is null ? Nfsstat3.Stale : Nfsstat3.Ok;
        }
        string text;
        try
        {
            text = StrictUtf8.GetString(name);
        }
        catch (DecoderFallbackException)
        {
            return Nfsstat3.NoEnt;
        }
        if (!_store.TryLookup(dir.Id, text, out ulong id))
            return Nfsstat3.NoEnt;
        child = GetNode(id);
        return child is null ? Nfsstat3.NoEnt : Nfsstat3.Ok;
    }

    public IReadOnlyList<DirEntryRecord> List(NfsNode dir, ulong afterCookie, int max) => _store.List(dir.Id, afterCookie, max);

    // ---- creating objects ----

    /// <summary>
    /// CREATE, MKDIR, SYMLINK and MKNOD: checks the directory, the name and the caller, handles an
    /// existing name per <paramref name="mode"/>, then adds the object and its entry in one batch.
    /// </summary>
    public Nfsstat3 Create(Export export, NfsNode dir, ReadOnlySpan<byte> name, in Caller caller, Ftype3 type, in SetAttributes attrs,
        CreateMode mode, ulong verifier, string? symlinkTarget, uint rdevMajor, uint rdevMinor, out NfsNode? created, out bool existed)
    {
        created = null;
        existed = false;
        if (export.ReadOnly)
            return Nfsstat3.RoFs;
        var st = ValidateNewName(name, out string text);
        lock (_nsLock)
        {
            var d = dir.R;
            if (d.Type != Ftype3.Dir)
                return Nfsstat3.NotDir;
            if (dir.Deleted)
                return Nfsstat3.Stale;
            if (st == Nfsstat3.Exist)
                return Nfsstat3.Exist;
            if (st != Nfsstat3.Ok)
                return st;
            if (!Permits(d, caller, 3))
                return Nfsstat3.Acces;
            if (_store.TryLookup(dir.Id, text, out ulong existingId))
            {
                var existing = GetNodeLocked(existingId);
                if (existing is null)
                    return Nfsstat3.ServerFault;
                if (type == Ftype3.Reg && mode == CreateMode.Unchecked && existing.R.Type == Ftype3.Reg)
                {
                    created = existing;
                    existed = true;
                    return Nfsstat3.Ok;
                }
                // RFC 1813 3.3.8: EXCLUSIVE "... if the file exists and the verifier matches, the server treats the request as a success" (a retransmission).
                if (type == Ftype3.Reg && mode == CreateMode.Exclusive && existing.R.Type == Ftype3.Reg && existing.R.CreateVerifier == verifier && verifier != 0)
                {
                    created = existing;
                    existed = true;
                    return Nfsstat3.Ok;
                }
                return Nfsstat3.Exist;
            }

            long now = NowNs();
            uint defaultMode = type switch
            {
                Ftype3.Dir => 0x1ed, // 0755
                Ftype3.Lnk => 0x1ff, // 0777
                _ => 0x1a4, // 0644
            };
            var r = new NodeRecord
            {
                Id = _store.AllocateId(),
                Generation = NewGeneration(),
                ExportId = export.Id,
                Type = type,
                Mode = (attrs.Mode ?? defaultMode) & 0xfff,
                Uid = caller.Uid,
                // BSD semantics when the directory is setgid; otherwise the caller's group.
                Gid = (d.Mode & 0x400) != 0 ? d.Gid : caller.Gid,
                Nlink = type == Ftype3.Dir ? 2u : 1u,
                Size = type == Ftype3.Dir ? 4096 : type == Ftype3.Lnk ? (ulong)Encoding.UTF8.GetByteCount(symlinkTarget ?? string.Empty) : 0,
                RdevMajor = rdevMajor,
                RdevMinor = rdevMinor,
                AtimeNs = attrs.AtimeHow == 2 ? attrs.AtimeNs : now,
                MtimeNs = attrs.MtimeHow == 2 ? attrs.MtimeNs : now,
                CtimeNs = now,
                ParentId = type == Ftype3.Dir ? dir.Id : 0,
                CreateVerifier = mode == CreateMode.Exclusive ? verifier : 0,
                SymlinkTarget = symlinkTarget,
            };
            if (attrs.Uid is uint uid && caller.Uid == 0)
                r.Uid = uid;
            if (attrs.Gid is uint gid && (caller.Uid == 0 || caller.InGroup(gid)))
                r.Gid = gid;

            var dirAfter = dir.R;
            dirAfter.MtimeNs = now;
            dirAfter.CtimeNs = now;
            if (type == Ftype3.Dir)
                dirAfter.Nlink++;
            _batch.Clear();
            _batch.Puts.Add(r);
            _batch.Puts.Add(dirAfter);
            _batch.AddedEntries.Add((dir.Id, text, r.Id));
            var committed = CommitBatch("CREATE");
            if (committed != Nfsstat3.Ok)
                return committed;
            lock (dir)
                dir.R = dirAfter;
            var node = new NfsNode(r) { DiskResolved = true };
            _nodes[r.Id] = node;
            created = node;
            return Nfsstat3.Ok;
        }
    }

    private NfsNode? GetNodeLocked(ulong id)
    {
        if (_nodes.TryGetValue(id, out var n))
            return n;
        if (!_store.TryLoad(id, out var r))
            return null;
        n = new NfsNode(r);
        _nodes[id] = n;
        return n;
    }

    // ---- removing, renaming, linking ----

    /// <summary>REMOVE (files, links, nodes) and RMDIR (empty directories).</summary>
    public Nfsstat3 Remove(Export export, NfsNode dir, ReadOnlySpan<byte> name, in Caller caller, bool directory)
    {
        if (export.ReadOnly)
            return Nfsstat3.RoFs;
        if (name.SequenceEqual("."u8))
            return directory ? Nfsstat3.Inval : Nfsstat3.IsDir;
        if (name.SequenceEqual(".."u8))
            return directory ? Nfsstat3.Exist : Nfsstat3.IsDir;
        var st = ValidateNewName(name, out string text);
        if (st != Nfsstat3.Ok)
            return st == Nfsstat3.Inval ? Nfsstat3.NoEnt : st;
        NfsNode? deleteData = null;
        lock (_nsLock)
        {
            if (dir.R.Type != Ftype3.Dir)
                return Nfsstat3.NotDir;
            if (!Permits(dir.R, caller, 3))
                return Nfsstat3.Acces;
            if (!_store.TryLookup(dir.Id, text, out ulong childId))
                return Nfsstat3.NoEnt;
            var child = GetNodeLocked(childId);
            if (child is null)
                return Nfsstat3.ServerFault;
            if (directory && child.R.Type != Ftype3.Dir)
                return Nfsstat3.NotDir;
            if (!directory && child.R.Type == Ftype3.Dir)
                return Nfsstat3.IsDir;
            if (!MayDeleteEntry(dir.R, child.R, caller))
                return Nfsstat3.Acces;
            if (directory && _store.HasEntries(child.Id))
                return Nfsstat3.NotEmpty;
            long now = NowNs();
            _batch.Clear();
            _batch.RemovedEntries.Add((dir.Id, text));
            var dirAfter = dir.R;
            dirAfter.MtimeNs = now;
            dirAfter.CtimeNs = now;
            if (directory)
                dirAfter.Nlink--;
            _batch.Puts.Add(dirAfter);
            bool last = DropLink(child, now, directory, out var childAfter);
            var committed = CommitBatch("REMOVE");
            if (committed != Nfsstat3.Ok)
                return committed;
            ApplyDropLink(child, childAfter);
            lock (dir)
                dir.R = dirAfter;
            if (last)
                deleteData = Forget(child);
        }
        if (deleteData is not null)
            DeleteData(deleteData);
        return Nfsstat3.Ok;
    }

    /// <summary>Adds to the batch the loss of one link of <paramref name="child"/>; true when it was the last.</summary>
    /// <remarks>The node in memory changes only once the batch is committed (<see cref="ApplyDropLink"/>): a commit refused for want of space leaves it as it was.</remarks>
    private bool DropLink(NfsNode child, long now, bool directory, out NodeRecord? after)
    {
        after = null;
        var c = child.Snapshot();
        if (directory || c.Nlink <= 1)
        {
            _batch.Deletes.Add(child.Id);
            return true;
        }
        c.Nlink--;
        c.CtimeNs = now;
        _batch.Puts.Add(c);
        after = c;
        return false;
    }

    private static void ApplyDropLink(NfsNode child, NodeRecord? after)
    {
        if (after is not { } c)
            return;
        lock (child)
        {
            child.R.Nlink = c.Nlink;
            child.R.CtimeNs = c.CtimeNs;
        }
    }

    private long _lastCommitFailureLog = -60_000;

    /// <summary>
    /// Commits <see cref="_batch"/>; a failure is a status for the client, never an exception out of the procedure
    /// (an uncaught SQLite "database or disk is full" used to reach the client as RPC SYSTEM_ERR).
    /// </summary>
    private Nfsstat3 CommitBatch(string procedure)
    {
        var st = _store.Commit(_batch);
        if (st != Nfsstat3.Ok)
        {
            long now = Environment.TickCount64;
            if (now - _lastCommitFailureLog > 10_000)
            {
                _lastCommitFailureLog = now;
                NfsLog.NamespaceCommitFailed(_log, procedure, st.ToString(), (_store as SqliteNamespaceStore)?.LastFailure ?? "");
            }
        }
        return st;
    }

    private NfsNode Forget(NfsNode node)
    {
        if (node.R.Type == Ftype3.Reg)
            _deleting[node.Id] = 0;
        node.Deleted = true;
        _nodes.TryRemove(node.Id, out _);
        _dirty.TryRemove(node.Id, out _);
        return node;
    }

    private void DeleteData(NfsNode node)
    {
        if (node.R.Type != Ftype3.Reg)
            return;
        try
        {
            _provisioner.Delete(VDiskName(node.Id));
        }
        catch (ProvisioningException e) when (e.Error == ProvisioningError.NotFound)
        {
        }
        catch (Exception e)
        {
            NfsLog.DataDeleteFailed(_log, VDiskName(node.Id), e.Message);
        }
        finally
        {
            _deleting.TryRemove(node.Id, out _);
        }
    }

    /// <summary>RENAME (RFC 1813 section 3.3.14), replacing an existing target as POSIX rename does.</summary>
    public Nfsstat3 Rename(Export export, NfsNode fromDir, ReadOnlySpan<byte> fromName, NfsNode toDir, ReadOnlySpan<byte> toName, in Caller caller)
    {
        if (export.ReadOnly)
            return Nfsstat3.RoFs;
        if (fromDir.R.ExportId != toDir.R.ExportId)
            return Nfsstat3.XDev;
        var st = ValidateNewName(fromName, out string from);
        if (st != Nfsstat3.Ok)
            return st == Nfsstat3.Exist ? Nfsstat3.Inval : st;
        st = ValidateNewName(toName, out string to);
        if (st != Nfsstat3.Ok)
            return st == Nfsstat3.Exist ? Nfsstat3.Inval : st;
        NfsNode? deleteData = null;
        lock (_nsLock)
        {
            if (fromDir.R.Type != Ftype3.Dir || toDir.R.Type != Ftype3.Dir)
                return Nfsstat3.NotDir;
            if (!Permits(fromDir.R, caller, 3) || !Permits(toDir.R, caller, 3))
                return Nfsstat3.Acces;
            if (!_store.TryLookup(fromDir.Id, from, out ulong srcId))
                return Nfsstat3.NoEnt;
            var src = GetNodeLocked(srcId);
            if (src is null)
                return Nfsstat3.ServerFault;
            bool srcIsDir = src.R.Type == Ftype3.Dir;
            if (!MayDeleteEntry(fromDir.R, src.R, caller))
                return Nfsstat3.Acces;
            if (srcIsDir && fromDir.Id != toDir.Id)
            {
                // Moving a directory rewrites its "..": Linux's vfs_rename wants write permission on it.
                if (!Permits(src.R, caller, MayWrite))
                    return Nfsstat3.Acces;
                // A directory cannot move under itself: walk up from the target to the export's root. The
                // walk ends at the root whatever the depth; a cycle would be a corrupt namespace.
                ulong walk = toDir.Id;
                for (int depth = 0; ; depth++)
                {
                    if (walk == srcId)
                        return Nfsstat3.Inval;
                    var w = GetNodeLocked(walk);
                    if (w is null || w.R.ParentId == walk)
                        break;
                    if (depth > 1_000_000)
                        return Nfsstat3.ServerFault;
                    walk = w.R.ParentId;
                }
            }
            long now = NowNs();
            _batch.Clear();
            NfsNode? replaced = null;
            NodeRecord? replacedAfter = null;
            if (_store.TryLookup(toDir.Id, to, out ulong dstId))
            {
                if (dstId == srcId)
                    return Nfsstat3.Ok;
                replaced = GetNodeLocked(dstId);
                if (replaced is null)
                    return Nfsstat3.ServerFault;
                bool dstIsDir = replaced.R.Type == Ftype3.Dir;
                if (srcIsDir && !dstIsDir)
                    return Nfsstat3.NotDir;
                if (!srcIsDir && dstIsDir)
                    return Nfsstat3.IsDir;
                if (!MayDeleteEntry(toDir.R, replaced.R, caller))
                    return Nfsstat3.Acces;
                if (dstIsDir && _store.HasEntries(dstId))
                    return Nfsstat3.NotEmpty;
                _batch.RemovedEntries.Add((toDir.Id, to));
            }
            _batch.RemovedEntries.Add((fromDir.Id, from));
            _batch.AddedEntries.Add((toDir.Id, to, srcId));

            var fromAfter = fromDir.R;
            fromAfter.MtimeNs = fromAfter.CtimeNs = now;
            var toAfter = fromDir.Id == toDir.Id ? fromAfter : toDir.R;
            toAfter.MtimeNs = toAfter.CtimeNs = now;
            var srcAfter = src.Snapshot();
            srcAfter.CtimeNs = now;
            if (srcIsDir && fromDir.Id != toDir.Id)
            {
                srcAfter.ParentId = toDir.Id;
                fromAfter.Nlink--;
                toAfter.Nlink++;
            }
            bool last = false;
            if (replaced is not null)
            {
                if (replaced.R.Type == Ftype3.Dir)
                    toAfter.Nlink--;
                last = DropLink(replaced, now, replaced.R.Type == Ftype3.Dir, out replacedAfter);
            }
            _batch.Puts.Add(srcAfter);
            if (fromDir.Id == toDir.Id)
            {
                _batch.Puts.Add(toAfter);
            }
            else
            {
                _batch.Puts.Add(fromAfter);
                _batch.Puts.Add(toAfter);
            }
            var committed = CommitBatch("RENAME");
            if (committed != Nfsstat3.Ok)
                return committed;
            if (replaced is not null)
                ApplyDropLink(replaced, replacedAfter);
            lock (src)
            {
                src.R.CtimeNs = now;
                src.R.ParentId = srcAfter.ParentId;
            }
            if (fromDir.Id == toDir.Id)
            {
                lock (toDir)
                    toDir.R = toAfter;
            }
            else
            {
                lock (fromDir)
                    fromDir.R = fromAfter;
                lock (toDir)
                    toDir.R = toAfter;
            }
            if (replaced is not null && last)
                deleteData = Forget(replaced);
        }
        if (deleteData is not null)
            DeleteData(deleteData);
        return Nfsstat3.Ok;
    }

    /// <summary>LINK (RFC 1813 section 3.3.15): a new name for an existing non-directory.</summary>
    public Nfsstat3 Link(Export export, NfsNode file, NfsNode dir, ReadOnlySpan<byte> name, in Caller caller)
    {
        if (export.ReadOnly)
            return Nfsstat3.RoFs;
        if (file.R.ExportId != dir.R.ExportId)
            return Nfsstat3.XDev;
        var st = ValidateNewName(name, out string text);
        if (st != Nfsstat3.Ok)
            return st;
        lock (_nsLock)
        {
            if (dir.R.Type != Ftype3.Dir)
                return Nfsstat3.NotDir;
            if (file.R.Type == Ftype3.Dir)
                return Nfsstat3.IsDir;
            if (!Permits(dir.R, caller, 3))
                return Nfsstat3.Acces;
            if (file.R.Nlink >= 32000)
                return Nfsstat3.MLink;
            if (_store.TryLookup(dir.Id, text, out _))
                return Nfsstat3.Exist;
            long now = NowNs();
            var f = file.Snapshot();
            f.Nlink++;
            f.CtimeNs = now;
            var d = dir.R;
            d.MtimeNs = d.CtimeNs = now;
            _batch.Clear();
            _batch.Puts.Add(f);
            _batch.Puts.Add(d);
            _batch.AddedEntries.Add((dir.Id, text, file.Id));
            var committed = CommitBatch("LINK");
            if (committed != Nfsstat3.Ok)
                return committed;
            lock (file)
            {
                file.R.Nlink = f.Nlink;
                file.R.CtimeNs = now;
            }
            lock (dir)
                dir.R = d;
        }
        return Nfsstat3.Ok;
    }

    // ---- attributes ----

    /// <summary>
    /// SETATTR's checks and attribute changes (RFC 1813 section 3.3.2). A size change also changes the
    /// data: shrinking releases what lies past the new end (<see cref="TruncateDataAsync"/>).
    /// </summary>
    public async ValueTask<Nfsstat3> SetAttributesAsync(Export export, NfsNode node, SetAttributes a, Caller caller, long? guardCtimeNs, IoContext context)
    {
        if (export.ReadOnly)
            return Nfsstat3.RoFs;
        var r = node.Snapshot();
        if (guardCtimeNs is long g && g != r.CtimeNs)
            return Nfsstat3.NotSync;
        bool owner = caller.Uid == 0 || caller.Uid == r.Uid;
        if (a.Mode is not null && !owner)
            return Nfsstat3.Perm;
        if (a.Uid is uint uid && uid != r.Uid && caller.Uid != 0)
            return Nfsstat3.Perm;
        if (a.Gid is uint gid && gid != r.Gid && !(caller.Uid == 0 || (caller.Uid == r.Uid && caller.InGroup(gid))))
            return Nfsstat3.Perm;
        if ((a.AtimeHow == 2 || a.MtimeHow == 2) && !owner)
            return Nfsstat3.Perm;
        if ((a.AtimeHow == 1 || a.MtimeHow == 1) && !owner && !Permits(r, caller, 2))
            return Nfsstat3.Acces;
        if (a.Size is ulong size)
        {
            if (r.Type == Ftype3.Dir)
                return Nfsstat3.IsDir;
            if (r.Type != Ftype3.Reg)
                return Nfsstat3.Inval;
            if (!PermitsData(r, caller, 2))
                return Nfsstat3.Acces;
            if (size > (ulong)Options.MaxFileSize)
                return Nfsstat3.FBig;
            if (size < r.Size)
            {
                var st = await TruncateDataAsync(node, size, r.Size, context).ConfigureAwait(false);
                if (st != Nfsstat3.Ok)
                    return st;
            }
        }
        long now = NowNs();
        lock (_nsLock)
        {
            if (node.Deleted)
                return Nfsstat3.Stale;
            NodeRecord after;
            NodeRecord previous;
            bool wasDirty;
            lock (node)
            {
                previous = node.R;
                wasDirty = node.Dirty;
                if (a.Mode is uint m)
                {
                    // As chmod(2) on Linux: the set-group-id bit is dropped, not refused, when the caller is not
                    // root and not in the file's (new) group.
                    uint group = a.Gid ?? node.R.Gid;
                    if ((m & 0x400) != 0 && caller.Uid != 0 && !caller.InGroup(group))
                        m &= ~0x400u;
                    node.R.Mode = m & 0xfff;
                }
                if (a.Uid is uint u)
                    node.R.Uid = u;
                if (a.Gid is uint gg)
                    node.R.Gid = gg;
                if (a.Size is ulong s)
                {
                    if (s != node.R.Size)
                        node.R.MtimeNs = now;
                    node.R.Size = s;
                }
                if (a.AtimeHow != 0)
                    node.R.AtimeNs = a.AtimeHow == 1 ? now : a.AtimeNs;
                if (a.MtimeHow != 0)
                    node.R.MtimeNs = a.MtimeHow == 1 ? now : a.MtimeNs;
                // Setting attributes ends the EXCLUSIVE create's use of the verifier.
                node.R.CreateVerifier = 0;
                node.R.CtimeNs = now;
                node.Dirty = false;
                after = node.R;
            }
            _dirty.TryRemove(node.Id, out _);
            _batch.Clear();
            _batch.Puts.Add(after);
            var committed = CommitBatch("SETATTR");
            if (committed != Nfsstat3.Ok)
            {
                // Not stored, so not done: the attributes SETATTR set go back to what they were (a write that
                // landed meanwhile keeps its size and mtime, and stays to be written by the attribute flush).
                lock (node)
                {
                    node.R.Mode = previous.Mode;
                    node.R.Uid = previous.Uid;
                    node.R.Gid = previous.Gid;
                    if (a.Size is not null && node.R.Size == after.Size)
                        node.R.Size = previous.Size;
                    if (node.R.MtimeNs == after.MtimeNs)
                        node.R.MtimeNs = previous.MtimeNs;
                    node.R.AtimeNs = previous.AtimeNs;
                    node.R.CtimeNs = previous.CtimeNs;
                    node.R.CreateVerifier = previous.CreateVerifier;
                    if (wasDirty || node.Dirty)
                        node.Dirty = true;
                }
                if (node.Dirty)
                    _dirty[node.Id] = node;
                return committed;
            }
        }
        return Nfsstat3.Ok;
    }

    /// <summary>
    /// Releases the data past <paramref name="newSize"/>: zeros the rest of a partial 4 KiB block, then
    /// unmaps whole blocks to the old end, so a later extension reads zeros and the space is freed.
    /// </summary>
    public async ValueTask<Nfsstat3> TruncateDataAsync(NfsNode node, ulong newSize, ulong oldSize, IoContext context)
    {
        var disk = OpenDisk(node);
        if (disk is null || newSize >= oldSize)
            return Nfsstat3.Ok;
        const long Block = 4096;
        long start = (long)newSize;
        long end = (long)oldSize;
        long aligned = (start + Block - 1) & ~(Block - 1);
        if (aligned > start)
        {
            int zeroLength = (int)(Math.Min(aligned, end) - start);
            var zeros = System.Buffers.ArrayPool<byte>.Shared.Rent(zeroLength);
            try
            {
                Array.Clear(zeros, 0, zeroLength);
                var ws = await disk.WriteAsync(start, zeros.AsMemory(0, zeroLength), IoFlags.None, context).ConfigureAwait(false);
                if (ws != IoStatus.Ok)
                    return ToNfsstat(ws);
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(zeros);
            }
        }
        if (end > aligned)
        {
            long unmapEnd = Math.Min((end + Block - 1) & ~(Block - 1), disk.CapacityBytes);
            if (unmapEnd > aligned)
            {
                var us = await disk.UnmapAsync(aligned, unmapEnd - aligned, context).ConfigureAwait(false);
                if (us != IoStatus.Ok)
                    return ToNfsstat(us);
            }
        }
        return Nfsstat3.Ok;
    }

    // ---- data ----

    /// <summary>
    /// The file's vDisk, or null while it has never been written; <paramref name="lost"/> when it was
    /// written (<see cref="NodeRecord.HasData"/>) and its vDisk is gone: reads and writes of it are
    /// NFS3ERR_IO rather than zeros, and the Curator's audit reports it.
    /// </summary>
    public IVDisk? OpenDisk(NfsNode node, out bool lost)
    {
        var disk = OpenDisk(node);
        lost = disk is null && node.R.HasData;
        if (lost)
            NfsLog.DataLost(_log, node.Id, VDiskName(node.Id));
        return disk;
    }

    /// <summary>The file's vDisk, or null while it has never been written (or when it is lost: see the other overload).</summary>
    public IVDisk? OpenDisk(NfsNode node)
    {
        if (node.DiskResolved)
            return node.Disk;
        IVDisk? disk;
        lock (node)
        {
            if (!node.DiskResolved)
            {
                node.Disk = _provisioner.Open(VDiskName(node.Id));
                node.DiskResolved = true;
            }
            disk = node.Disk;
        }
        // Files written before the flag existed get it the first time their vDisk is seen.
        if (disk is not null && !node.R.HasData)
            MarkHasData(node);
        return disk;
    }

    /// <summary>
    /// Records that the file has a vDisk, before the first write to it is acknowledged. Taken outside
    /// the node's lock (the namespace lock comes first). A failure is logged, not returned: the flag only
    /// tells a lost vDisk from one never created, and the next open tries again.
    /// </summary>
    private void MarkHasData(NfsNode node)
    {
        lock (_nsLock)
        {
            if (node.Deleted || node.R.HasData)
                return;
            try
            {
                _store.MarkHasData(node.Id);
            }
            catch (Exception e)
            {
                NfsLog.FlushFailed(_log, $"recording that file {node.Id:x} has data: {e.Message}");
                return;
            }
            lock (node)
                node.R.HasData = true;
        }
    }

    /// <summary>The file's vDisk, created (thin, <see cref="NfsServerOptions.MaxFileSize"/>) in the export's container at its first write.</summary>
    public Nfsstat3 EnsureDisk(Export export, NfsNode node, out IVDisk disk)
    {
        disk = OpenDisk(node, out bool lost)!;
        if (disk is not null)
            return Nfsstat3.Ok;
        // A new vDisk would hide the loss behind a file of zeros and new data.
        if (lost)
            return Nfsstat3.Io;
        Nfsstat3 result;
        lock (node)
        {
            if (node.Disk is not null)
            {
                disk = node.Disk;
                return Nfsstat3.Ok;
            }
            string name = VDiskName(node.Id);
            try
            {
                node.Disk = _provisioner.Create(export.Options.Container, name, Options.MaxFileSize);
            }
            catch (ProvisioningException e) when (e.Error == ProvisioningError.AlreadyExists)
            {
                node.Disk = _provisioner.Open(name);
            }
            catch (ProvisioningException e)
            {
                NfsLog.DataCreateFailed(_log, name, export.Options.Container, e.Message);
                return e.Error == ProvisioningError.NoSpace ? Nfsstat3.NoSpc : Nfsstat3.Io;
            }
            node.DiskResolved = true;
            if (node.Disk is null)
                return Nfsstat3.Io;
            disk = node.Disk;
            result = Nfsstat3.Ok;
        }
        MarkHasData(node);
        return result;
    }

    /// <summary>After a write: grows the size, sets mtime/ctime; returns the attributes before. Allocates nothing once the node is dirty.</summary>
    public WccAttr RecordWrite(NfsNode node, ulong end, out NodeRecord after)
    {
        long now = NowNs();
        WccAttr before;
        bool newlyDirty;
        lock (node)
        {
            before = WccAttr.Of(node.R);
            if (end > node.R.Size)
                node.R.Size = end;
            node.R.MtimeNs = now;
            node.R.CtimeNs = now;
            newlyDirty = !node.Dirty;
            node.Dirty = true;
            after = node.R;
        }
        if (newlyDirty)
            _dirty[node.Id] = node;
        return before;
    }

    /// <summary>Writes the attributes of one node (COMMIT, stable writes that grew the file); NoSpc or Io when the store cannot.</summary>
    public Nfsstat3 PersistAttributes(NfsNode node)
    {
        if (!node.Dirty)
            return Nfsstat3.Ok;
        lock (_nsLock)
        {
            if (node.Deleted)
                return Nfsstat3.Ok;
            NodeRecord r;
            lock (node)
            {
                if (!node.Dirty)
                    return Nfsstat3.Ok;
                node.Dirty = false;
                r = node.R;
            }
            _dirty.TryRemove(node.Id, out _);
            _batch.Clear();
            _batch.Puts.Add(r);
            var committed = CommitBatch("COMMIT");
            if (committed != Nfsstat3.Ok)
                MarkDirtyAgain(node);
            return committed;
        }
    }

    /// <summary>Attributes that could not be stored stay to be written by a later flush.</summary>
    private void MarkDirtyAgain(NfsNode node)
    {
        lock (node)
            node.Dirty = true;
        _dirty[node.Id] = node;
    }

    /// <summary>Writes the attributes of every node changed by writes since the last flush, in one transaction.</summary>
    public int FlushDirtyAttributes()
    {
        if (_dirty.IsEmpty)
            return 0;
        lock (_nsLock)
        {
            _batch.Clear();
            var flushed = new List<NfsNode>();
            foreach (var (id, node) in _dirty)
            {
                _dirty.TryRemove(id, out _);
                if (node.Deleted)
                    continue;
                lock (node)
                {
                    if (!node.Dirty)
                        continue;
                    node.Dirty = false;
                    _batch.Puts.Add(node.R);
                }
                flushed.Add(node);
            }
            int n = _batch.Puts.Count;
            if (CommitBatch("attribute flush") != Nfsstat3.Ok)
            {
                // Kept for the next flush (the store's disk may get room back).
                foreach (var node in flushed)
                    MarkDirtyAgain(node);
                return 0;
            }
            return n;
        }
    }

    // ---- data vDisks, as an administrator sees them ----

    /// <summary>
    /// The file whose data <paramref name="vdiskName"/> holds, or null when the name is not a data
    /// vDisk's or its file no longer exists (an orphan, left by an interrupted remove).
    /// </summary>
    public NfsDataFile? FindDataFile(string vdiskName)
    {
        if (!TryParseVDiskName(vdiskName, out ulong id))
            return null;
        lock (_nsLock)
        {
            var node = GetNodeLocked(id);
            if (node is null || node.Deleted || node.R.Type != Ftype3.Reg)
                return null;
            var r = node.Snapshot();
            _exports.TryGetValue(r.ExportId, out var export);
            return new NfsDataFile(id, export?.Path ?? $"(export {r.ExportId})", PathOfLocked(id, export), r.Size, r.Nlink);
        }
    }

    /// <summary>The path of an object under its export's root ("/dir/file"), by its first link; "(unlinked)" when it has none.</summary>
    private string PathOfLocked(ulong id, Export? export)
    {
        var parts = new List<string>();
        ulong at = id;
        for (int depth = 0; depth < 4096 && (export is null || at != export.RootId); depth++)
        {
            if (!_store.TryFindEntry(at, out ulong dir, out string name))
                return parts.Count == 0 ? "(unlinked)" : "(unlinked)/" + string.Join('/', Enumerable.Reverse(parts));
            parts.Add(name);
            at = dir;
        }
        parts.Reverse();
        return "/" + string.Join('/', parts);
    }

    /// <summary>
    /// The audit of files against their data vDisks, for the Curator's report: every file that was
    /// written and whose vDisk is not among <paramref name="vdiskNames"/> (its data is lost), and every
    /// data vDisk whose file no longer exists (space nothing can reach). Each problem is one line.
    /// </summary>
    public IReadOnlyList<string> AuditData(IReadOnlyCollection<string> vdiskNames)
    {
        var problems = new List<string>();
        var names = vdiskNames as IReadOnlySet<string> ?? new HashSet<string>(vdiskNames, StringComparer.Ordinal);
        IReadOnlyList<ulong> written;
        lock (_nsLock)
            written = _store.FilesWithData();
        foreach (ulong id in written)
        {
            string name = VDiskName(id);
            if (names.Contains(name) || _provisioner.Open(name) is not null)
                continue;
            if (FindDataFile(name) is not { } file)
                continue; // removed meanwhile
            problems.Add($"NFS file {file.Export}:{file.Path} ({file.SizeBytes} bytes, file id {id}) has lost its data: its vDisk {name} is missing, so READ and WRITE of it fail with NFS3ERR_IO; restore the file from a backup, or remove it");
        }
        foreach (string name in names)
        {
            if (!TryParseVDiskName(name, out ulong id) || _deleting.ContainsKey(id))
                continue;
            if (GetNode(id) is { Deleted: false })
                continue;
            if (_provisioner.Open(name) is null || _deleting.ContainsKey(id))
                continue; // deleted meanwhile
            problems.Add($"vDisk {name} holds the data of NFS file id {id}, which no longer exists (a remove was interrupted): its space is unreachable; free it with `appliance vdisk delete {name}`");
        }
        return problems;
    }

    public static Nfsstat3 ToNfsstat(IoStatus s) => s switch
    {
        IoStatus.Ok => Nfsstat3.Ok,
        IoStatus.OutOfRange => Nfsstat3.FBig,
        IoStatus.NoSpace => Nfsstat3.NoSpc,
        IoStatus.ReadOnly => Nfsstat3.RoFs,
        IoStatus.Busy => Nfsstat3.Jukebox,
        IoStatus.NotReady => Nfsstat3.Jukebox,
        _ => Nfsstat3.Io,
    };

    /// <summary>
    /// Size and free space of an export, for FSSTAT: its container's figures when the provisioner knows
    /// them (<see cref="IContainerSpace"/>, the storage engine), else <see cref="NfsServerOptions.ReportedCapacityBytes"/>.
    /// </summary>
    public ContainerSpace SpaceOf(Export export)
    {
        if (_provisioner is IContainerSpace s && s.TryGetContainerSpace(export.Options.Container, out var space))
            return space;
        return new ContainerSpace(Options.ReportedCapacityBytes, Options.ReportedCapacityBytes);
    }

    public void Dispose()
    {
        FlushDirtyAttributes();
        _store.Dispose();
    }
}
