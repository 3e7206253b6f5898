using Microsoft.Extensions.Logging;

namespace StorageAppliance.Protocols.Iscsi;

// The TCP listener's lines: connection limits and accept back-off (event ids 3090-3099).
internal static partial class IscsiLog
{
    [LoggerMessage(EventId = 3090, Level = LogLevel.Warning, Message = "iSCSI portal {EndPoint}: refused a connection from {Peer}: {Limit} ({Suppressed} more refused since the last such line)")]
    public static partial void ConnectionRefused(ILogger logger, string endPoint, string peer, string limit, long suppressed);

    [LoggerMessage(EventId = 3091, Level = LogLevel.Error, Message = "iSCSI portal {EndPoint}: accept failed: {Reason}; retrying with back-off up to {MaxDelayMs} ms until an accept succeeds (one line per episode)")]
    public static partial void AcceptFailing(ILogger logger, string endPoint, string reason, int maxDelayMs);

    [LoggerMessage(EventId = 3092, Level = LogLevel.Information, Message = "iSCSI portal {EndPoint}: accepting again after {Failures} failed accepts over {Seconds:0.0} s")]
    public static partial void AcceptRecovered(ILogger logger, string endPoint, long failures, double seconds);

    [LoggerMessage(EventId = 3093, Level = LogLevel.Warning, Message = "iSCSI portal {EndPoint}: refused a connection from {Peer}: {Open} of {Limit} descriptors are open and {Reserve} are kept for the engine (raise ulimit -n, or lower iscsi.connection_limit) ({Suppressed} more refused since the last such line)")]
    public static partial void DescriptorsLow(ILogger logger, string endPoint, string peer, long open, long limit, long reserve, long suppressed);
}
