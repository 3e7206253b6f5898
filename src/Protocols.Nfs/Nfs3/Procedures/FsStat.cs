using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Nfs3;

// NFSPROC3_FSSTAT (RFC 1813 section 3.3.18)
//
// struct FSSTAT3args { nfs_fh3 fsroot; };
// struct FSSTAT3resok { post_op_attr obj_attributes; size3 tbytes; size3 fbytes; size3 abytes;
//                       size3 tfiles; size3 ffiles; size3 afiles; uint32 invarsec; };
// struct FSSTAT3resfail { post_op_attr obj_attributes; };
//
// tbytes/fbytes/abytes are the export's container: its maximum (or its pool's capacity) and what it can
// still take (IContainerSpace, the storage engine). abytes, "free space available to the user
// identified by the authentication information", equals fbytes: there are no per-user quotas. The
// file counts are not limited (each file is a vDisk; ids are 64-bit). invarsec 0: the figures may
// change at any moment (thin provisioning, other containers writing to the pool).
public sealed partial class Nfs3Program
{
    private RpcOutcome FsStat(RpcCall call)
    {
        var r = new XdrReader(call.Arguments);
        if (!Nfs3Xdr.TryReadHandle(ref r, out var fh))
            return RpcOutcome.GarbageArgs;
        var st = Resolve(call, fh, out var export, out var node);
        if (st != Nfsstat3.Ok)
            return StatusAndAttr(call, st, null);
        var space = _fs.SpaceOf(export);
        var w = call.BeginResults(SmallReply);
        w.WriteUInt32((uint)Nfsstat3.Ok);
        Nfs3Xdr.WritePostOpAttr(ref w, node);
        w.WriteUInt64((ulong)space.TotalBytes);
        w.WriteUInt64((ulong)space.FreeBytes);
        w.WriteUInt64((ulong)space.FreeBytes);
        w.WriteUInt64(1UL << 32);
        w.WriteUInt64(1UL << 32);
        w.WriteUInt64(1UL << 32);
        w.WriteUInt32(0);
        call.EndResults(w);
        return RpcOutcome.Success;
    }
}
