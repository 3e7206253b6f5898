using Microsoft.Extensions.Logging;

namespace StorageAppliance.Host;

/// <summary>
/// A file of preallocated space in the data folder, given back to the file system at every start. A start needs a
/// little room even when nothing will be written (SQLite's -shm and -wal files, the first journal segment's header,
/// the start-time metadata commit); when something else filled the disk to the last block while the appliance was
/// stopped, this file's space is what lets it come up, read-only, instead of not at all. It is made again once the
/// appliance runs and there is room for it beyond the engine's reserve.
/// </summary>
internal sealed class SpaceReserveFile : IDisposable
{
    public const string FileName = "space.reserve";
    public const long Size = 16L << 20;

    private readonly string _path;
    private readonly long _engineReserve;
    private readonly ILogger _log;
    private Timer? _timer;

    public SpaceReserveFile(string dataDir, long engineReserve, ILogger log)
    {
        _path = Path.Combine(dataDir, FileName);
        _engineReserve = engineReserve;
        _log = log;
    }

    /// <summary>Deletes the file, if there is one: its space is free for the start.</summary>
    public void Release()
    {
        if (!File.Exists(_path))
            return;
        long before = FreeSpace();
        try
        {
            File.Delete(_path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            HostLog.SpaceReserveNotReleased(_log, _path, e.Message);
            return;
        }
        if (before < _engineReserve)
            HostLog.SpaceReserveReleased(_log, _path, before);
    }

    /// <summary>Makes the file again now if there is room for it, else tries again every <paramref name="retry"/>.</summary>
    public void Restore(TimeSpan retry)
    {
        if (TryCreate())
            return;
        _timer = new Timer(_ =>
        {
            if (TryCreate())
                _timer?.Change(Timeout.Infinite, Timeout.Infinite);
        }, null, retry, retry);
    }

    private bool TryCreate()
    {
        if (File.Exists(_path))
            return true;
        if (FreeSpace() - Size < _engineReserve)
            return false;
        try
        {
            // preallocationSize: posix_fallocate, so the blocks are really taken (a sparse file would give nothing back).
            using var handle = File.OpenHandle(_path, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.None, preallocationSize: Size);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try
            {
                File.Delete(_path);
            }
            catch (Exception) when (e is IOException or UnauthorizedAccessException)
            {
            }
            return false;
        }
    }

    private long FreeSpace()
    {
        try
        {
            return new DriveInfo(Path.GetDirectoryName(_path)!).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return long.MaxValue;
        }
    }

    public void Dispose() => _timer?.Dispose();
}

internal static partial class HostLog
{
    [LoggerMessage(EventId = 22, Level = LogLevel.Warning, Message = "the data folder's file system had {Free} bytes free at start: the space kept in {Path} was given back so the appliance can start (read-only until space is freed)")]
    public static partial void SpaceReserveReleased(ILogger logger, string path, long free);

    [LoggerMessage(EventId = 23, Level = LogLevel.Warning, Message = "could not release the reserved space in {Path}: {Reason}")]
    public static partial void SpaceReserveNotReleased(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 24, Level = LogLevel.Warning, Message = "started read-only: the file system of {DataDir} is full; reads are served and writes refused until space is freed (see the storage is full line above)")]
    public static partial void StartedReadOnly(ILogger logger, string dataDir);
}
