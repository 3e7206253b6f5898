using Microsoft.Win32.SafeHandles;

namespace StorageAppliance.Common.Devices;

/// <summary>
/// The real file system: pread/pwrite through the page cache, fdatasync for durability. Files it creates are
/// 0600 and folders 0700: extent groups and journal segments hold every export's data, which no other local
/// user may read (read-only exports and root-squashed files included).
/// </summary>
public sealed class PhysicalFileSystem : IStorageFileSystem
{
    public static readonly PhysicalFileSystem Instance = new();

    /// <summary>Mode of the data, journal and label files the appliance creates.</summary>
    public const UnixFileMode FileMode0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Mode of the folders the appliance creates.</summary>
    public const UnixFileMode DirectoryMode0700 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public IStorageFile Open(string path, bool create)
    {
        var handle = File.OpenHandle(path, create ? FileMode.OpenOrCreate : FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, FileOptions.None);
        if (create && !OperatingSystem.IsWindows())
        {
            // Not left to the umask: a test or tool using this class may run with 022. fchmod on the open
            // handle, so there is no moment in which another path could be swapped in.
            try
            {
                if ((File.GetUnixFileMode(handle) & ~FileMode0600) != 0)
                    File.SetUnixFileMode(handle, FileMode0600);
            }
            catch
            {
                handle.Dispose();
                throw;
            }
        }
        return new PhysicalFile(path, handle);
    }

    public bool Exists(string path) => File.Exists(path);

    public void Delete(string path) => File.Delete(path);

    public void Rename(string from, string to) => File.Move(from, to, overwrite: true);

    public IReadOnlyList<string> List(string directory, string pattern)
    {
        if (!Directory.Exists(directory))
            return [];
        var names = Directory.GetFiles(directory, pattern).Select(Path.GetFileName).ToList();
        names.Sort(StringComparer.Ordinal);
        return names!;
    }

    public void CreateDirectory(string path) => CreatePrivateDirectory(path);

    /// <summary>
    /// Creates a folder (and its missing parents) 0700; a folder that exists already keeps its owner's bits but
    /// loses any group and other access (a data folder made 0755 by an older version is fixed at its next start).
    /// </summary>
    public static void CreatePrivateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }
        var info = Directory.CreateDirectory(path, DirectoryMode0700);
        var mode = info.UnixFileMode;
        if ((mode & ~(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute)) != 0)
            File.SetUnixFileMode(path, mode & DirectoryMode0700);
    }

    public void SyncDirectory(string path)
    {
        int err = NativeFile.SyncDirectory(path);
        if (err != 0)
            throw new IOException($"fsync of directory {path} failed: errno {err}", err);
    }

    public long FreeSpace(string path)
    {
        var full = Path.GetFullPath(path);
        while (!Directory.Exists(full) && Path.GetDirectoryName(full) is { } parent)
            full = parent;
        return new DriveInfo(full).AvailableFreeSpace;
    }

    private sealed class PhysicalFile(string path, SafeFileHandle handle) : IStorageFile
    {
        public string Path { get; } = path;

        public long Length => RandomAccess.GetLength(handle);

        public int Read(Span<byte> buffer, long offset)
        {
            int done = 0;
            while (done < buffer.Length)
            {
                int n = RandomAccess.Read(handle, buffer[done..], offset + done);
                if (n == 0)
                    break;
                done += n;
            }
            return done;
        }

        public void Write(ReadOnlySpan<byte> data, long offset) => RandomAccess.Write(handle, data, offset);

        public void Write(IReadOnlyList<ReadOnlyMemory<byte>> buffers, long offset) => RandomAccess.Write(handle, buffers, offset);

        public void Flush()
        {
            int err = NativeFile.DataSync(handle);
            if (err != 0)
                throw new IOException($"fdatasync of {Path} failed: errno {err}", err);
        }

        public void SetLength(long length) => RandomAccess.SetLength(handle, length);

        public void PunchHole(long offset, long length)
        {
            int err = NativeFile.PunchHole(handle, offset, length);
            if (err == NativeFile.EOPNOTSUPP)
            {
                // No hole punching on this file system: write zeros so the range still reads as zeros.
                var zeros = new byte[(int)Math.Min(length, 1 << 20)];
                for (long done = 0; done < length; done += zeros.Length)
                    RandomAccess.Write(handle, zeros.AsSpan(0, (int)Math.Min(zeros.Length, length - done)), offset + done);
                return;
            }
            if (err != 0)
                throw new IOException($"punching a hole in {Path} failed: errno {err}", err);
        }

        public void Dispose() => handle.Dispose();
    }
}
