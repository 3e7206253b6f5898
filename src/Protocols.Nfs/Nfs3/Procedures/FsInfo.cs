using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Nfs3;

// NFSPROC3_FSINFO (RFC 1813 section 3.3.19)
//
// struct FSINFO3args { nfs_fh3 fsroot; };
// struct FSINFO3resok { post_op_attr obj_attributes; uint32 rtmax; uint32 rtpref; uint32 rtmult;
//                       uint32 wtmax; uint32 wtpref; uint32 wtmult; uint32 dtpref; size3 maxfilesize;
//                       nfstime3 time_delta; uint32 properties; };
// struct FSINFO3resfail { post_op_attr obj_attributes; };
//
// properties: FSF3_LINK 0x1 | FSF3_SYMLINK 0x2 | FSF3_HOMOGENEOUS 0x8 | FSF3_CANSETTIME 0x10.
public sealed partial class Nfs3Program
{
    private RpcOutcome FsInfo(RpcCall call)
    {
        var r = new XdrReader(call.Arguments);
        if (!Nfs3Xdr.TryReadHandle(ref r, out var fh))
            return RpcOutcome.GarbageArgs;
        var st = Resolve(call, fh, out _, out var node);
        if (st != Nfsstat3.Ok)
            return StatusAndAttr(call, st, null);
        uint max = (uint)_fs.Options.MaxTransferSize;
        var w = call.BeginResults(SmallReply);
        w.WriteUInt32((uint)Nfsstat3.Ok);
        Nfs3Xdr.WritePostOpAttr(ref w, node);
        w.WriteUInt32(max);   // rtmax
        w.WriteUInt32(max);   // rtpref
        w.WriteUInt32(4096);  // rtmult
        w.WriteUInt32(max);   // wtmax
        w.WriteUInt32(max);   // wtpref
        w.WriteUInt32(4096);  // wtmult
        w.WriteUInt32(64 * 1024); // dtpref
        w.WriteUInt64((ulong)_fs.Options.MaxFileSize);
        w.WriteUInt32(0);     // time_delta: 1 ns
        w.WriteUInt32(1);
        w.WriteUInt32(0x1 | 0x2 | 0x8 | 0x10);
        call.EndResults(w);
        return RpcOutcome.Success;
    }
}
