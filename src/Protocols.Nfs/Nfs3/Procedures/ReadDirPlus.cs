using System.Text;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Nfs3;

// NFSPROC3_READDIRPLUS (RFC 1813 section 3.3.17)
//
// struct READDIRPLUS3args { nfs_fh3 dir; cookie3 cookie; cookieverf3 cookieverf; count3 dircount; count3 maxcount; };
// struct entryplus3 { fileid3 fileid; filename3 name; cookie3 cookie; post_op_attr name_attributes;
//                     post_op_fh3 name_handle; entryplus3 *nextentry; };
// struct dirlistplus3 { entryplus3 *entries; bool eof; };
// struct READDIRPLUS3resok { post_op_attr dir_attributes; cookieverf3 cookieverf; dirlistplus3 reply; };
// struct READDIRPLUS3resfail { post_op_attr dir_attributes; };
//
// "dircount: The maximum number of bytes of directory information returned. This number should not
// include the size of the attributes and file handle portions of the result. maxcount: The maximum size
// of the READDIRPLUS3resok structure, in bytes." Cookies as in READDIR.
public sealed partial class Nfs3Program
{
    private RpcOutcome ReadDirPlus(RpcCall call)
    {
        var r = new XdrReader(call.Arguments);
        if (!Nfs3Xdr.TryReadHandle(ref r, out var fh) || !r.TryReadUInt64(out ulong cookie) || !r.TryReadFixedOpaque(8, out _)
            || !r.TryReadUInt32(out uint dircount) || !r.TryReadUInt32(out uint maxcount))
            return RpcOutcome.GarbageArgs;
        var st = ResolveDirForListing(call, fh, out var dir);
        if (st != Nfsstat3.Ok)
            return StatusAndAttr(call, st, dir);
        int budget = (int)Math.Min(maxcount, MaxDirReply);
        int dirBudget = (int)Math.Min(dircount == 0 ? maxcount : dircount, MaxDirReply);
        var d = dir!.Snapshot();
        var w = call.BeginResults(budget + SmallReply);
        w.WriteUInt32((uint)Nfsstat3.Ok);
        Nfs3Xdr.WritePostOpAttr(ref w, d);
        w.WriteUInt64(d.Generation);
        int used = Nfs3Constants.PostOpAttrSize + 8 + 8;
        int dirUsed = 0;
        int written = 0;
        bool full = false;
        if (cookie == 0)
            full = !TryAddEntryPlus(ref w, ref used, ref dirUsed, budget, dirBudget, dir, "."u8, 1, ref written);
        if (!full && cookie <= 1)
        {
            var parent = _fs.GetNode(d.ParentId) ?? dir;
            full = !TryAddEntryPlus(ref w, ref used, ref dirUsed, budget, dirBudget, parent, ".."u8, 2, ref written);
        }
        bool eof = false;
        if (!full)
        {
            int max = Math.Clamp(budget / 140, 1, 4096);
            var entries = _fs.List(dir, Math.Max(cookie, 2), max);
            Span<byte> name = stackalloc byte[Nfs3Constants.MaxNameLength * 3];
            int i = 0;
            for (; i < entries.Count; i++)
            {
                var e = entries[i];
                var child = _fs.GetNode(e.ChildId);
                if (child is null)
                    continue;
                int n = Encoding.UTF8.GetBytes(e.Name, name);
                if (!TryAddEntryPlus(ref w, ref used, ref dirUsed, budget, dirBudget, child, name[..n], e.Cookie, ref written))
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

    private bool TryAddEntryPlus(ref XdrWriter w, ref int used, ref int dirUsed, int budget, int dirBudget, NfsNode node, scoped ReadOnlySpan<byte> name, ulong cookie, ref int written)
    {
        int dirSize = 8 + 4 + ((name.Length + 3) & ~3) + 8;
        int size = 4 + dirSize + Nfs3Constants.PostOpAttrSize + Nfs3Constants.PostOpFhSize;
        if (used + size > budget || (written > 0 && dirUsed + dirSize > dirBudget))
            return false;
        w.WriteBool(true);
        w.WriteUInt64(node.Id);
        w.WriteOpaque(name);
        w.WriteUInt64(cookie);
        Nfs3Xdr.WritePostOpAttr(ref w, node);
        Nfs3Xdr.WritePostOpFh(ref w, _fs.HandleOf(node));
        used += size;
        dirUsed += dirSize;
        written++;
        return true;
    }
}
