using Microsoft.Extensions.Logging;

namespace StorageAppliance.VDisk;

/// <summary>Source-generated log messages of the storage engine (event ids 2100-2199).</summary>
internal static partial class EngineLog
{
    [LoggerMessage(EventId = 2150, Level = LogLevel.Information, Message = "Curator pass: {Reduced} block(s) reduced, {Collected} extent(s) collected ({Bytes} bytes), {Compacted} pack(s) compacted, {Problems} problem(s)")]
    public static partial void CuratorPass(ILogger logger, int reduced, int collected, long bytes, int compacted, int problems);

    [LoggerMessage(EventId = 2151, Level = LogLevel.Error, Message = "Curator: {Problem}")]
    public static partial void CuratorProblem(ILogger logger, string problem);

    [LoggerMessage(EventId = 2152, Level = LogLevel.Error, Message = "Curator pass failed: {Reason}")]
    public static partial void CuratorFailed(ILogger logger, string reason, Exception exception);

    [LoggerMessage(EventId = 2100, Level = LogLevel.Information, Message = "storage engine open: {VDisks} vDisk(s), {Pending} bytes of journal to drain")]
    public static partial void Opened(ILogger logger, int vdisks, long pending);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information, Message = "replayed {Count} journal record(s) written after sequence {Drained}")]
    public static partial void Replayed(ILogger logger, int count, long drained);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Error, Message = "read of vDisk {VDisk} at offset {Offset} failed on disk {Disk}: {Reason}; the initiator gets MEDIUM ERROR, never the data")]
    public static partial void ReadFailed(ILogger logger, string vdisk, long offset, string disk, string reason);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Debug, Message = "drained {Records} record(s) into {Blocks} block(s); journal drained up to {Sequence}")]
    public static partial void Drained(ILogger logger, int records, int blocks, long sequence);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Error, Message = "drain round failed, will retry: {Reason}")]
    public static partial void DrainFailed(ILogger logger, string reason, Exception exception);

    [LoggerMessage(EventId = 2105, Level = LogLevel.Warning, Message = "drain round redone after a disk failure: {Reason}")]
    public static partial void DrainRetried(ILogger logger, string reason);

    [LoggerMessage(EventId = 2106, Level = LogLevel.Error, Message = "drain commit failed, will retry (the writes stay safe in the journal): {Reason}")]
    public static partial void DrainCommitFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 2107, Level = LogLevel.Critical, Message = "vDisk {VDisk} block {Block} cannot be drained: {Reason}. Its writes stay in the journal and are served from memory; free space or add a disk")]
    public static partial void BlockStuck(ILogger logger, string vdisk, long block, string reason);

    [LoggerMessage(EventId = 2108, Level = LogLevel.Warning, Message = "vDisk {VDisk} block {Block} moved off failed disk {Disk}")]
    public static partial void BlockMoved(ILogger logger, string vdisk, long block, string disk);

    [LoggerMessage(EventId = 2109, Level = LogLevel.Information, Message = "vDisk {Name} (id {Id:x16}) created in container {Container}, {Capacity} bytes")]
    public static partial void VDiskCreated(ILogger logger, string name, long id, string container, long capacity);

    [LoggerMessage(EventId = 2110, Level = LogLevel.Information, Message = "vDisk {Name} resized from {Old} to {New} bytes")]
    public static partial void VDiskResized(ILogger logger, string name, long old, long @new);

    [LoggerMessage(EventId = 2111, Level = LogLevel.Information, Message = "vDisk {Name} (id {Id:x16}) deleted; its space is released")]
    public static partial void VDiskDeleted(ILogger logger, string name, long id);

    [LoggerMessage(EventId = 2112, Level = LogLevel.Warning, Message = "container {Name} keeps its vDisk block size {BlockSize} and extent group size {EgroupSize}: they cannot change once it exists")]
    public static partial void ContainerLayoutKept(ILogger logger, string name, int blockSize, long egroupSize);

    [LoggerMessage(EventId = 2113, Level = LogLevel.Warning, Message = "vDisk {Name} in the metadata names container {Container:x16}, which is not configured; it is not served")]
    public static partial void VDiskWithoutContainer(ILogger logger, string name, long container);

    [LoggerMessage(EventId = 2114, Level = LogLevel.Warning, Message = "vDisk {Name} is configured with {Configured} bytes but has {Actual}; it keeps {Actual} bytes (shrink it with 'appliance vdisk resize --shrink')")]
    public static partial void ConfigSmallerThanVDisk(ILogger logger, string name, long configured, long actual);

    [LoggerMessage(EventId = 2160, Level = LogLevel.Warning, Message = "storage is full: {Free} bytes free on the file system of {Path}, under the reserve of {Reserve} bytes kept for the journal and metadata; the appliance is read-only: reads are served, writes are refused (iSCSI DATA PROTECT, SPACE ALLOCATION FAILED WRITE PROTECT; NFS3ERR_NOSPC) until space is freed, with no restart needed")]
    public static partial void SpaceFull(ILogger logger, string path, long free, long reserve);

    [LoggerMessage(EventId = 2161, Level = LogLevel.Information, Message = "storage has room again: {Free} bytes free on the file system of {Path}; writes are accepted")]
    public static partial void SpaceReturned(ILogger logger, string path, long free);
}
