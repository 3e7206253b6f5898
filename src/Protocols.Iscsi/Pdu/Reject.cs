namespace StorageAppliance.Protocols.Iscsi.Pdu;

/// <summary>
/// Reject (RFC 7143 11.17).
/// <code>
///  0 |.|.| 0x3f      |1| Reserved    | Reason        | Reserved      |
///  4 |TotalAHSLength | DataSegmentLength                             |
///  8 | Reserved                                                      |
/// 16 | 0xffffffff                                                    |
/// 20 | Reserved                                                      |
/// 24 | StatSN                                                        |
/// 28 | ExpCmdSN                                                      |
/// 32 | MaxCmdSN                                                      |
/// 36 | DataSN/R2TSN or Reserved                                      |
/// 40 | Reserved (8 bytes)                                            |
///    | DataSegment: the complete header of the rejected PDU          |
/// </code>
/// </summary>
public static class RejectPdu
{
    public static void WriteHeader(Span<byte> bhs, RejectReason reason, int rejectedHeaderLength)
    {
        HeaderWriter.Begin(bhs, IscsiOpcode.Reject, 0x80, rejectedHeaderLength);
        bhs[2] = (byte)reason;
        HeaderWriter.UInt32(bhs, 16, BasicHeaderSegment.ReservedTag);
    }
}

/// <summary>Asynchronous events (RFC 7143 11.9.1).</summary>
public enum AsyncEvent : byte
{
    ScsiAsyncEvent = 0,
    LogoutRequest = 1,
    ConnectionDropping = 2,
    SessionDropping = 3,
    NegotiationRequest = 4,
    TaskTerminated = 5,
    VendorSpecific = 255,
}

/// <summary>
/// Asynchronous Message (RFC 7143 11.9).
/// <code>
///  0 |.|.| 0x32      |1| Reserved                                    |
///  4 |TotalAHSLength | DataSegmentLength                             |
///  8 | LUN or Reserved                                               |
/// 16 | 0xffffffff                                                    |
/// 20 | Reserved                                                      |
/// 24 | StatSN                                                        |
/// 28 | ExpCmdSN                                                      |
/// 32 | MaxCmdSN                                                      |
/// 36 | AsyncEvent    | AsyncVCode    | Parameter1 or Reserved        |
/// 40 | Parameter2 or Reserved        | Parameter3 or Reserved        |
/// 44 | Reserved                                                      |
///    | DataSegment: SenseLength, Sense Data, iSCSI Event Data        |
/// </code>
/// </summary>
public static class AsyncMessage
{
    public static void WriteHeader(Span<byte> bhs, ulong lun, AsyncEvent asyncEvent, ushort p1, ushort p2, ushort p3, int dataSegmentLength)
    {
        HeaderWriter.Begin(bhs, IscsiOpcode.AsyncMessage, 0x80, dataSegmentLength);
        HeaderWriter.UInt64(bhs, 8, lun);
        HeaderWriter.UInt32(bhs, 16, BasicHeaderSegment.ReservedTag);
        bhs[36] = (byte)asyncEvent;
        HeaderWriter.UInt16(bhs, 38, p1);
        HeaderWriter.UInt16(bhs, 40, p2);
        HeaderWriter.UInt16(bhs, 42, p3);
    }
}
