using Microsoft.Extensions.Logging;

namespace StorageAppliance.ExtentStore;

/// <summary>Source-generated log messages of the extent store (event ids 5000-5099).</summary>
internal static partial class ExtentStoreLog
{
    [LoggerMessage(EventId = 5000, Level = LogLevel.Information, Message = "extent group {Id:x16} created for container {Container} on {Disk}")]
    public static partial void EgroupCreated(ILogger logger, long id, string container, string disk);

    [LoggerMessage(EventId = 5001, Level = LogLevel.Error, Message = "extent group {Id:x16} on {Disk} cannot be opened: {Reason}; reads of its data will fail")]
    public static partial void EgroupMissing(ILogger logger, long id, string disk, string reason);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Warning, Message = "extent group {Id:x16} names container {Container:x16} or disk {Disk:x16} that no longer exist; ignored")]
    public static partial void EgroupWithoutHome(ILogger logger, long id, long container, long disk);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Information, Message = "removed {Path}: an extent group no metadata refers to (left by an interrupted drain)")]
    public static partial void OrphanRemoved(ILogger logger, string path);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Error, Message = "read of extent group {Id:x16} slot {Slot} on {Disk} failed: {Reason}")]
    public static partial void ReadFailed(ILogger logger, string disk, long id, int slot, string reason);

    [LoggerMessage(EventId = 5005, Level = LogLevel.Critical, Message = "disk {Disk} (id {Id:x16}) failed: {Reason}. No new data goes to it; blocks on it move to other disks as they are written")]
    public static partial void DiskFailed(ILogger logger, string disk, long id, string reason);

    [LoggerMessage(EventId = 5006, Level = LogLevel.Error, Message = "slice {Slice} of slot {Slot} in extent group {Id:x16} on {Disk} could not be read while moving it: it is marked lost")]
    public static partial void SliceLost(ILogger logger, string disk, long id, int slot, int slice);

    [LoggerMessage(EventId = 5007, Level = LogLevel.Error, Message = "slice {Slice} of slot {Slot} in extent group {Id:x16} on {Disk} failed its checksum while merging a write into it: it stays marked bad until fully rewritten")]
    public static partial void MergeIntoCorruptSlice(ILogger logger, string disk, long id, int slot, int slice);
}
