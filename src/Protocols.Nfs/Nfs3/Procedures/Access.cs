using StorageAppliance.Protocols.Nfs.Namespace;
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
// DELETE 0x10, EXECUTE 0x20. "The server should return a status of NFS3_OK if no errors occurred that
// prevented the server from making the required access checks", and a client uses the answer to decide
// whether open(O_WRONLY) or an exec may go ahead, so it comes from the mode bits alone, like the Linux
// server's nfsd_access: no owner override here (that belongs to READ and WRITE of a file already open),
// so 0400 gives the owner READ only. Per type, as knfsd maps them:
//   file, symlink: READ r, EXECUTE x, MODIFY and EXTEND w
//   directory:     READ r, LOOKUP x, MODIFY, EXTEND and DELETE w+x (what creating and removing entries need)
//   device, FIFO,  READ r, EXECUTE x, MODIFY and EXTEND w, even on a read-only export: writing to a device
//   socket:        node or FIFO happens on the client and does not write the export
// On a read-only export MODIFY, EXTEND and DELETE of files and directories are never granted. Root (not
// squashed) gets everything but EXECUTE of a file with no execute bit.
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
        var w = call.BeginResults(SmallReply);
        w.WriteUInt32((uint)Nfsstat3.Ok);
        Nfs3Xdr.WritePostOpAttr(ref w, rec);
        w.WriteUInt32(requested & (uint)Granted(rec, Caller.Of(call, export), export.ReadOnly));
        call.EndResults(w);
        return RpcOutcome.Success;
    }

    /// <summary>The ACCESS3 bits <paramref name="caller"/> has on an object (see the table above).</summary>
    internal static AccessBits Granted(in NodeRecord rec, in Caller caller, bool readOnlyExport)
    {
        AccessBits granted = 0;
        if (NfsFileSystem.Permits(rec, caller, NfsFileSystem.MayRead))
            granted |= AccessBits.Read;
        if (rec.Type == Ftype3.Dir)
        {
            if (NfsFileSystem.Permits(rec, caller, NfsFileSystem.MayExec))
                granted |= AccessBits.Lookup;
            if (!readOnlyExport && NfsFileSystem.Permits(rec, caller, NfsFileSystem.MayWrite | NfsFileSystem.MayExec))
                granted |= AccessBits.Modify | AccessBits.Extend | AccessBits.Delete;
            return granted;
        }
        if (NfsFileSystem.Permits(rec, caller, NfsFileSystem.MayExec))
            granted |= AccessBits.Execute;
        if ((!readOnlyExport || rec.Type != Ftype3.Reg && rec.Type != Ftype3.Lnk) && NfsFileSystem.Permits(rec, caller, NfsFileSystem.MayWrite))
            granted |= AccessBits.Modify | AccessBits.Extend;
        return granted;
    }
}
