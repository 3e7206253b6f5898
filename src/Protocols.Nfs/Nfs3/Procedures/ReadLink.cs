using System.Text;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Nfs3;

// NFSPROC3_READLINK (RFC 1813 section 3.3.5)
//
// struct READLINK3args { nfs_fh3 symlink; };
// struct READLINK3resok { post_op_attr symlink_attributes; nfspath3 data; };
// struct READLINK3resfail { post_op_attr symlink_attributes; };
//
// "NFS3ERR_INVAL: the object is not a symbolic link".
public sealed partial class Nfs3Program
{
    private RpcOutcome ReadLink(RpcCall call)
    {
        var r = new XdrReader(call.Arguments);
        if (!Nfs3Xdr.TryReadHandle(ref r, out var fh))
            return RpcOutcome.GarbageArgs;
        var st = Resolve(call, fh, out _, out var node);
        if (st != Nfsstat3.Ok)
            return StatusAndAttr(call, st, null);
        var rec = node.Snapshot();
        if (rec.Type != Ftype3.Lnk)
            return StatusAndAttr(call, Nfsstat3.Inval, node);
        string target = rec.SymlinkTarget ?? string.Empty;
        var w = call.BeginResults(SmallReply + XdrWriter.StringSize(Encoding.UTF8.GetByteCount(target)));
        w.WriteUInt32((uint)Nfsstat3.Ok);
        Nfs3Xdr.WritePostOpAttr(ref w, rec);
        w.WriteString(target);
        call.EndResults(w);
        return RpcOutcome.Success;
    }
}
