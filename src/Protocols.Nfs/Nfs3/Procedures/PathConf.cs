using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Nfs3;

// NFSPROC3_PATHCONF (RFC 1813 section 3.3.20)
//
// struct PATHCONF3args { nfs_fh3 object; };
// struct PATHCONF3resok { post_op_attr obj_attributes; uint32 linkmax; uint32 name_max; bool no_trunc;
//                         bool chown_restricted; bool case_insensitive; bool case_preserving; };
// struct PATHCONF3resfail { post_op_attr obj_attributes; };
public sealed partial class Nfs3Program
{
    private RpcOutcome PathConf(RpcCall call)
    {
        var r = new XdrReader(call.Arguments);
        if (!Nfs3Xdr.TryReadHandle(ref r, out var fh))
            return RpcOutcome.GarbageArgs;
        var st = Resolve(call, fh, out _, out var node);
        if (st != Nfsstat3.Ok)
            return StatusAndAttr(call, st, null);
        var w = call.BeginResults(SmallReply);
        w.WriteUInt32((uint)Nfsstat3.Ok);
        Nfs3Xdr.WritePostOpAttr(ref w, node);
        w.WriteUInt32(32000);
        w.WriteUInt32(Nfs3Constants.MaxNameLength);
        w.WriteBool(true);  // no_trunc: long names are refused, not truncated
        w.WriteBool(true);  // chown_restricted
        w.WriteBool(false); // case_insensitive
        w.WriteBool(true);  // case_preserving
        call.EndResults(w);
        return RpcOutcome.Success;
    }
}
