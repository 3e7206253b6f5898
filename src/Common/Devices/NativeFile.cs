using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace StorageAppliance.Common.Devices;

/// <summary>The few Linux file calls .NET does not expose: fdatasync, fsync of a directory, hole punching.</summary>
public static partial class NativeFile
{
    public const int EIO = 5;
    public const int ENOSPC = 28;
    public const int EOPNOTSUPP = 95;

    private const int FALLOC_FL_KEEP_SIZE = 0x01;
    private const int FALLOC_FL_PUNCH_HOLE = 0x02;
    private const int O_RDONLY = 0;
    private const int O_DIRECTORY = 0x10000;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fdatasync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fallocate(int fd, int mode, long offset, long len);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial long lseek(int fd, long offset, int whence);

    [LibraryImport("libc")]
    private static partial uint umask(uint mask);

    /// <summary>
    /// Sets the process's file mode creation mask (umask(2)) and returns the previous one. The appliance sets 077
    /// at start, so whatever a library creates in its data folders (SQLite's -wal and -shm files among them) is
    /// readable by its owner only.
    /// </summary>
    public static uint SetUmask(uint mask) => umask(mask);

    /// <summary>
    /// Whether an I/O error is ENOSPC (or EDQUOT): the file system has no room. It is not a failing disk: the
    /// write can succeed later, once space is freed. .NET puts the errno in the HResult of the IOExceptions it
    /// raises on Unix; ours (NativeFile callers, the fault-injecting file systems) do the same.
    /// </summary>
    public static bool IsNoSpace(IOException e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
            if (x is IOException io && (io.HResult & 0xFFFF) is ENOSPC or EDQUOT)
                return true;
        return false;
    }

    public const int EDQUOT = 122;

    public const int ENXIO = 6;
    private const int SEEK_DATA = 3;
    private const int SEEK_HOLE = 4;

    /// <summary>lseek(2) SEEK_DATA: the first offset at or after <paramref name="offset"/> holding data, or -errno (-ENXIO: none before the end).</summary>
    public static long SeekData(SafeFileHandle handle, long offset) => Seek(handle, offset, SEEK_DATA);

    /// <summary>lseek(2) SEEK_HOLE: the first offset at or after <paramref name="offset"/> in a hole (the end of the file counts as one), or -errno.</summary>
    public static long SeekHole(SafeFileHandle handle, long offset) => Seek(handle, offset, SEEK_HOLE);

    private static long Seek(SafeFileHandle handle, long offset, int whence)
    {
        bool added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            long r = lseek((int)handle.DangerousGetHandle(), offset, whence);
            return r >= 0 ? r : -Marshal.GetLastPInvokeError();
        }
        finally
        {
            if (added)
                handle.DangerousRelease();
        }
    }

    /// <summary>fdatasync(2); returns 0 or errno.</summary>
    public static int DataSync(SafeFileHandle handle) => WithFd(handle, fd => fdatasync(fd) == 0 ? 0 : Marshal.GetLastPInvokeError());

    /// <summary>Deallocates a range (it reads back as zeros); returns 0 or errno.</summary>
    public static int PunchHole(SafeFileHandle handle, long offset, long length) =>
        WithFd(handle, fd => fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length) == 0 ? 0 : Marshal.GetLastPInvokeError());

    /// <summary>fsync of a directory, so entries created or removed in it survive a power cut; returns 0 or errno.</summary>
    public static int SyncDirectory(string path)
    {
        int fd = open(path, O_RDONLY | O_DIRECTORY);
        if (fd < 0)
            return Marshal.GetLastPInvokeError();
        try
        {
            return fsync(fd) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
        finally
        {
            close(fd);
        }
    }

    private static int WithFd(SafeFileHandle handle, Func<int, int> call)
    {
        bool added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            return call((int)handle.DangerousGetHandle());
        }
        finally
        {
            if (added)
                handle.DangerousRelease();
        }
    }
}
