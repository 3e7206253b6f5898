using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Nfs3;

// NFSPROC3_LOOKUP (RFC 1813 section 3.3.3)
//
// struct LOOKUP3args { diropargs3 what; };
// struct LOOKUP3resok { nfs_fh3 object; post_op_attr obj_attributes; post_op_attr dir_attributes; };
// struct LOOKUP3resfail { post_op_attr dir_attributes; };
public sealed partial class Nfs3Program
{
    private RpcOutcome Lookup(RpcCall call)
    {
        var r = new XdrReader(call.Arguments);
        if (!Nfs3Xdr.TryReadDirOp(ref r, out var dirFh, out var name))
            return RpcOutcome.GarbageArgs;
        var st = Resolve(call, dirFh, out var export, out var dir);
        NfsNode? child = null;
        if (st == Nfsstat3.Ok)
            st = _fs.Lookup(dir, name, Caller.Of(call, export), out child);
        var w = call.BeginResults(SmallReply);
        w.WriteUInt32((uint)st);
        if (st == Nfsstat3.Ok)
        {
            Nfs3Xdr.WriteHandle(ref w, _fs.HandleOf(child!));
            Nfs3Xdr.WritePostOpAttr(ref w, child);
        }
        Nfs3Xdr.WritePostOpAttr(ref w, dir);
        call.EndResults(w);
        return RpcOutcome.Success;
    }
}
