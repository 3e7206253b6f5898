namespace StorageAppliance.Protocols.Iscsi.Pdu;

/// <summary>Task management function codes (RFC 7143 11.5.1).</summary>
public enum TaskManagementFunction : byte
{
    AbortTask = 1,
    AbortTaskSet = 2,
    ClearAca = 3,
    ClearTaskSet = 4,
    LogicalUnitReset = 5,
    TargetWarmReset = 6,
    TargetColdReset = 7,
    TaskReassign = 8,
}

/// <summary>Task management response codes (RFC 7143 11.6.1).</summary>
public enum TaskManagementResponse : byte
{
    FunctionComplete = 0,
    TaskDoesNotExist = 1,
    LunDoesNotExist = 2,
    TaskStillAllegiant = 3,
    TaskAllegianceReassignmentNotSupported = 4,
    FunctionNotSupported = 5,
    FunctionAuthorizationFailed = 6,
    FunctionRejected = 255,
}

/// <summary>
/// Task Management Function Request (RFC 7143 11.5).
/// <code>
///  0 |.|I| 0x02      |1| Function    | Reserved                      |
///  4 |TotalAHSLength | DataSegmentLength                             |
///  8 | LUN or Reserved                                               |
/// 16 | Initiator Task Tag                                            |
/// 20 | Referenced Task Tag or 0xffffffff                             |
/// 24 | CmdSN                                                         |
/// 28 | ExpStatSN                                                     |
/// 32 | RefCmdSN or Reserved                                          |
/// 36 | ExpDataSN or Reserved                                         |
/// 40 | Reserved                                                      |
/// </code>
/// </summary>
public readonly struct TaskManagementRequest
{
    public TaskManagementRequest(in BasicHeaderSegment h)
    {
        Immediate = h.Immediate;
        Function = (TaskManagementFunction)(h.Flags & 0x7F);
        Lun = h.Lun;
        InitiatorTaskTag = h.InitiatorTaskTag;
        ReferencedTaskTag = h.UInt32(20);
        CmdSN = h.UInt32(24);
        ExpStatSN = h.UInt32(28);
        RefCmdSN = h.UInt32(32);
        ExpDataSN = h.UInt32(36);
    }

    public bool Immediate { get; }

    public TaskManagementFunction Function { get; }

    public ulong Lun { get; }

    public uint InitiatorTaskTag { get; }

    public uint ReferencedTaskTag { get; }

    public uint CmdSN { get; }

    public uint ExpStatSN { get; }

    public uint RefCmdSN { get; }

    public uint ExpDataSN { get; }
}

/// <summary>
/// Task Management Function Response (RFC 7143 11.6).
/// <code>
///  0 |.|.| 0x22      |1| Reserved    | Response      | Reserved      |
///  4 |TotalAHSLength | DataSegmentLength                             |
///  8 | Reserved                                                      |
/// 16 | Initiator Task Tag                                            |
/// 20 | Reserved                                                      |
/// 24 | StatSN                                                        |
/// 28 | ExpCmdSN                                                      |
/// 32 | MaxCmdSN                                                      |
/// 36 | Reserved                                                      |
/// </code>
/// </summary>
public static class TaskManagementResponsePdu
{
    public static void WriteHeader(Span<byte> bhs, uint itt, TaskManagementResponse response)
    {
        HeaderWriter.Begin(bhs, IscsiOpcode.TaskManagementResponse, 0x80, 0);
        bhs[2] = (byte)response;
        HeaderWriter.UInt32(bhs, 16, itt);
    }
}
