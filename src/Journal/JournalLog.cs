using Microsoft.Extensions.Logging;

namespace StorageAppliance.Journal;

/// <summary>Source-generated log messages of the journal (event ids 4000-4099).</summary>
internal static partial class JournalLog
{
    [LoggerMessage(EventId = 4000, Level = LogLevel.Information, Message = "journal {Directory}: {Segments} segment(s), {Recovered} record(s) to replay after sequence {Drained}, last sequence {Last}")]
    public static partial void Opened(ILogger logger, string directory, int segments, int recovered, long drained, long last);

    [LoggerMessage(EventId = 4001, Level = LogLevel.Error, Message = "journal append to {Path} failed: {Reason}")]
    public static partial void AppendFailed(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Critical, Message = "journal {Directory} stopped taking writes: {Reason}. Reads continue; writes fail until the disk is replaced and the appliance restarted")]
    public static partial void Failed(ILogger logger, string directory, string reason);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "journal segment {Path} has a damaged header and is skipped")]
    public static partial void SegmentHeaderDamaged(ILogger logger, string path);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Warning, Message = "could not delete drained journal segment {Path}: {Reason}")]
    public static partial void TrimFailed(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Warning, Message = "journal {Directory}: no room on its file system ({Reason}); writes are refused as out of space until room is freed (no restart needed)")]
    public static partial void NoRoom(ILogger logger, string directory, string reason);
}
