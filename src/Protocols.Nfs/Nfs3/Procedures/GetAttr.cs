using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Nfs3;

// NFSPROC3_GETATTR (RFC 1813 section 3.3.1)
//
// struct GETATTR3args { nfs_fh3 object; };
// union GETATTR3res switch (nfsstat3 status) { case NFS3_OK: fattr3 obj_attributes; default: void; };
public sealed partial class Nfs3Program
{
    private RpcOutcome GetAttr(RpcCall call)
    {
        var r = new XdrReader(call.Arguments);
        if (!Nfs3Xdr.TryReadHandle(ref r, out var fh))
            return RpcOutcome.GarbageArgs;
        var st = Resolve(call, fh, out _, out var node);
        var w = call.BeginResults(4 + Nfs3Constants.Fattr3Size);
        w.WriteUInt32((uint)st);
        if (st == Nfsstat3.Ok)
            Nfs3Xdr.WriteFattr(ref w, node.Snapshot());
        call.EndResults(w);
        return RpcOutcome.Success;
    }
}
