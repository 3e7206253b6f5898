using Microsoft.Extensions.Logging;

namespace StorageAppliance.Management;

/// <summary>Source-generated log messages of the management layer (event ids 8000-8099).</summary>
internal static partial class ManagementLog
{
    [LoggerMessage(EventId = 8000, Level = LogLevel.Information, Message = "admin API listening on unix:{SocketPath}")]
    public static partial void AdminListening(ILogger logger, string socketPath);

    [LoggerMessage(EventId = 8001, Level = LogLevel.Warning, Message = "removed a stale admin socket {SocketPath} left by an earlier run")]
    public static partial void StaleSocketRemoved(ILogger logger, string socketPath);

    [LoggerMessage(EventId = 8002, Level = LogLevel.Information, Message = "admin: {Method} {Path} -> {Status}: {Message}")]
    public static partial void RequestRefused(ILogger logger, string method, string path, int status, string message);

    [LoggerMessage(EventId = 8003, Level = LogLevel.Error, Message = "admin: {Method} {Path} failed")]
    public static partial void RequestFailed(ILogger logger, Exception exception, string method, string path);

    [LoggerMessage(EventId = 8004, Level = LogLevel.Information, Message = "admin: {Action} vDisk {Name}")]
    public static partial void VDiskChanged(ILogger logger, string action, string name);

    [LoggerMessage(EventId = 8005, Level = LogLevel.Information, Message = "admin API stopped")]
    public static partial void AdminStopped(ILogger logger);
}
