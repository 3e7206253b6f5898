using Microsoft.Extensions.Logging;
using StorageAppliance.Protocols.Iscsi.Pdu;

namespace StorageAppliance.Protocols.Iscsi;

/// <summary>Source-generated log messages of the iSCSI front end (event ids 3000-3099).</summary>
internal static partial class IscsiLog
{
    [LoggerMessage(EventId = 3000, Level = LogLevel.Information, Message = "iSCSI portal listening on {EndPoint}")]
    public static partial void Listening(ILogger logger, string endPoint);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "iSCSI accept failed: {Reason}")]
    public static partial void AcceptFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "conn {Id} from {Peer}: {Initiator} logged in ({SessionType} session to {Target}, TSIH {Tsih}): {Parameters}")]
    public static partial void LoggedIn(ILogger logger, long id, string peer, string initiator, string sessionType, string target, ushort tsih, string parameters);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "conn {Id} from {Peer}: login of {Initiator} failed with status {Status}: {Reason}")]
    public static partial void LoginFailed(ILogger logger, long id, string peer, string initiator, LoginStatus status, string reason);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Information, Message = "conn {Id} from {Peer} ({Initiator}) closed: {Reason}")]
    public static partial void ConnectionClosed(ILogger logger, long id, string peer, string initiator, string reason);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Warning, Message = "conn {Id} from {Peer}: protocol error: {Reason}")]
    public static partial void ProtocolViolation(ILogger logger, long id, string peer, string reason);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Warning, Message = "conn {Id} from {Peer}: rejected {Opcode} PDU (ITT {Itt:x8}): {Reason}")]
    public static partial void Rejected(ILogger logger, long id, string peer, IscsiOpcode opcode, uint itt, RejectReason reason);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Warning, Message = "conn {Id} from {Peer}: {Opcode} data segment of {Length} bytes exceeds MaxRecvDataSegmentLength {Limit}")]
    public static partial void DataSegmentTooLong(ILogger logger, long id, string peer, IscsiOpcode opcode, int length, int limit);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Warning, Message = "conn {Id} from {Peer}: data digest error on {Opcode} (ITT {Itt:x8})")]
    public static partial void DataDigestError(ILogger logger, long id, string peer, IscsiOpcode opcode, uint itt);

    [LoggerMessage(EventId = 3009, Level = LogLevel.Debug, Message = "conn {Id} from {Peer}: ignored command with CmdSN {CmdSN} outside the window [{ExpCmdSN}, {MaxCmdSN}]")]
    public static partial void CommandOutsideWindow(ILogger logger, long id, string peer, uint cmdSN, uint expCmdSN, uint maxCmdSN);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Error, Message = "conn {Id}: SCSI command {Opcode:x2} failed inside the target")]
    public static partial void CommandFault(ILogger logger, long id, byte opcode, Exception exception);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Error, Message = "conn {Id} from {Peer}: internal error, closing this connection only")]
    public static partial void ConnectionFault(ILogger logger, long id, string peer, Exception exception);

    [LoggerMessage(EventId = 3012, Level = LogLevel.Information, Message = "session TSIH {Tsih} of {Initiator} (ISID {Isid:x12}) reinstated by a new login")]
    public static partial void SessionReinstated(ILogger logger, ushort tsih, string initiator, ulong isid);

    [LoggerMessage(EventId = 3013, Level = LogLevel.Information, Message = "conn {Id}: task management {Function} LUN {Lun} referenced task {Ref:x8}")]
    public static partial void TaskManagement(ILogger logger, long id, string function, ulong lun, uint @ref);

    [LoggerMessage(EventId = 3014, Level = LogLevel.Warning, Message = "conn {Id} from {Peer}: NOP-In ping not answered within {Seconds} s, closing")]
    public static partial void PingTimeout(ILogger logger, long id, string peer, int seconds);

    [LoggerMessage(EventId = 3015, Level = LogLevel.Information, Message = "asking {Count} iSCSI connection(s) to log out within {Seconds} s")]
    public static partial void ShuttingDown(ILogger logger, int count, int seconds);
}
