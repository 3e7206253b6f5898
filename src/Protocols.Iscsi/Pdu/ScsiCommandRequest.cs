namespace StorageAppliance.Protocols.Iscsi.Pdu;

/// <summary>
/// SCSI Command (RFC 7143 11.3).
/// <code>
///  0 |.|I| 0x01      |F|R|W|. .|ATTR | Reserved                      |
///  4 |TotalAHSLength | DataSegmentLength                             |
///  8 | Logical Unit Number (LUN)                                     |
/// 16 | Initiator Task Tag                                            |
/// 20 | Expected Data Transfer Length                                 |
/// 24 | CmdSN                                                         |
/// 28 | ExpStatSN                                                     |
/// 32 | SCSI Command Descriptor Block (CDB), 16 bytes                 |
/// 48 | AHS (optional: extended CDB, bidirectional read length)       |
///    | DataSegment: immediate data (optional)                        |
/// </code>
/// </summary>
public readonly struct ScsiCommandRequest
{
    public const int CdbOffset = 32;
    public const int CdbLengthInBhs = 16;

    public ScsiCommandRequest(in BasicHeaderSegment h)
    {
        Immediate = h.Immediate;
        Final = h.Final;
        Read = (h.Flags & 0x40) != 0;
        Write = (h.Flags & 0x20) != 0;
        Attribute = (byte)(h.Flags & 0x07);
        Lun = h.Lun;
        InitiatorTaskTag = h.InitiatorTaskTag;
        ExpectedDataTransferLength = h.UInt32(20);
        CmdSN = h.UInt32(24);
        ExpStatSN = h.UInt32(28);
        DataSegmentLength = h.DataSegmentLength;
    }

    public bool Immediate { get; }

    /// <summary>No unsolicited Data-Out PDUs follow (RFC 7143 11.3.1.1).</summary>
    public bool Final { get; }

    public bool Read { get; }

    public bool Write { get; }

    /// <summary>Task attribute: 0 untagged, 1 simple, 2 ordered, 3 head of queue, 4 ACA.</summary>
    public byte Attribute { get; }

    public ulong Lun { get; }

    public uint InitiatorTaskTag { get; }

    public uint ExpectedDataTransferLength { get; }

    public uint CmdSN { get; }

    public uint ExpStatSN { get; }

    public int DataSegmentLength { get; }
}
