using System.Runtime.CompilerServices;
using StorageAppliance.Director;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Nfs3;

// NFSPROC3_READ (RFC 1813 section 3.3.6)
//
// struct READ3args { nfs_fh3 file; offset3 offset; count3 count; };
// struct READ3resok { post_op_attr file_attributes; count3 count; bool eof; opaque data<>; };
// struct READ3resfail { post_op_attr file_attributes; };
//
// The vDisk reads straight into the reply buffer behind a fixed-size header, so a READ copies its data
// once (into the socket's pipe) and allocates nothing. Past the file's size there is no data: "eof: If
// the read ended at the end-of-file (formally, in a correctly formed READ request, if READ3args.offset
// plus READ3resok.count is equal to the size of the file), eof is returned as TRUE".
public sealed partial class Nfs3Program
{
    /// <summary>status, post_op_attr (always with attributes), count, eof, data length.</summary>
    private const int ReadHeader = 4 + Nfs3Constants.PostOpAttrSize + 4 + 4 + 4;

    private ValueTask<RpcOutcome> Read(RpcCall call)
    {
        var r = new XdrReader(call.Arguments);
        if (!Nfs3Xdr.TryReadHandle(ref r, out var fh) || !r.TryReadUInt64(out ulong offset) || !r.TryReadUInt32(out uint count))
            return new(RpcOutcome.GarbageArgs);
        var st = Resolve(call, fh, out var export, out var node);
        if (st != Nfsstat3.Ok)
            return new(StatusAndAttr(call, st, null));
        var rec = node.Snapshot();
        if (rec.Type != Ftype3.Reg)
            return new(StatusAndAttr(call, rec.Type == Ftype3.Dir ? Nfsstat3.IsDir : Nfsstat3.Inval, node));
        if (!NfsFileSystem.PermitsData(rec, Caller.Of(call, export), NfsFileSystem.MayRead))
            return new(StatusAndAttr(call, Nfsstat3.Acces, node));
        count = Math.Min(count, (uint)_fs.Options.MaxTransferSize);
        int n = offset >= rec.Size ? 0 : (int)Math.Min(count, rec.Size - offset);
        bool eof = offset + (ulong)n >= rec.Size;
        var memory = call.ResultsMemory(ReadHeader + n + 4);
        var data = memory.Slice(ReadHeader, n);
        var disk = _fs.OpenDisk(node, out bool lost);
        if (lost)
            return new(StatusAndAttr(call, Nfsstat3.Io, node));
        if (n == 0 || disk is null)
        {
            data.Span.Clear();
            return new(FinishRead(call, node, IoStatus.Ok, n, eof));
        }
        var pending = disk.ReadAsync((long)offset, data, Context(call));
        if (pending.IsCompletedSuccessfully)
            return new(FinishRead(call, node, pending.Result, n, eof));
        return AwaitRead(pending, call, node, n, eof);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<RpcOutcome> AwaitRead(ValueTask<IoStatus> pending, RpcCall call, NfsNode node, int n, bool eof)
    {
        var status = await pending.ConfigureAwait(false);
        return FinishRead(call, node, status, n, eof);
    }

    private RpcOutcome FinishRead(RpcCall call, NfsNode node, IoStatus status, int n, bool eof)
    {
        if (status != IoStatus.Ok)
        {
            var st = NfsFileSystem.ToNfsstat(status);
            NfsLog.IoFailed(_log, "READ", node.Id, st.ToString());
            return StatusAndAttr(call, st, node);
        }
        var w = call.BeginResults(ReadHeader + n + 4);
        w.WriteUInt32((uint)Nfsstat3.Ok);
        Nfs3Xdr.WritePostOpAttr(ref w, node);
        w.WriteUInt32((uint)n);
        w.WriteBool(eof);
        w.WriteUInt32((uint)n);
        w.Reserve(n); // already filled by the vDisk
        w.WritePadding(n);
        call.EndResults(w);
        return RpcOutcome.Success;
    }
}
