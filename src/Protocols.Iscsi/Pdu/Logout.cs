namespace StorageAppliance.Protocols.Iscsi.Pdu;

/// <summary>Logout reasons (RFC 7143 11.14.1).</summary>
public enum LogoutReason : byte
{
    CloseSession = 0,
    CloseConnection = 1,
    RemoveConnectionForRecovery = 2,
}

/// <summary>Logout responses (RFC 7143 11.15.1).</summary>
public enum LogoutResponseCode : byte
{
    Success = 0,
    CidNotFound = 1,
    RecoveryNotSupported = 2,
    CleanupFailed = 3,
}

/// <summary>
/// Logout Request (RFC 7143 11.14).
/// <code>
///  0 |.|I| 0x06      |1| Reason Code | Reserved                      |
///  4 |TotalAHSLength | DataSegmentLength                             |
///  8 | Reserved                                                      |
/// 16 | Initiator Task Tag                                            |
/// 20 | CID or Reserved               | Reserved                      |
/// 24 | CmdSN                                                         |
/// 28 | ExpStatSN                                                     |
/// 32 | Reserved (16 bytes)                                           |
/// </code>
/// </summary>
public readonly struct LogoutRequest
{
    public LogoutRequest(in BasicHeaderSegment h)
    {
        Immediate = h.Immediate;
        Reason = (LogoutReason)(h.Flags & 0x7F);
        InitiatorTaskTag = h.InitiatorTaskTag;
        Cid = h.UInt16(20);
        CmdSN = h.UInt32(24);
        ExpStatSN = h.UInt32(28);
    }

    public bool Immediate { get; }

    public LogoutReason Reason { get; }

    public uint InitiatorTaskTag { get; }

    public ushort Cid { get; }

    public uint CmdSN { get; }

    public uint ExpStatSN { get; }
}

/// <summary>
/// Logout Response (RFC 7143 11.15).
/// <code>
///  0 |.|.| 0x26      |1| Reserved    | Response      | Reserved      |
///  4 |TotalAHSLength | DataSegmentLength                             |
///  8 | Reserved                                                      |
/// 16 | Initiator Task Tag                                            |
/// 20 | Reserved                                                      |
/// 24 | StatSN                                                        |
/// 28 | ExpCmdSN                                                      |
/// 32 | MaxCmdSN                                                      |
/// 36 | Reserved                                                      |
/// 40 | Time2Wait                     | Time2Retain                   |
/// 44 | Reserved                                                      |
/// </code>
/// </summary>
public static class LogoutResponse
{
    public static void WriteHeader(Span<byte> bhs, uint itt, LogoutResponseCode response, ushort time2Wait, ushort time2Retain)
    {
        HeaderWriter.Begin(bhs, IscsiOpcode.LogoutResponse, 0x80, 0);
        bhs[2] = (byte)response;
        HeaderWriter.UInt32(bhs, 16, itt);
        HeaderWriter.UInt16(bhs, 40, time2Wait);
        HeaderWriter.UInt16(bhs, 42, time2Retain);
    }
}
