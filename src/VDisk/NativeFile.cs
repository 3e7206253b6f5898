using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace StorageAppliance.VDisk;

/// <summary>The few Linux file calls .NET does not expose: fdatasync and hole punching.</summary>
internal static partial class NativeFile
{
    private const int FALLOC_FL_KEEP_SIZE = 0x01;
    private const int FALLOC_FL_PUNCH_HOLE = 0x02;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fdatasync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fallocate(int fd, int mode, long offset, long len);

    /// <summary>fdatasync(2): the file's data (not its timestamps) reaches stable storage.</summary>
    public static int DataSync(SafeFileHandle handle)
    {
        bool added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            return fdatasync((int)handle.DangerousGetHandle()) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
        finally
        {
            if (added)
                handle.DangerousRelease();
        }
    }

    /// <summary>Deallocates a range; it reads back as zeros. Returns errno, 0 on success.</summary>
    public static int PunchHole(SafeFileHandle handle, long offset, long length)
    {
        bool added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            return fallocate((int)handle.DangerousGetHandle(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length) == 0
                ? 0
                : Marshal.GetLastPInvokeError();
        }
        finally
        {
            if (added)
                handle.DangerousRelease();
        }
    }

    public const int EIO = 5;
    public const int ENOSPC = 28;
    public const int EOPNOTSUPP = 95;
}
