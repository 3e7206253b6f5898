using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Nfs3;

// NFSPROC3_LINK (RFC 1813 section 3.3.15)
//
// struct LINK3args { nfs_fh3 file; diropargs3 link; };
// struct LINK3resok { post_op_attr file_attributes; wcc_data linkdir_wcc; };
// struct LINK3resfail { post_op_attr file_attributes; wcc_data linkdir_wcc; };
public sealed partial class Nfs3Program
{
    private RpcOutcome Link(RpcCall call)
    {
        var r = new XdrReader(call.Arguments);
        if (!Nfs3Xdr.TryReadHandle(ref r, out var fileFh) || !Nfs3Xdr.TryReadDirOp(ref r, out var dirFh, out var name))
            return RpcOutcome.GarbageArgs;
        var st = Resolve(call, fileFh, out var export, out var file);
        NfsNode? dir = null;
        if (st == Nfsstat3.Ok)
            st = Resolve(call, dirFh, out _, out dir);
        var before = Before(dir);
        if (st == Nfsstat3.Ok)
            st = _fs.Link(export, file, dir!, name, Caller.Of(call, export));
        var w = call.BeginResults(SmallReply);
        w.WriteUInt32((uint)st);
        Nfs3Xdr.WritePostOpAttr(ref w, file);
        Nfs3Xdr.WriteWcc(ref w, before, dir);
        call.EndResults(w);
        return RpcOutcome.Success;
    }
}
