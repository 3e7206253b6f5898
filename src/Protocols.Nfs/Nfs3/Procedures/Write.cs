using System.Runtime.CompilerServices;
using StorageAppliance.Director;
using StorageAppliance.Protocols.Nfs.Namespace;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Nfs3;

// NFSPROC3_WRITE (RFC 1813 section 3.3.7)
//
// enum stable_how { UNSTABLE = 0, DATA_SYNC = 1, FILE_SYNC = 2 };
// struct WRITE3args { nfs_fh3 file; offset3 offset; count3 count; stable_how stable; opaque data<>; };
// struct WRITE3resok { wcc_data file_wcc; count3 count; stable_how committed; writeverf3 verf; };
// struct WRITE3resfail { wcc_data file_wcc; };
//
// The data is written from the request buffer (no copy). UNSTABLE writes are acknowledged when the
// engine has them; DATA_SYNC and FILE_SYNC go down with ForceUnitAccess ("the server must commit the
// data written plus all file system metadata to stable storage before returning results"), and a size
// they changed is written to the namespace before the reply.
public sealed partial class Nfs3Program
{
    private const int WriteReply = 4 + Nfs3Constants.WccDataSize + 4 + 4 + 8;

    private ValueTask<RpcOutcome> Write(RpcCall call)
    {
        var r = new XdrReader(call.Arguments);
        if (!Nfs3Xdr.TryReadHandle(ref r, out var fh) || !r.TryReadUInt64(out ulong offset) || !r.TryReadUInt32(out uint count)
            || !r.TryReadUInt32(out uint stableValue) || stableValue > 2 || !r.TryReadOpaqueRange(int.MaxValue, out int dataOffset, out int dataLength))
            return new(RpcOutcome.GarbageArgs);
        var stable = (StableHow)stableValue;
        var st = Resolve(call, fh, out var export, out var node);
        if (st != Nfsstat3.Ok)
            return new(StatusAndWcc(call, st, null, null));
        var rec = node.Snapshot();
        if (export.ReadOnly)
            st = Nfsstat3.RoFs;
        else if (rec.Type != Ftype3.Reg)
            st = rec.Type == Ftype3.Dir ? Nfsstat3.IsDir : Nfsstat3.Inval;
        else if (count > dataLength)
            st = Nfsstat3.Inval;
        else if (offset + count > (ulong)_fs.Options.MaxFileSize)
            st = Nfsstat3.FBig;
        else if (!NfsFileSystem.PermitsData(rec, Caller.Of(call, export), NfsFileSystem.MayWrite))
            st = Nfsstat3.Acces;
        if (st != Nfsstat3.Ok)
            return new(StatusAndWcc(call, st, WccAttr.Of(rec), node));
        if (count == 0)
            return new(FinishWrite(call, node, IoStatus.Ok, offset, 0, stable));
        st = _fs.EnsureDisk(export, node, out var disk);
        if (st != Nfsstat3.Ok)
            return new(StatusAndWcc(call, st, WccAttr.Of(rec), node));
        // Arguments are relative to the procedure's start; the memory view is too.
        var data = call.ArgumentsMemory.Slice(dataOffset, (int)count);
        var pending = disk.WriteAsync((long)offset, data, stable == StableHow.Unstable ? IoFlags.None : IoFlags.ForceUnitAccess, Context(call));
        if (pending.IsCompletedSuccessfully)
            return new(FinishWrite(call, node, pending.Result, offset, count, stable));
        return AwaitWrite(pending, call, node, offset, count, stable);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<RpcOutcome> AwaitWrite(ValueTask<IoStatus> pending, RpcCall call, NfsNode node, ulong offset, uint count, StableHow stable)
    {
        var status = await pending.ConfigureAwait(false);
        return FinishWrite(call, node, status, offset, count, stable);
    }

    private RpcOutcome FinishWrite(RpcCall call, NfsNode node, IoStatus status, ulong offset, uint count, StableHow stable)
    {
        if (status != IoStatus.Ok)
        {
            var st = NfsFileSystem.ToNfsstat(status);
            NfsLog.IoFailed(_log, "WRITE", node.Id, st.ToString());
            return StatusAndWcc(call, st, Before(node), node);
        }
        var before = _fs.RecordWrite(node, offset + count, out NodeRecord after);
        if (stable != StableHow.Unstable && after.Size != before.Size)
        {
            // A stable write promises the new size too: when it cannot be stored (a full disk) the write is not stable.
            var persisted = _fs.PersistAttributes(node);
            if (persisted != Nfsstat3.Ok)
            {
                NfsLog.IoFailed(_log, "WRITE", node.Id, persisted.ToString());
                return StatusAndWcc(call, persisted, before, node);
            }
        }
        var w = call.BeginResults(WriteReply);
        w.WriteUInt32((uint)Nfsstat3.Ok);
        Nfs3Xdr.WritePreOpAttr(ref w, before);
        Nfs3Xdr.WritePostOpAttr(ref w, after);
        w.WriteUInt32(count);
        w.WriteUInt32((uint)stable);
        w.WriteFixedOpaque(_writeVerifier);
        call.EndResults(w);
        return RpcOutcome.Success;
    }
}
