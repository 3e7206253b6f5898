namespace StorageAppliance.Protocols.Iscsi.Pdu;

/// <summary>
/// SCSI Data-In (RFC 7143 11.7).
/// <code>
///  0 |.|.| 0x25      |F|A|0 0 0|O|U|S| Reserved      |Status or Rsvd |
///  4 |TotalAHSLength | DataSegmentLength                             |
///  8 | LUN or Reserved                                               |
/// 16 | Initiator Task Tag                                            |
/// 20 | Target Transfer Tag or 0xffffffff                             |
/// 24 | StatSN or Reserved                                            |
/// 28 | ExpCmdSN                                                      |
/// 32 | MaxCmdSN                                                      |
/// 36 | DataSN                                                        |
/// 40 | Buffer Offset                                                 |
/// 44 | Residual Count                                                |
///    | DataSegment                                                   |
/// </code>
/// With the S bit the PDU also carries the command's status (phase collapse, RFC 7143 11.7.4): allowed
/// only when there is no sense data to send.
/// </summary>
public static class DataIn
{
    public const byte FlagFinal = 0x80;
    public const byte FlagAcknowledge = 0x40;
    public const byte FlagOverflow = 0x04;
    public const byte FlagUnderflow = 0x02;
    public const byte FlagStatus = 0x01;

    public static void WriteHeader(Span<byte> bhs, byte flags, byte status, uint itt, uint dataSN, uint bufferOffset, uint residual, int dataSegmentLength)
    {
        HeaderWriter.Begin(bhs, IscsiOpcode.DataIn, flags, dataSegmentLength);
        bhs[3] = (flags & FlagStatus) != 0 ? status : (byte)0;
        HeaderWriter.UInt32(bhs, 16, itt);
        HeaderWriter.UInt32(bhs, 20, BasicHeaderSegment.ReservedTag);
        HeaderWriter.UInt32(bhs, 36, dataSN);
        HeaderWriter.UInt32(bhs, 40, bufferOffset);
        if ((flags & FlagStatus) != 0)
            HeaderWriter.UInt32(bhs, 44, residual);
    }
}
