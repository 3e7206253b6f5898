using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Nfs3;

// NFSPROC3_SYMLINK (RFC 1813 section 3.3.10)
//
// struct symlinkdata3 { sattr3 symlink_attributes; nfspath3 symlink_data; };
// struct SYMLINK3args { diropargs3 where; symlinkdata3 symlink; };
// struct SYMLINK3resok { post_op_fh3 obj; post_op_attr obj_attributes; wcc_data dir_wcc; };
// struct SYMLINK3resfail { wcc_data dir_wcc; };
public sealed partial class Nfs3Program
{
    private RpcOutcome Symlink(RpcCall call)
    {
        var r = new XdrReader(call.Arguments);
        if (!Nfs3Xdr.TryReadDirOp(ref r, out var dirFh, out var name) || !Nfs3Xdr.TryReadSattr(ref r, out var attrs)
            || !r.TryReadString(Nfs3Constants.MaxPathLength, out string target))
            return RpcOutcome.GarbageArgs;
        var st = Resolve(call, dirFh, out var export, out var dir);
        if (st != Nfsstat3.Ok)
            return StatusAndWcc(call, st, null, null);
        var before = Before(dir);
        st = _fs.Create(export, dir, name, Caller.Of(call, export), Ftype3.Lnk, attrs, CreateMode.Guarded, 0, target, 0, 0, out var created, out _);
        return CreatedReply(call, st, before, dir, created);
    }
}
