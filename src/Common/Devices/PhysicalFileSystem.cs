using Microsoft.Win32.SafeHandles;

namespace StorageAppliance.Common.Devices;

/// <summary>The real file system: pread/pwrite through the page cache, fdatasync for durability.</summary>
public sealed class PhysicalFileSystem : IStorageFileSystem
{
    public static readonly PhysicalFileSystem Instance = new();

    public IStorageFile Open(string path, bool create)
    {
        var handle = File.OpenHandle(path, create ? FileMode.OpenOrCreate : FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, FileOptions.None);
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

    public void CreateDirectory(string path) => Directory.CreateDirectory(path);

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
