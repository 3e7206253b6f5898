namespace StorageAppliance.Protocols.OncRpc;

/// <summary>msg_type (RFC 5531 section 9).</summary>
public enum MessageType : uint
{
    Call = 0,
    Reply = 1,
}

/// <summary>reply_stat (RFC 5531 section 9).</summary>
public enum ReplyStat : uint
{
    Accepted = 0,
    Denied = 1,
}

/// <summary>
/// accept_stat (RFC 5531 section 9): how an accepted call ended.
/// <list type="table">
/// <item><term>0 SUCCESS</term><description>executed; results follow</description></item>
/// <item><term>1 PROG_UNAVAIL</term><description>program not exported here</description></item>
/// <item><term>2 PROG_MISMATCH</term><description>version not supported; low and high follow</description></item>
/// <item><term>3 PROC_UNAVAIL</term><description>no such procedure</description></item>
/// <item><term>4 GARBAGE_ARGS</term><description>arguments could not be decoded</description></item>
/// <item><term>5 SYSTEM_ERR</term><description>e.g. out of memory</description></item>
/// </list>
/// </summary>
public enum AcceptStat : uint
{
    Success = 0,
    ProgUnavail = 1,
    ProgMismatch = 2,
    ProcUnavail = 3,
    GarbageArgs = 4,
    SystemErr = 5,
}

/// <summary>reject_stat (RFC 5531 section 9).</summary>
public enum RejectStat : uint
{
    RpcMismatch = 0,
    AuthError = 1,
}

/// <summary>auth_stat (RFC 5531 section 9).</summary>
public enum AuthStat : uint
{
    Ok = 0,
    BadCred = 1,
    RejectedCred = 2,
    BadVerf = 3,
    RejectedVerf = 4,
    TooWeak = 5,
    InvalidResp = 6,
    Failed = 7,
}

/// <summary>auth_flavor (RFC 5531 section 8.2 and appendix A).</summary>
public enum AuthFlavor : uint
{
    None = 0,
    Sys = 1,
    Short = 2,
    Dh = 3,
    RpcsecGss = 6,
}

/// <summary>
/// What a program's handler decided about a call: either an accept_stat for an accepted reply, or an
/// authentication refusal (a MSG_DENIED reply with AUTH_ERROR).
/// </summary>
public enum RpcOutcome : byte
{
    Success = 0,
    ProcUnavail = 1,
    GarbageArgs = 2,
    SystemErr = 3,
    AuthTooWeak = 4,
    AuthBadCred = 5,

    /// <summary>Send nothing (e.g. a call the program chose to drop).</summary>
    NoReply = 6,
}
