using System.Runtime.CompilerServices;
using StorageAppliance.Director;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Nfs3;

// NFSPROC3_COMMIT (RFC 1813 section 3.3.21)
//
// struct COMMIT3args { nfs_fh3 file; offset3 offset; count3 count; };
// struct COMMIT3resok { wcc_data file_wcc; writeverf3 verf; };
// struct COMMIT3resfail { wcc_data file_wcc; };
//
// Makes every earlier write of the file durable (the vDisk's flush, the ack point of the journal) and
// writes its size and times to the namespace. The whole file is committed whatever offset/count say,
// which the RFC allows ("the server may ... commit more than requested").
public sealed partial class Nfs3Program
{
    private ValueTask<RpcOutcome> Commit(RpcCall call)
    {
        var r = new XdrReader(call.Arguments);
        if (!Nfs3Xdr.TryReadHandle(ref r, out var fh) || !r.TryReadUInt64(out _) || !r.TryReadUInt32(out _))
            return new(RpcOutcome.GarbageArgs);
        var st = Resolve(call, fh, out var export, out var node);
        if (st != Nfsstat3.Ok)
            return new(StatusAndWcc(call, st, null, null));
        var rec = node.Snapshot();
        if (rec.Type != Ftype3.Reg)
            return new(StatusAndWcc(call, rec.Type == Ftype3.Dir ? Nfsstat3.IsDir : Nfsstat3.Inval, WccAttr.Of(rec), node));
        var before = WccAttr.Of(rec);
        // As WRITE, which COMMIT completes: refused on a read-only export, and needs write permission
        // (or ownership: the owner override of an open file).
        if (export.ReadOnly)
            return new(StatusAndWcc(call, Nfsstat3.RoFs, before, node));
        if (!NfsFileSystem.PermitsData(rec, Caller.Of(call, export), NfsFileSystem.MayWrite))
            return new(StatusAndWcc(call, Nfsstat3.Acces, before, node));
        var disk = _fs.OpenDisk(node, out bool lost);
        if (lost)
            return new(StatusAndWcc(call, Nfsstat3.Io, before, node));
        if (disk is null)
            return new(FinishCommit(call, node, IoStatus.Ok, before));
        var pending = disk.FlushAsync(Context(call));
        if (pending.IsCompletedSuccessfully)
            return new(FinishCommit(call, node, pending.Result, before));
        return AwaitCommit(pending, call, node, before);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<RpcOutcome> AwaitCommit(ValueTask<IoStatus> pending, RpcCall call, NfsNode node, WccAttr before)
    {
        var status = await pending.ConfigureAwait(false);
        return FinishCommit(call, node, status, before);
    }

    private RpcOutcome FinishCommit(RpcCall call, NfsNode node, IoStatus status, WccAttr before)
    {
        if (status != IoStatus.Ok)
        {
            var st = NfsFileSystem.ToNfsstat(status);
            NfsLog.IoFailed(_log, "COMMIT", node.Id, st.ToString());
            return StatusAndWcc(call, st, before, node);
        }
        var persisted = _fs.PersistAttributes(node);
        if (persisted != Nfsstat3.Ok)
        {
            NfsLog.IoFailed(_log, "COMMIT", node.Id, persisted.ToString());
            return StatusAndWcc(call, persisted, before, node);
        }
        var w = call.BeginResults(4 + Nfs3Constants.WccDataSize + 8);
        w.WriteUInt32((uint)Nfsstat3.Ok);
        Nfs3Xdr.WriteWcc(ref w, before, node);
        w.WriteFixedOpaque(_writeVerifier);
        call.EndResults(w);
        return RpcOutcome.Success;
    }
}
