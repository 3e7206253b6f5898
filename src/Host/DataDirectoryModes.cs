using Microsoft.Extensions.Logging;
using StorageAppliance.Common.Devices;

namespace StorageAppliance.Host;

/// <summary>
/// Keeps the data folder private to the appliance's user. Extent groups and journal segments hold every export's
/// data (read-only exports and root-squashed files included) and the SQLite files its names and maps, so none of
/// it may be readable by another local user: files 0600, folders 0700.
/// </summary>
internal static class DataDirectoryModes
{
    /// <summary>
    /// Sets the umask to 077, so whatever is created from here on (SQLite's -wal and -shm files, the namespace
    /// database, catalog files) is private whatever the library asks for, and takes group and other access off
    /// what an older version left in <paramref name="dataDir"/> (created 0644 in 0755 folders).
    /// </summary>
    public static void MakePrivate(string dataDir, ILogger log)
    {
        if (OperatingSystem.IsWindows())
            return;
        NativeFile.SetUmask(0x3F); // 077
        PhysicalFileSystem.CreatePrivateDirectory(dataDir);
        int fixedCount = 0;
        try
        {
            foreach (var entry in new DirectoryInfo(dataDir).EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = true }))
            {
                if (entry.LinkTarget is not null)
                    continue; // a symlink's mode is not used; its target may not be ours
                var mode = entry.UnixFileMode;
                const UnixFileMode others = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
                    | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
                if ((mode & others) == 0)
                    continue;
                File.SetUnixFileMode(entry.FullName, mode & ~others);
                fixedCount++;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            HostLog.DataModesNotFixed(log, dataDir, e.Message);
            return;
        }
        if (fixedCount > 0)
            HostLog.DataModesFixed(log, dataDir, fixedCount);
    }
}

internal static partial class HostLog
{
    [LoggerMessage(EventId = 20, Level = LogLevel.Warning, Message = "data folder {DataDir}: {Count} file(s) and folder(s) were readable by other users; group and other access removed (files 0600, folders 0700)")]
    public static partial void DataModesFixed(ILogger logger, string dataDir, int count);

    [LoggerMessage(EventId = 21, Level = LogLevel.Warning, Message = "data folder {DataDir}: could not make every file private: {Reason}")]
    public static partial void DataModesNotFixed(ILogger logger, string dataDir, string reason);
}
