using StorageAppliance.Protocols.Nfs.Namespace;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Nfs3;

/// <summary>
/// The XDR of the structures NFSv3 procedures share (RFC 1813 section 2.6).
/// <code>
/// struct fattr3 { ftype3 type; mode3 mode; uint32 nlink; uid3 uid; gid3 gid; size3 size; size3 used;
///                 specdata3 rdev; uint64 fsid; fileid3 fileid; nfstime3 atime; nfstime3 mtime; nfstime3 ctime; };
/// union post_op_attr switch (bool attributes_follow) { case TRUE: fattr3 attributes; case FALSE: void; };
/// struct wcc_attr { size3 size; nfstime3 mtime; nfstime3 ctime; };
/// union pre_op_attr switch (bool attributes_follow) { case TRUE: wcc_attr attributes; case FALSE: void; };
/// struct wcc_data { pre_op_attr before; post_op_attr after; };
/// union post_op_fh3 switch (bool handle_follows) { case TRUE: nfs_fh3 handle; case FALSE: void; };
/// struct sattr3 { set_mode3 mode; set_uid3 uid; set_gid3 gid; set_size3 size; set_atime atime; set_mtime mtime; };
/// struct diropargs3 { nfs_fh3 dir; filename3 name; };
/// </code>
/// </summary>
public static class Nfs3Xdr
{
    public static void WriteTime(ref XdrWriter w, long ns)
    {
        long seconds = Math.DivRem(ns, 1_000_000_000, out long nanos);
        if (nanos < 0)
        {
            seconds--;
            nanos += 1_000_000_000;
        }
        w.WriteUInt32((uint)seconds);
        w.WriteUInt32((uint)nanos);
    }

    public static bool TryReadTime(ref XdrReader r, out long ns)
    {
        ns = 0;
        if (!r.TryReadUInt32(out uint s) || !r.TryReadUInt32(out uint n))
            return false;
        ns = (long)s * 1_000_000_000 + Math.Min(n, 999_999_999u);
        return true;
    }

    public static void WriteFattr(ref XdrWriter w, in NodeRecord r)
    {
        w.WriteUInt32((uint)r.Type);
        w.WriteUInt32(r.Mode);
        w.WriteUInt32(r.Nlink);
        w.WriteUInt32(r.Uid);
        w.WriteUInt32(r.Gid);
        w.WriteUInt64(r.Size);
        // used: a file costs what was written; without a per-file figure from the engine, the size rounded to 4 KiB.
        w.WriteUInt64(r.Type == Ftype3.Reg ? (r.Size + 4095) & ~4095UL : r.Size);
        w.WriteUInt32(r.RdevMajor);
        w.WriteUInt32(r.RdevMinor);
        w.WriteUInt64(r.ExportId);
        w.WriteUInt64(r.Id);
        WriteTime(ref w, r.AtimeNs);
        WriteTime(ref w, r.MtimeNs);
        WriteTime(ref w, r.CtimeNs);
    }

    public static void WritePostOpAttr(ref XdrWriter w, NfsNode? node)
    {
        if (node is null)
        {
            w.WriteBool(false);
            return;
        }
        var r = node.Snapshot();
        w.WriteBool(true);
        WriteFattr(ref w, r);
    }

    public static void WritePostOpAttr(ref XdrWriter w, in NodeRecord r)
    {
        w.WriteBool(true);
        WriteFattr(ref w, r);
    }

    public static void WritePreOpAttr(ref XdrWriter w, WccAttr? before)
    {
        if (before is not WccAttr b)
        {
            w.WriteBool(false);
            return;
        }
        w.WriteBool(true);
        w.WriteUInt64(b.Size);
        WriteTime(ref w, b.MtimeNs);
        WriteTime(ref w, b.CtimeNs);
    }

    public static void WriteWcc(ref XdrWriter w, WccAttr? before, NfsNode? after)
    {
        WritePreOpAttr(ref w, before);
        WritePostOpAttr(ref w, after);
    }

    public static void WritePostOpFh(ref XdrWriter w, in FileHandle fh)
    {
        w.WriteBool(true);
        w.WriteUInt32(FileHandle.Size);
        fh.Write(w.Reserve(FileHandle.Size));
    }

    public static void WriteHandle(ref XdrWriter w, in FileHandle fh)
    {
        w.WriteUInt32(FileHandle.Size);
        fh.Write(w.Reserve(FileHandle.Size));
    }

    /// <summary>nfs_fh3: opaque data&lt;NFS3_FHSIZE&gt;.</summary>
    public static bool TryReadHandle(ref XdrReader r, out ReadOnlySpan<byte> handle) => r.TryReadOpaque(Nfs3Constants.FhSize, out handle);

    /// <summary>diropargs3. Names longer than NFS3_MAXNAMLEN are read (up to 1 KiB) so the procedure can answer NAMETOOLONG.</summary>
    public static bool TryReadDirOp(ref XdrReader r, out ReadOnlySpan<byte> dir, out ReadOnlySpan<byte> name)
    {
        name = default;
        return TryReadHandle(ref r, out dir) && r.TryReadOpaque(Nfs3Constants.MaxPathLength, out name);
    }

    /// <summary>sattr3: each field a discriminated union; time_how 0 DONT_CHANGE, 1 SET_TO_SERVER_TIME, 2 SET_TO_CLIENT_TIME.</summary>
    public static bool TryReadSattr(ref XdrReader r, out SetAttributes a)
    {
        a = default;
        if (!r.TryReadBool(out bool set))
            return false;
        if (set)
        {
            if (!r.TryReadUInt32(out uint mode))
                return false;
            a.Mode = mode;
        }
        if (!r.TryReadBool(out set))
            return false;
        if (set)
        {
            if (!r.TryReadUInt32(out uint uid))
                return false;
            a.Uid = uid;
        }
        if (!r.TryReadBool(out set))
            return false;
        if (set)
        {
            if (!r.TryReadUInt32(out uint gid))
                return false;
            a.Gid = gid;
        }
        if (!r.TryReadBool(out set))
            return false;
        if (set)
        {
            if (!r.TryReadUInt64(out ulong size))
                return false;
            a.Size = size;
        }
        if (!r.TryReadUInt32(out a.AtimeHow) || a.AtimeHow > 2)
            return false;
        if (a.AtimeHow == 2 && !TryReadTime(ref r, out a.AtimeNs))
            return false;
        if (!r.TryReadUInt32(out a.MtimeHow) || a.MtimeHow > 2)
            return false;
        if (a.MtimeHow == 2 && !TryReadTime(ref r, out a.MtimeNs))
            return false;
        return true;
    }
}
