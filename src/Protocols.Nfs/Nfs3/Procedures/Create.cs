using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Nfs3;

// NFSPROC3_CREATE (RFC 1813 section 3.3.8)
//
// enum createmode3 { UNCHECKED = 0, GUARDED = 1, EXCLUSIVE = 2 };
// union createhow3 switch (createmode3 mode) {
//   case UNCHECKED: case GUARDED: sattr3 obj_attributes;
//   case EXCLUSIVE: createverf3 verf;          /* 8 bytes */
// };
// struct CREATE3args { diropargs3 where; createhow3 how; };
// struct CREATE3resok { post_op_fh3 obj; post_op_attr obj_attributes; wcc_data dir_wcc; };
// struct CREATE3resfail { wcc_data dir_wcc; };
//
// UNCHECKED on an existing regular file succeeds and applies the attributes (a size of 0 truncates);
// GUARDED fails with NFS3ERR_EXIST; EXCLUSIVE succeeds only as the retransmission of the create that
// stored the same verifier. A regular file gets its vDisk at its first write.
public sealed partial class Nfs3Program
{
    private ValueTask<RpcOutcome> Create(RpcCall call)
    {
        var r = new XdrReader(call.Arguments);
        if (!Nfs3Xdr.TryReadDirOp(ref r, out var dirFh, out var name) || !r.TryReadUInt32(out uint modeValue) || modeValue > 2)
            return new(RpcOutcome.GarbageArgs);
        var mode = (CreateMode)modeValue;
        SetAttributes attrs = default;
        ulong verifier = 0;
        if (mode == CreateMode.Exclusive)
        {
            if (!r.TryReadFixedOpaque(8, out var verf))
                return new(RpcOutcome.GarbageArgs);
            verifier = BinaryPrimitives.ReadUInt64BigEndian(verf);
        }
        else if (!Nfs3Xdr.TryReadSattr(ref r, out attrs))
        {
            return new(RpcOutcome.GarbageArgs);
        }
        var st = Resolve(call, dirFh, out var export, out var dir);
        if (st != Nfsstat3.Ok)
            return new(StatusAndWcc(call, st, null, null));
        var before = Before(dir);
        var caller = Caller.Of(call, export);
        st = _fs.Create(export, dir, name, caller, Ftype3.Reg, attrs, mode, verifier, null, 0, 0, out var created, out bool existed);
        if (st == Nfsstat3.Ok && existed && mode == CreateMode.Unchecked && !attrs.IsEmpty)
        {
            var pending = _fs.SetAttributesAsync(export, created!, attrs, caller, null, Context(call));
            if (!pending.IsCompletedSuccessfully)
                return AwaitCreateTruncate(pending, call, before, dir, created!);
            st = pending.Result;
        }
        return new(CreatedReply(call, st, before, dir, created));
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<RpcOutcome> AwaitCreateTruncate(ValueTask<Nfsstat3> pending, RpcCall call, WccAttr? before, NfsNode dir, NfsNode created)
    {
        var st = await pending.ConfigureAwait(false);
        return CreatedReply(call, st, before, dir, created);
    }

    /// <summary>The reply shared by CREATE, MKDIR, SYMLINK and MKNOD.</summary>
    private RpcOutcome CreatedReply(RpcCall call, Nfsstat3 st, WccAttr? before, NfsNode dir, NfsNode? created)
    {
        var w = call.BeginResults(SmallReply);
        w.WriteUInt32((uint)st);
        if (st == Nfsstat3.Ok)
        {
            Nfs3Xdr.WritePostOpFh(ref w, _fs.HandleOf(created!));
            Nfs3Xdr.WritePostOpAttr(ref w, created);
        }
        Nfs3Xdr.WriteWcc(ref w, before, dir);
        call.EndResults(w);
        return RpcOutcome.Success;
    }
}
