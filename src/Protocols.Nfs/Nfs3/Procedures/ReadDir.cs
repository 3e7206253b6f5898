using System.Text;
using StorageAppliance.Protocols.Nfs.Namespace;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Nfs3;

// NFSPROC3_READDIR (RFC 1813 section 3.3.16)
//
// struct READDIR3args { nfs_fh3 dir; cookie3 cookie; cookieverf3 cookieverf; count3 count; };
// struct entry3 { fileid3 fileid; filename3 name; cookie3 cookie; entry3 *nextentry; };
// struct dirlist3 { entry3 *entries; bool eof; };
// struct READDIR3resok { post_op_attr dir_attributes; cookieverf3 cookieverf; dirlist3 reply; };
// struct READDIR3resfail { post_op_attr dir_attributes; };
//
// Cookies: 1 is ".", 2 is "..", every other entry keeps the cookie the namespace gave it when it was
// added, increasing and never reused, so a listing can resume from any cookie however the directory
// changed meanwhile. The cookie verifier is therefore constant per directory and never refused.
// "count: The maximum size of the READDIR3resok structure, in bytes"; too small for one entry is
// NFS3ERR_TOOSMALL.
public sealed partial class Nfs3Program
{
    private const int MaxDirReply = 1 << 20;

    private RpcOutcome ReadDir(RpcCall call)
    {
        var r = new XdrReader(call.Arguments);
        if (!Nfs3Xdr.TryReadHandle(ref r, out var fh) || !r.TryReadUInt64(out ulong cookie) || !r.TryReadFixedOpaque(8, out _) || !r.TryReadUInt32(out uint count))
            return RpcOutcome.GarbageArgs;
        var st = ResolveDirForListing(call, fh, out var dir);
        if (st != Nfsstat3.Ok)
            return StatusAndAttr(call, st, dir);
        int budget = (int)Math.Min(count, MaxDirReply);
        var d = dir!.Snapshot();
        var w = call.BeginResults(budget + SmallReply);
        w.WriteUInt32((uint)Nfsstat3.Ok);
        Nfs3Xdr.WritePostOpAttr(ref w, d);
        w.WriteUInt64(d.Generation); // cookieverf
        int used = Nfs3Constants.PostOpAttrSize + 8 + 8;
        int written = 0;
        bool full = false;
        if (cookie == 0)
            full = !TryAddEntry(ref w, ref used, budget, d.Id, "."u8, 1, ref written);
        if (!full && cookie <= 1)
            full = !TryAddEntry(ref w, ref used, budget, d.ParentId, ".."u8, 2, ref written);
        bool eof = false;
        if (!full)
        {
            int max = Math.Clamp(budget / 24, 1, 4096);
            var entries = _fs.List(dir, Math.Max(cookie, 2), max);
            Span<byte> name = stackalloc byte[Nfs3Constants.MaxNameLength * 3];
            int i = 0;
            for (; i < entries.Count; i++)
            {
                var e = entries[i];
                int n = Encoding.UTF8.GetBytes(e.Name, name);
                if (!TryAddEntry(ref w, ref used, budget, e.ChildId, name[..n], e.Cookie, ref written))
                    break;
            }
            eof = i == entries.Count && entries.Count < max;
        }
        if (written == 0 && !eof)
            return StatusAndAttr(call, Nfsstat3.TooSmall, dir);
        w.WriteBool(false);
        w.WriteBool(eof);
        call.EndResults(w);
        return RpcOutcome.Success;
    }

    private static bool TryAddEntry(ref XdrWriter w, ref int used, int budget, ulong fileId, scoped ReadOnlySpan<byte> name, ulong cookie, ref int written)
    {
        int size = 4 + 8 + 4 + ((name.Length + 3) & ~3) + 8;
        if (used + size > budget)
            return false;
        w.WriteBool(true);
        w.WriteUInt64(fileId);
        w.WriteOpaque(name);
        w.WriteUInt64(cookie);
        used += size;
        written++;
        return true;
    }

    private Nfsstat3 ResolveDirForListing(RpcCall call, ReadOnlySpan<byte> fh, out NfsNode? dir)
    {
        var st = Resolve(call, fh, out var export, out var node);
        dir = st == Nfsstat3.Ok ? node : null;
        if (st != Nfsstat3.Ok)
            return st;
        var d = node.Snapshot();
        if (d.Type != Ftype3.Dir)
            return Nfsstat3.NotDir;
        if (!NfsFileSystem.Permits(d, Caller.Of(call, export), 4))
            return Nfsstat3.Acces;
        return Nfsstat3.Ok;
    }
}
