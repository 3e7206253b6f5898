namespace StorageAppliance.Protocols.Iscsi.Pdu;

/// <summary>
/// NOP-Out (RFC 7143 11.18): a ping from the initiator, or its answer to our NOP-In.
/// <code>
///  0 |.|I| 0x00      |1| Reserved                                    |
///  4 |TotalAHSLength | DataSegmentLength                             |
///  8 | LUN or Reserved                                               |
/// 16 | Initiator Task Tag or 0xffffffff                              |
/// 20 | Target Transfer Tag or 0xffffffff                             |
/// 24 | CmdSN                                                         |
/// 28 | ExpStatSN                                                     |
/// 32 | Reserved                                                      |
///    | DataSegment: ping data (optional)                             |
/// </code>
/// </summary>
public readonly struct NopOut
{
    public NopOut(in BasicHeaderSegment h)
    {
        Immediate = h.Immediate;
        Lun = h.Lun;
        InitiatorTaskTag = h.InitiatorTaskTag;
        TargetTransferTag = h.UInt32(20);
        CmdSN = h.UInt32(24);
        ExpStatSN = h.UInt32(28);
        DataSegmentLength = h.DataSegmentLength;
    }

    public bool Immediate { get; }

    public ulong Lun { get; }

    /// <summary>0xffffffff when no answer is wanted (an answer to our NOP-In, or a one-way ping).</summary>
    public uint InitiatorTaskTag { get; }

    /// <summary>The tag of the NOP-In this answers, or 0xffffffff.</summary>
    public uint TargetTransferTag { get; }

    public uint CmdSN { get; }

    public uint ExpStatSN { get; }

    public int DataSegmentLength { get; }
}

/// <summary>
/// NOP-In (RFC 7143 11.19): our answer to a ping (ITT echoed, TTT 0xffffffff), or our own ping
/// (ITT 0xffffffff, TTT ours, answered by a NOP-Out).
/// <code>
///  0 |.|.| 0x20      |1| Reserved                                    |
///  4 |TotalAHSLength | DataSegmentLength                             |
///  8 | LUN or Reserved                                               |
/// 16 | Initiator Task Tag or 0xffffffff                              |
/// 20 | Target Transfer Tag or 0xffffffff                             |
/// 24 | StatSN                                                        |
/// 28 | ExpCmdSN                                                      |
/// 32 | MaxCmdSN                                                      |
///    | DataSegment: return ping data                                 |
/// </code>
/// "The StatSN field will always contain the next StatSN. However, when the Initiator Task Tag is set
/// to 0xffffffff, the StatSN for the connection is not advanced after this PDU is sent." (11.19.3)
/// </summary>
public static class NopIn
{
    public static void WriteHeader(Span<byte> bhs, ulong lun, uint itt, uint ttt, int dataSegmentLength)
    {
        HeaderWriter.Begin(bhs, IscsiOpcode.NopIn, 0x80, dataSegmentLength);
        HeaderWriter.UInt64(bhs, 8, lun);
        HeaderWriter.UInt32(bhs, 16, itt);
        HeaderWriter.UInt32(bhs, 20, ttt);
    }
}
