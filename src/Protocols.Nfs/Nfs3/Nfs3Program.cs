using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using StorageAppliance.Director;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.Nfs.Nfs3;

/// <summary>
/// NFS version 3 (RFC 1813), program 100003: the 22 procedures, one partial file each under
/// <c>Nfs3/Procedures/</c>. Arguments that do not decode are GARBAGE_ARGS; everything else is an
/// nfsstat3 in the results (STYLE.md 6).
/// </summary>
public sealed partial class Nfs3Program : IRpcProgram
{
    /// <summary>Results of the small procedures fit in this (LOOKUP: status, handle and two post_op_attr).</summary>
    private const int SmallReply = 512;

    private readonly NfsFileSystem _fs;
    private readonly ILogger _log;
    private readonly byte[] _writeVerifier = new byte[8];

    /// <param name="writeVerifier">
    /// writeverf3 (RFC 1813 3.3.7): "a value that the client can use to determine whether the server
    /// has changed state between a call to WRITE and a subsequent call to either WRITE or COMMIT" — new
    /// at every start, so clients resend uncommitted writes after a restart.
    /// </param>
    public Nfs3Program(NfsFileSystem fs, ulong writeVerifier, ILogger logger)
    {
        _fs = fs;
        _log = logger;
        BinaryPrimitives.WriteUInt64BigEndian(_writeVerifier, writeVerifier);
        WriteVerifier = writeVerifier;
    }

    public uint Program => Nfs3Constants.Program;

    public uint LowVersion => 3;

    public uint HighVersion => 3;

    public string Name => "nfs";

    public ulong WriteVerifier { get; }

    public NfsFileSystem FileSystem => _fs;

    public ValueTask<RpcOutcome> HandleAsync(RpcCall call)
    {
        switch (call.Procedure)
        {
            case 0: return new(Null(call));
            case 1: return new(GetAttr(call));
            case 2: return SetAttr(call);
            case 3: return new(Lookup(call));
            case 4: return new(Access(call));
            case 5: return new(ReadLink(call));
            case 6: return Read(call);
            case 7: return Write(call);
            case 8: return Create(call);
            case 9: return new(MkDir(call));
            case 10: return new(Symlink(call));
            case 11: return new(MkNod(call));
            case 12: return new(Remove(call));
            case 13: return new(RmDir(call));
            case 14: return new(Rename(call));
            case 15: return new(Link(call));
            case 16: return new(ReadDir(call));
            case 17: return new(ReadDirPlus(call));
            case 18: return new(FsStat(call));
            case 19: return new(FsInfo(call));
            case 20: return new(PathConf(call));
            case 21: return Commit(call);
            default: return new(RpcOutcome.ProcUnavail);
        }
    }

    /// <summary>
    /// WRITE and COMMIT can wait in the kernel (page cache write-back, fsync), and large READs copy a lot:
    /// they run off the receive loop so the connection keeps reading the calls behind them.
    /// </summary>
    public bool RunOffLoop(RpcCall call) => call.Procedure switch
    {
        7 or 21 => true,
        6 => call.Arguments.Length >= 16 && System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(call.Arguments[^4..]) >= 65536,
        _ => false,
    };

    /// <summary>Resolves a handle and checks that the client may use its export.</summary>
    private Nfsstat3 Resolve(RpcCall call, ReadOnlySpan<byte> handle, out Export export, out NfsNode node)
    {
        var st = _fs.Resolve(handle, out export, out node);
        if (st == Nfsstat3.Ok && !export.IsClientAllowed(call.ClientAddress))
            return Nfsstat3.Acces;
        return st;
    }

    private static IoContext Context(RpcCall call) => new(IoProtocol.Nfs, call.Connection?.Peer ?? "local");

    /// <summary>A reply that is the status followed by one post_op_attr (failed GETATTR-like procedures).</summary>
    private static RpcOutcome StatusAndAttr(RpcCall call, Nfsstat3 status, NfsNode? node)
    {
        var w = call.BeginResults(SmallReply);
        w.WriteUInt32((uint)status);
        Nfs3Xdr.WritePostOpAttr(ref w, node);
        call.EndResults(w);
        return RpcOutcome.Success;
    }

    /// <summary>A reply that is the status followed by one wcc_data.</summary>
    private static RpcOutcome StatusAndWcc(RpcCall call, Nfsstat3 status, WccAttr? before, NfsNode? after)
    {
        var w = call.BeginResults(SmallReply);
        w.WriteUInt32((uint)status);
        Nfs3Xdr.WriteWcc(ref w, before, after);
        call.EndResults(w);
        return RpcOutcome.Success;
    }

    private static WccAttr? Before(NfsNode? node) => node is null ? null : WccAttr.Of(node.Snapshot());
}
