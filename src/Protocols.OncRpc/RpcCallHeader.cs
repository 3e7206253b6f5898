using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.OncRpc;

/// <summary>
/// The header of a call message (RFC 5531 section 9).
/// <code>
/// struct rpc_msg { unsigned int xid; union switch (msg_type mtype) { case CALL: call_body cbody; ... } };
/// struct call_body {
///    unsigned int rpcvers;       /* must be equal to two (2) */
///    unsigned int prog;
///    unsigned int vers;
///    unsigned int proc;
///    opaque_auth  cred;          /* flavor + opaque body&lt;400&gt; */
///    opaque_auth  verf;
///    /* procedure-specific parameters start here */
/// };
/// </code>
/// </summary>
public readonly struct RpcCallHeader
{
    public const int MaxAuthBody = 400;

    public uint Xid { get; init; }

    public MessageType Type { get; init; }

    public uint RpcVersion { get; init; }

    public uint Program { get; init; }

    public uint Version { get; init; }

    public uint Procedure { get; init; }

    public AuthFlavor CredentialFlavor { get; init; }

    public int CredentialOffset { get; init; }

    public int CredentialLength { get; init; }

    public AuthFlavor VerifierFlavor { get; init; }

    /// <summary>Offset of the procedure's arguments in the record.</summary>
    public int ArgumentsOffset { get; init; }

    /// <summary>
    /// Set when the call is well formed up to an authenticator body longer than 400 bytes: the answer is
    /// MSG_DENIED / AUTH_ERROR with this status (AUTH_BADCRED for the credential, AUTH_BADVERF for the
    /// verifier), not GARBAGE_ARGS. The fields after the bad authenticator are not read.
    /// </summary>
    public AuthStat? AuthProblem { get; init; }

    /// <summary>
    /// Parses a call header from a whole record. Returns false if it is truncated or malformed;
    /// <paramref name="xid"/> is set whenever the first word was present, so a reply can still be sent.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> record, out RpcCallHeader header, out uint? xid)
    {
        header = default;
        xid = null;
        var r = new XdrReader(record);
        if (!r.TryReadUInt32(out uint x))
            return false;
        xid = x;
        if (!r.TryReadUInt32(out uint mtype))
            return false;
        if (mtype != (uint)MessageType.Call)
        {
            header = new RpcCallHeader { Xid = x, Type = (MessageType)mtype };
            return true;
        }
        if (!r.TryReadUInt32(out uint rpcvers) || !r.TryReadUInt32(out uint prog) || !r.TryReadUInt32(out uint vers) || !r.TryReadUInt32(out uint proc)
            || !r.TryReadUInt32(out uint credFlavor))
            return false;
        // RFC 5531 section 8.2: "opaque body<400>". A longer body is a bad credential, an authentication
        // error the client can act on, not garbage arguments.
        AuthStat? problem = null;
        int credOffset = 0, credLength = 0;
        uint verfFlavor = 0;
        if (AuthBodyTooLong(r))
            problem = AuthStat.BadCred;
        else if (!r.TryReadOpaqueRange(MaxAuthBody, out credOffset, out credLength) || !r.TryReadUInt32(out verfFlavor))
            return false;
        else if (AuthBodyTooLong(r))
            problem = AuthStat.BadVerf;
        else if (!r.TryReadOpaque(MaxAuthBody, out _))
            return false;
        header = new RpcCallHeader
        {
            Xid = x,
            Type = MessageType.Call,
            RpcVersion = rpcvers,
            Program = prog,
            Version = vers,
            Procedure = proc,
            CredentialFlavor = (AuthFlavor)credFlavor,
            CredentialOffset = credOffset,
            CredentialLength = credLength,
            VerifierFlavor = (AuthFlavor)verfFlavor,
            ArgumentsOffset = r.Position,
            AuthProblem = problem,
        };
        return true;
    }

    // Peeks at an opaque_auth body's length word without consuming it.
    private static bool AuthBodyTooLong(XdrReader r) => r.TryReadUInt32(out uint length) && length > MaxAuthBody;

    /// <summary>Writes a call header with AUTH_SYS or AUTH_NONE (used by the rpcbind client and tests).</summary>
    public static void WriteCall(ref XdrWriter w, uint xid, uint program, uint version, uint procedure, uint uid = 0, uint gid = 0, bool authSys = true)
    {
        w.WriteUInt32(xid);
        w.WriteUInt32((uint)MessageType.Call);
        w.WriteUInt32(2);
        w.WriteUInt32(program);
        w.WriteUInt32(version);
        w.WriteUInt32(procedure);
        if (authSys)
        {
            w.WriteUInt32((uint)AuthFlavor.Sys);
            w.WriteUInt32(4 + 8 + 4 + 4 + 4);
            w.WriteUInt32(0); // stamp
            w.WriteString("appl");
            w.WriteUInt32(uid);
            w.WriteUInt32(gid);
            w.WriteUInt32(0);
        }
        else
        {
            w.WriteUInt32((uint)AuthFlavor.None);
            w.WriteUInt32(0);
        }
        w.WriteUInt32((uint)AuthFlavor.None);
        w.WriteUInt32(0);
    }
}
