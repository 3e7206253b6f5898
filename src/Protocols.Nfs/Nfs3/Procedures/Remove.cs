using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Nfs3;

// NFSPROC3_REMOVE (RFC 1813 section 3.3.12)
//
// struct REMOVE3args { diropargs3 object; };
// struct REMOVE3resok { wcc_data dir_wcc; };  struct REMOVE3resfail { wcc_data dir_wcc; };
//
// Removing the last link deletes the object; a regular file's vDisk is deleted with it, and its handle
// answers NFS3ERR_STALE from then on.
public sealed partial class Nfs3Program
{
    private RpcOutcome Remove(RpcCall call)
    {
        var r = new XdrReader(call.Arguments);
        if (!Nfs3Xdr.TryReadDirOp(ref r, out var dirFh, out var name))
            return RpcOutcome.GarbageArgs;
        var st = Resolve(call, dirFh, out var export, out var dir);
        if (st != Nfsstat3.Ok)
            return StatusAndWcc(call, st, null, null);
        var before = Before(dir);
        st = _fs.Remove(export, dir, name, Caller.Of(call, export), directory: false);
        return StatusAndWcc(call, st, before, dir);
    }
}
