using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Nfs3;

// NFSPROC3_ACCESS (RFC 1813 section 3.3.4)
//
// struct ACCESS3args { nfs_fh3 object; uint32 access; };
// struct ACCESS3resok { post_op_attr obj_attributes; uint32 access; };
// struct ACCESS3resfail { post_op_attr obj_attributes; };
//
// The reply holds the requested bits the caller has: READ 0x01, LOOKUP 0x02, MODIFY 0x04, EXTEND 0x08,
// DELETE 0x10, EXECUTE 0x20. On a read-only export MODIFY, EXTEND and DELETE are never granted.
public sealed partial class Nfs3Program
{
    private RpcOutcome Access(RpcCall call)
    {
        var r = new XdrReader(call.Arguments);
        if (!Nfs3Xdr.TryReadHandle(ref r, out var fh) || !r.TryReadUInt32(out uint requested))
            return RpcOutcome.GarbageArgs;
        var st = Resolve(call, fh, out var export, out var node);
        if (st != Nfsstat3.Ok)
            return StatusAndAttr(call, st, null);
        var rec = node.Snapshot();
        var caller = Caller.Of(call, export);
        AccessBits granted = 0;
        bool isDir = rec.Type == Ftype3.Dir;
        bool read = isDir ? NfsFileSystem.Permits(rec, caller, 4) : NfsFileSystem.PermitsData(rec, caller, 4);
        bool write = !export.ReadOnly && (isDir ? NfsFileSystem.Permits(rec, caller, 2) : NfsFileSystem.PermitsData(rec, caller, 2));
        bool exec = NfsFileSystem.Permits(rec, caller, 1);
        if (read)
            granted |= AccessBits.Read;
        if (write)
            granted |= AccessBits.Modify | AccessBits.Extend;
        if (isDir)
        {
            if (exec)
                granted |= AccessBits.Lookup;
            if (write)
                granted |= AccessBits.Delete;
        }
        else if (exec)
        {
            granted |= AccessBits.Execute;
        }
        var w = call.BeginResults(SmallReply);
        w.WriteUInt32((uint)Nfsstat3.Ok);
        Nfs3Xdr.WritePostOpAttr(ref w, rec);
        w.WriteUInt32(requested & (uint)granted);
        call.EndResults(w);
        return RpcOutcome.Success;
    }
}
