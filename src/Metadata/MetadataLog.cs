using Microsoft.Extensions.Logging;

namespace StorageAppliance.Metadata;

/// <summary>Source-generated log messages of the metadata store (event ids 4700-4799).</summary>
internal static partial class MetadataLog
{
    [LoggerMessage(EventId = 4701, Level = LogLevel.Information, Message = "Metadata store {Path} created (schema {Version}, appliance id {ApplianceId:X16})")]
    public static partial void Created(ILogger logger, string path, int version, long applianceId);

    [LoggerMessage(EventId = 4702, Level = LogLevel.Information, Message = "Metadata store {Path} opened (schema {Version}, appliance id {ApplianceId:X16}, drained to {DrainedSequence})")]
    public static partial void Opened(ILogger logger, string path, int version, long applianceId, long drainedSequence);

    [LoggerMessage(EventId = 4703, Level = LogLevel.Information, Message = "Metadata store {Path}: schema migrated from version {From} to {To}")]
    public static partial void Migrated(ILogger logger, string path, int from, int to);

    [LoggerMessage(EventId = 4704, Level = LogLevel.Error, Message = "Metadata store {Path}: a batch of {Count} ops was not committed")]
    public static partial void CommitFailed(ILogger logger, string path, int count, Exception exception);

    [LoggerMessage(EventId = 4705, Level = LogLevel.Critical, Message = "Metadata store {Path}: I/O error or corruption; refusing further commits until it is reopened")]
    public static partial void WritesStopped(ILogger logger, string path, Exception exception);

    [LoggerMessage(EventId = 4706, Level = LogLevel.Information, Message = "Metadata store {Path} closed")]
    public static partial void Closed(ILogger logger, string path);
}
