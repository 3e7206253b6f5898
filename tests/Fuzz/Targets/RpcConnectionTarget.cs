using StorageAppliance.Fuzz.Support;

namespace StorageAppliance.Fuzz.Targets;

/// <summary>
/// A whole ONC RPC connection (record marking, call header, AUTH_SYS and AUTH_NONE credentials, program
/// and version dispatch, then the NFS or MOUNT procedure) fed the input as the client's byte stream
/// through <see cref="Protocols.OncRpc.RpcServer.RunConnectionAsync"/> over in-memory pipes.
/// Documented outcomes: replies with GARBAGE_ARGS, AUTH_BADCRED, PROG_UNAVAIL and the like, and closing
/// the connection on broken framing; a defect is a logged or escaping exception or a connection that
/// does not end after the input ends.
/// </summary>
public sealed class RpcConnectionTarget : IFuzzTarget
{
    public string Name => "rpc-connection";

    public void Run(ReadOnlySpan<byte> input)
    {
        using var host = new NfsHost();
        host.RunConnection(input);
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        yield return ("nfs-null", RpcSeeds.Record(RpcSeeds.Call(1, 100003, 3, 0, [])));
        yield return ("mount-mnt", RpcSeeds.Record(RpcSeeds.Call(2, 100005, 3, 1, RpcSeeds.Str("/data"))));
        yield return ("mount-export-fragments", RpcSeeds.Fragments(RpcSeeds.Call(3, 100005, 3, 5, []), 8));
        yield return ("auth-none-getattr", RpcSeeds.Record(RpcSeeds.Call(4, 100003, 3, 1, RpcSeeds.Str("not-a-handle"), authSys: false)));
        yield return ("wrong-version-program", IscsiPduTarget.Concat(RpcSeeds.Record(RpcSeeds.Call(5, 100003, 2, 0, [])), RpcSeeds.Record(RpcSeeds.Call(6, 100099, 1, 0, []))));
        yield return ("auth-sys-gids", RpcSeeds.Record(AuthSysWithGids()));
        yield return ("rpc-version-3", RpcSeeds.Record([0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 3, 0, 1, 0x86, 0xA3, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
        yield return ("reply-from-client", RpcSeeds.Record([0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
        yield return ("truncated-record", [0x80, 0, 0, 0x40, 0, 0, 0, 1]);
    }

    /// <summary>An AUTH_SYS credential with 16 supplementary groups (the most RFC 5531 allows).</summary>
    private static byte[] AuthSysWithGids()
    {
        var cred = new List<byte>();
        void U32(uint v) => cred.AddRange([(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v]);
        U32(0);
        cred.AddRange(RpcSeeds.Str("client.example"));
        U32(1000);
        U32(1000);
        U32(16);
        for (uint g = 0; g < 16; g++)
            U32(100 + g);
        var call = new List<byte>();
        void C(uint v) => call.AddRange([(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v]);
        C(9);
        C(0);
        C(2);
        C(100003);
        C(3);
        C(0);
        C(1);
        C((uint)cred.Count);
        call.AddRange(cred);
        C(0);
        C(0);
        return call.ToArray();
    }
}
