using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Nfs3;

// NFSPROC3_RENAME (RFC 1813 section 3.3.14)
//
// struct RENAME3args { diropargs3 from; diropargs3 to; };
// struct RENAME3resok { wcc_data fromdir_wcc; wcc_data todir_wcc; };
// struct RENAME3resfail { wcc_data fromdir_wcc; wcc_data todir_wcc; };
//
// "If the directory, to.dir, already contains an entry with the name, to.name, the source object must
// be compatible with the target: either both are non-directories or both are directories and the
// target must be empty. If compatible, the existing target is removed before the rename occurs."
public sealed partial class Nfs3Program
{
    private RpcOutcome Rename(RpcCall call)
    {
        var r = new XdrReader(call.Arguments);
        if (!Nfs3Xdr.TryReadDirOp(ref r, out var fromFh, out var fromName) || !Nfs3Xdr.TryReadDirOp(ref r, out var toFh, out var toName))
            return RpcOutcome.GarbageArgs;
        var st = Resolve(call, fromFh, out var export, out var fromDir);
        NfsNode? toDir = null;
        if (st == Nfsstat3.Ok)
            st = Resolve(call, toFh, out _, out toDir);
        var fromBefore = Before(st == Nfsstat3.Ok ? fromDir : null);
        var toBefore = Before(toDir);
        if (st == Nfsstat3.Ok)
            st = _fs.Rename(export, fromDir, fromName, toDir!, toName, Caller.Of(call, export));
        var w = call.BeginResults(SmallReply);
        w.WriteUInt32((uint)st);
        Nfs3Xdr.WriteWcc(ref w, fromBefore, fromBefore is null ? null : fromDir);
        Nfs3Xdr.WriteWcc(ref w, toBefore, toDir);
        call.EndResults(w);
        return RpcOutcome.Success;
    }
}
