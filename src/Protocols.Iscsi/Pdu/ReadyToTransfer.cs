namespace StorageAppliance.Protocols.Iscsi.Pdu;

/// <summary>
/// Ready To Transfer, R2T (RFC 7143 11.8).
/// <code>
///  0 |.|.| 0x31      |1| Reserved                                    |
///  4 |TotalAHSLength | DataSegmentLength (0)                         |
///  8 | LUN                                                           |
/// 16 | Initiator Task Tag                                            |
/// 20 | Target Transfer Tag                                           |
/// 24 | StatSN                                                        |
/// 28 | ExpCmdSN                                                      |
/// 32 | MaxCmdSN                                                      |
/// 36 | R2TSN                                                         |
/// 40 | Buffer Offset                                                 |
/// 44 | Desired Data Transfer Length                                  |
/// </code>
/// </summary>
public static class ReadyToTransfer
{
    public static void WriteHeader(Span<byte> bhs, ulong lun, uint itt, uint ttt, uint r2tSN, uint bufferOffset, uint desiredLength)
    {
        HeaderWriter.Begin(bhs, IscsiOpcode.ReadyToTransfer, 0x80, 0);
        HeaderWriter.UInt64(bhs, 8, lun);
        HeaderWriter.UInt32(bhs, 16, itt);
        HeaderWriter.UInt32(bhs, 20, ttt);
        HeaderWriter.UInt32(bhs, 36, r2tSN);
        HeaderWriter.UInt32(bhs, 40, bufferOffset);
        HeaderWriter.UInt32(bhs, 44, desiredLength);
    }
}
