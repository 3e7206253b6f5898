namespace StorageAppliance.Protocols.Iscsi.Pdu;

/// <summary>
/// SCSI Data-Out (RFC 7143 11.7).
/// <code>
///  0 |.|.| 0x05      |F| Reserved                                    |
///  4 |TotalAHSLength | DataSegmentLength                             |
///  8 | LUN or Reserved                                               |
/// 16 | Initiator Task Tag                                            |
/// 20 | Target Transfer Tag or 0xffffffff                             |
/// 24 | Reserved                                                      |
/// 28 | ExpStatSN                                                     |
/// 32 | Reserved                                                      |
/// 36 | DataSN                                                        |
/// 40 | Buffer Offset                                                 |
/// 44 | Reserved                                                      |
///    | DataSegment                                                   |
/// </code>
/// </summary>
public readonly struct DataOut
{
    public DataOut(in BasicHeaderSegment h)
    {
        Final = h.Final;
        Lun = h.Lun;
        InitiatorTaskTag = h.InitiatorTaskTag;
        TargetTransferTag = h.UInt32(20);
        ExpStatSN = h.UInt32(28);
        DataSN = h.UInt32(36);
        BufferOffset = h.UInt32(40);
        DataSegmentLength = h.DataSegmentLength;
    }

    /// <summary>Last PDU of a sequence (unsolicited burst or one R2T's data).</summary>
    public bool Final { get; }

    public ulong Lun { get; }

    public uint InitiatorTaskTag { get; }

    /// <summary>The R2T's tag, or 0xffffffff for unsolicited data.</summary>
    public uint TargetTransferTag { get; }

    public uint ExpStatSN { get; }

    public uint DataSN { get; }

    public uint BufferOffset { get; }

    public int DataSegmentLength { get; }
}
