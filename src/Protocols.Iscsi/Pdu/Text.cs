namespace StorageAppliance.Protocols.Iscsi.Pdu;

/// <summary>
/// Text Request (RFC 7143 11.10).
/// <code>
///  0 |.|I| 0x04      |F|C| Reserved                                  |
///  4 |TotalAHSLength | DataSegmentLength                             |
///  8 | LUN or Reserved                                               |
/// 16 | Initiator Task Tag                                            |
/// 20 | Target Transfer Tag or 0xffffffff                             |
/// 24 | CmdSN                                                         |
/// 28 | ExpStatSN                                                     |
/// 32 | Reserved (16 bytes)                                           |
///    | DataSegment: text                                             |
/// </code>
/// </summary>
public readonly struct TextRequest
{
    public TextRequest(in BasicHeaderSegment h)
    {
        Immediate = h.Immediate;
        Final = h.Final;
        Continue = (h.Flags & 0x40) != 0;
        Lun = h.Lun;
        InitiatorTaskTag = h.InitiatorTaskTag;
        TargetTransferTag = h.UInt32(20);
        CmdSN = h.UInt32(24);
        ExpStatSN = h.UInt32(28);
    }

    public bool Immediate { get; }

    public bool Final { get; }

    public bool Continue { get; }

    public ulong Lun { get; }

    public uint InitiatorTaskTag { get; }

    public uint TargetTransferTag { get; }

    public uint CmdSN { get; }

    public uint ExpStatSN { get; }
}

/// <summary>
/// Text Response (RFC 7143 11.11).
/// <code>
///  0 |.|.| 0x24      |F|C| Reserved                                  |
///  4 |TotalAHSLength | DataSegmentLength                             |
///  8 | LUN or Reserved                                               |
/// 16 | Initiator Task Tag                                            |
/// 20 | Target Transfer Tag or 0xffffffff                             |
/// 24 | StatSN                                                        |
/// 28 | ExpCmdSN                                                      |
/// 32 | MaxCmdSN                                                      |
///    | DataSegment: text response                                    |
/// </code>
/// </summary>
public static class TextResponse
{
    public static void WriteHeader(Span<byte> bhs, bool final, bool @continue, ulong lun, uint itt, uint ttt, int dataSegmentLength)
    {
        byte flags = 0;
        if (final)
            flags |= 0x80;
        if (@continue)
            flags |= 0x40;
        HeaderWriter.Begin(bhs, IscsiOpcode.TextResponse, flags, dataSegmentLength);
        HeaderWriter.UInt64(bhs, 8, lun);
        HeaderWriter.UInt32(bhs, 16, itt);
        HeaderWriter.UInt32(bhs, 20, ttt);
    }
}
