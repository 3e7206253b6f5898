using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Nfs3;

// NFSPROC3_MKNOD (RFC 1813 section 3.3.11)
//
// struct devicedata3 { sattr3 dev_attributes; specdata3 spec; };
// union mknoddata3 switch (ftype3 type) {
//   case NF3CHR: case NF3BLK: devicedata3 device;
//   case NF3SOCK: case NF3FIFO: sattr3 pipe_attributes;
//   default: void;
// };
// struct MKNOD3args { diropargs3 where; mknoddata3 what; };
// struct MKNOD3resok { post_op_fh3 obj; post_op_attr obj_attributes; wcc_data dir_wcc; };
// struct MKNOD3resfail { wcc_data dir_wcc; };
//
// "NFS3ERR_BADTYPE: An attempt was made to create an object of a type not supported by the server"
// — here, regular files, directories and links, which have procedures of their own.
public sealed partial class Nfs3Program
{
    private RpcOutcome MkNod(RpcCall call)
    {
        var r = new XdrReader(call.Arguments);
        if (!Nfs3Xdr.TryReadDirOp(ref r, out var dirFh, out var name) || !r.TryReadUInt32(out uint typeValue))
            return RpcOutcome.GarbageArgs;
        var type = (Ftype3)typeValue;
        SetAttributes attrs = default;
        uint major = 0, minor = 0;
        switch (type)
        {
            case Ftype3.Chr:
            case Ftype3.Blk:
                if (!Nfs3Xdr.TryReadSattr(ref r, out attrs) || !r.TryReadUInt32(out major) || !r.TryReadUInt32(out minor))
                    return RpcOutcome.GarbageArgs;
                break;
            case Ftype3.Sock:
            case Ftype3.Fifo:
                if (!Nfs3Xdr.TryReadSattr(ref r, out attrs))
                    return RpcOutcome.GarbageArgs;
                break;
            case Ftype3.Reg:
            case Ftype3.Dir:
            case Ftype3.Lnk:
                break;
            default:
                return RpcOutcome.GarbageArgs;
        }
        var st = Resolve(call, dirFh, out var export, out var dir);
        if (st != Nfsstat3.Ok)
            return StatusAndWcc(call, st, null, null);
        var before = Before(dir);
        if (type is Ftype3.Reg or Ftype3.Dir or Ftype3.Lnk)
            return StatusAndWcc(call, Nfsstat3.BadType, before, dir);
        // Only root makes device nodes (Linux: CAP_MKNOD, which knfsd drops for every other uid); anyone
        // with write permission on the directory may make a FIFO or a socket.
        if (type is Ftype3.Chr or Ftype3.Blk && Caller.Of(call, export).Uid != 0)
            return StatusAndWcc(call, Nfsstat3.Perm, before, dir);
        st = _fs.Create(export, dir, name, Caller.Of(call, export), type, attrs, CreateMode.Guarded, 0, null, major, minor, out var created, out _);
        return CreatedReply(call, st, before, dir, created);
    }
}
