namespace StorageAppliance.Protocols.Iscsi.Pdu;

/// <summary>
/// SCSI Response (RFC 7143 11.4).
/// <code>
///  0 |.|.| 0x21      |1|. .|o|u|O|U|.| Response      | Status        |
///  4 |TotalAHSLength | DataSegmentLength                             |
///  8 | Reserved                                                      |
/// 16 | Initiator Task Tag                                            |
/// 20 | SNACK Tag or Reserved                                         |
/// 24 | StatSN                                                        |
/// 28 | ExpCmdSN                                                      |
/// 32 | MaxCmdSN                                                      |
/// 36 | ExpDataSN or Reserved                                         |
/// 40 | Bidirectional Read Residual Count or Reserved                 |
/// 44 | Residual Count or Reserved                                    |
///    | Data Segment: SenseLength (2 bytes) + sense data (optional)   |
/// </code>
/// StatSN, ExpCmdSN and MaxCmdSN are stamped by the connection when the PDU is sent.
/// </summary>
public static class ScsiResponse
{
    public const byte FlagResidualOverflow = 0x04;
    public const byte FlagResidualUnderflow = 0x02;

    /// <summary>iSCSI response code: the command completed at the target (status is valid).</summary>
    public const byte CommandCompleted = 0x00;

    /// <summary>iSCSI response code: target failure.</summary>
    public const byte TargetFailure = 0x01;

    public static void WriteHeader(Span<byte> bhs, uint itt, byte status, byte response, byte residualFlags, uint residual, uint expDataSN, int dataSegmentLength)
    {
        HeaderWriter.Begin(bhs, IscsiOpcode.ScsiResponse, (byte)(0x80 | residualFlags), dataSegmentLength);
        bhs[2] = response;
        bhs[3] = status;
        HeaderWriter.UInt32(bhs, 16, itt);
        HeaderWriter.UInt32(bhs, 36, expDataSN);
        HeaderWriter.UInt32(bhs, 44, residual);
    }

    /// <summary>Length of the data segment carrying <paramref name="senseLength"/> bytes of sense (0 when there is none).</summary>
    public static int DataSegmentLength(int senseLength) => senseLength == 0 ? 0 : 2 + senseLength;
}
