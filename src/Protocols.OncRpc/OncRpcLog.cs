using Microsoft.Extensions.Logging;

namespace StorageAppliance.Protocols.OncRpc;

/// <summary>Source-generated log messages of the ONC RPC layer (event ids 5000-5099).</summary>
internal static partial class OncRpcLog
{
    [LoggerMessage(EventId = 5000, Level = LogLevel.Information, Message = "RPC ({Programs}) listening on TCP {EndPoint}")]
    public static partial void Listening(ILogger logger, string programs, string endPoint);

    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "RPC accept failed: {Reason}")]
    public static partial void AcceptFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Debug, Message = "RPC conn {Id} from {Peer} opened")]
    public static partial void ConnectionOpened(ILogger logger, long id, string peer);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Debug, Message = "RPC conn {Id} from {Peer} closed: {Reason}")]
    public static partial void ConnectionClosed(ILogger logger, long id, string peer, string reason);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Warning, Message = "RPC conn {Id} from {Peer}: broken framing, closing: {Reason}")]
    public static partial void BrokenFraming(ILogger logger, long id, string peer, string reason);

    [LoggerMessage(EventId = 5005, Level = LogLevel.Error, Message = "RPC conn {Id} from {Peer}: {Program} procedure {Procedure} failed; answering SYSTEM_ERR")]
    public static partial void HandlerFault(ILogger logger, long id, string peer, string program, uint procedure, Exception exception);

    [LoggerMessage(EventId = 5006, Level = LogLevel.Debug, Message = "RPC conn {Id} from {Peer}: xid {Xid:x8} program {Program} v{Version} proc {Procedure}: {Stat}")]
    public static partial void CallRefused(ILogger logger, long id, string peer, uint xid, uint program, uint version, uint procedure, string stat);

    [LoggerMessage(EventId = 5010, Level = LogLevel.Information, Message = "portmapper: embedded portmapper (program 100000 v2, rpcbind v3/v4) listening on {EndPoint}")]
    public static partial void PortmapperListening(ILogger logger, string endPoint);

    [LoggerMessage(EventId = 5011, Level = LogLevel.Warning, Message = "portmapper: cannot bind {EndPoint} ({Reason}); clients must be given the NFS and MOUNT ports explicitly (libnfs: ?nfsport=N&mountport=M)")]
    public static partial void PortmapperBindFailed(ILogger logger, string endPoint, string reason);

    [LoggerMessage(EventId = 5012, Level = LogLevel.Information, Message = "portmapper: registered {Program} v{Version} port {Port} with the system rpcbind at {EndPoint}")]
    public static partial void RegisteredWithSystem(ILogger logger, string program, uint version, int port, string endPoint);

    [LoggerMessage(EventId = 5013, Level = LogLevel.Warning, Message = "portmapper: registration of {Program} v{Version} with the system rpcbind at {EndPoint} failed: {Reason}")]
    public static partial void RegistrationFailed(ILogger logger, string program, uint version, string endPoint, string reason);

    [LoggerMessage(EventId = 5014, Level = LogLevel.Information, Message = "portmapper: off; clients must be given the NFS and MOUNT ports explicitly")]
    public static partial void PortmapperOff(ILogger logger);

    [LoggerMessage(EventId = 5020, Level = LogLevel.Warning, Message = "RPC ({Programs}) on {EndPoint}: refused a connection from {Peer}: {Limit} ({Suppressed} more refused since the last such line)")]
    public static partial void ConnectionRefused(ILogger logger, string programs, string endPoint, string peer, string limit, long suppressed);

    [LoggerMessage(EventId = 5021, Level = LogLevel.Error, Message = "RPC ({Programs}) on {EndPoint}: accept failed: {Reason}; retrying with back-off up to {MaxDelayMs} ms until an accept succeeds (one line per episode)")]
    public static partial void AcceptFailing(ILogger logger, string programs, string endPoint, string reason, int maxDelayMs);

    [LoggerMessage(EventId = 5022, Level = LogLevel.Information, Message = "RPC ({Programs}) on {EndPoint}: accepting again after {Failures} failed accepts over {Seconds:0.0} s")]
    public static partial void AcceptRecovered(ILogger logger, string programs, string endPoint, long failures, double seconds);

    [LoggerMessage(EventId = 5023, Level = LogLevel.Warning, Message = "RPC conn {Id} from {Peer}: closing: {Reason} ({Suppressed} more such closes since the last line)")]
    public static partial void ConnectionTimedOut(ILogger logger, long id, string peer, string reason, long suppressed);

    [LoggerMessage(EventId = 5024, Level = LogLevel.Warning, Message = "RPC ({Programs}) on {EndPoint}: refused a connection from {Peer}: {Open} of {Limit} descriptors are open and {Reserve} are kept for the engine (raise ulimit -n, or lower connection_limit) ({Suppressed} more refused since the last such line)")]
    public static partial void DescriptorsLow(ILogger logger, string programs, string endPoint, string peer, long open, long limit, long reserve, long suppressed);
}
