using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Nfs3;

// NFSPROC3_RMDIR (RFC 1813 section 3.3.13)
//
// struct RMDIR3args { diropargs3 object; };
// struct RMDIR3resok { wcc_data dir_wcc; };  struct RMDIR3resfail { wcc_data dir_wcc; };
//
// "NFS3ERR_NOTEMPTY: An attempt was made to remove a directory that was not empty."
public sealed partial class Nfs3Program
{
    private RpcOutcome RmDir(RpcCall call)
    {
        var r = new XdrReader(call.Arguments);
        if (!Nfs3Xdr.TryReadDirOp(ref r, out var dirFh, out var name))
            return RpcOutcome.GarbageArgs;
        var st = Resolve(call, dirFh, out var export, out var dir);
        if (st != Nfsstat3.Ok)
            return StatusAndWcc(call, st, null, null);
        var before = Before(dir);
        st = _fs.Remove(export, dir, name, Caller.Of(call, export), directory: true);
        return StatusAndWcc(call, st, before, dir);
    }
}
