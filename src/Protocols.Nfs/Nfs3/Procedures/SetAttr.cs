using System.Runtime.CompilerServices;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Nfs3;

// NFSPROC3_SETATTR (RFC 1813 section 3.3.2)
//
// union sattrguard3 switch (bool check) { case TRUE: nfstime3 obj_ctime; case FALSE: void; };
// struct SETATTR3args { nfs_fh3 object; sattr3 new_attributes; sattrguard3 guard; };
// struct SETATTR3resok { wcc_data obj_wcc; };  struct SETATTR3resfail { wcc_data obj_wcc; };
//
// "If guard.check is TRUE, the server must compare the value of obj_ctime with the ctime attribute of
// the object. If the values are different, the server must preserve the object attributes and must
// return a status of NFS3ERR_NOT_SYNC." A smaller size releases the data past the new end.
public sealed partial class Nfs3Program
{
    private ValueTask<RpcOutcome> SetAttr(RpcCall call)
    {
        var r = new XdrReader(call.Arguments);
        if (!Nfs3Xdr.TryReadHandle(ref r, out var fh) || !Nfs3Xdr.TryReadSattr(ref r, out var attrs) || !r.TryReadBool(out bool check))
            return new(RpcOutcome.GarbageArgs);
        long? guard = null;
        if (check)
        {
            if (!Nfs3Xdr.TryReadTime(ref r, out long ctime))
                return new(RpcOutcome.GarbageArgs);
            guard = ctime;
        }
        var st = Resolve(call, fh, out var export, out var node);
        if (st != Nfsstat3.Ok)
            return new(StatusAndWcc(call, st, null, null));
        var before = Before(node);
        var pending = _fs.SetAttributesAsync(export, node, attrs, Caller.Of(call, export), guard, Context(call));
        if (pending.IsCompletedSuccessfully)
            return new(StatusAndWcc(call, pending.Result, before, node));
        return AwaitSetAttr(pending, call, before, node);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<RpcOutcome> AwaitSetAttr(ValueTask<Nfsstat3> pending, RpcCall call, WccAttr? before, NfsNode node)
    {
        var st = await pending.ConfigureAwait(false);
        return StatusAndWcc(call, st, before, node);
    }
}
