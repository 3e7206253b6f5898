using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using StorageAppliance.Common.Devices;
using StorageAppliance.Director;

namespace StorageAppliance.VDisk;

/// <summary>
/// A vDisk kept in one sparse file: the stand-in until the storage engine (journal, extent groups)
/// replaces it. Reads and writes go through the page cache; a write that must be durable (FUA, or the
/// initiator turned the write cache off) waits for a group-committed fdatasync, as does a flush.
/// </summary>
public sealed class FileVDisk : IVDisk, IDisposable
{
    private readonly SafeFileHandle _handle;
    private readonly GroupCommit _commit;
    private readonly ILogger _log;
    private long _capacity;

    private FileVDisk(long id, string name, string path, SafeFileHandle handle, long capacity, ILogger log)
    {
        Id = id;
        Name = name;
        Path = path;
        _handle = handle;
        _capacity = capacity;
        _log = log;
        _commit = new GroupCommit(() => NativeFile.DataSync(_handle));
    }

    public long Id { get; }

    public string Name { get; }

    public string Path { get; }

    public long CapacityBytes => Volatile.Read(ref _capacity);

    public bool SupportsUnmap => true;

    public event Action<IVDisk>? CapacityChanged;

    /// <summary>Opens the backing file, creating it sparse if it does not exist, and sizes it to <paramref name="capacity"/>.</summary>
    public static FileVDisk Open(long id, string name, string path, long capacity, ILogger log)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        var handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, FileOptions.None);
        long length = RandomAccess.GetLength(handle);
        if (length < capacity)
            RandomAccess.SetLength(handle, capacity);
        return new FileVDisk(id, name, path, handle, capacity, log);
    }

    /// <summary>Grows (or shrinks) the vDisk. Shrinking discards data beyond the new end.</summary>
    public void Resize(long capacity)
    {
        RandomAccess.SetLength(_handle, capacity);
        Volatile.Write(ref _capacity, capacity);
        CapacityChanged?.Invoke(this);
    }

    public ValueTask<IoStatus> ReadAsync(long offset, Memory<byte> destination, IoContext context)
    {
        if (offset < 0 || offset + destination.Length > CapacityBytes)
            return new ValueTask<IoStatus>(IoStatus.OutOfRange);
        try
        {
            var span = destination.Span;
            int done = 0;
            while (done < span.Length)
            {
                int n = RandomAccess.Read(_handle, span[done..], offset + done);
                if (n == 0)
                {
                    span[done..].Clear(); // past the end of a short file: never written, reads as zeros
                    break;
                }
                done += n;
            }
            return new ValueTask<IoStatus>(IoStatus.Ok);
        }
        catch (IOException e)
        {
            VDiskLog.ReadFailed(_log, Name, offset, destination.Length, e.Message);
            return new ValueTask<IoStatus>(IoStatus.MediumError);
        }
    }

    public ValueTask<IoStatus> WriteAsync(long offset, ReadOnlyMemory<byte> source, IoFlags flags, IoContext context)
    {
        if (offset < 0 || offset + source.Length > CapacityBytes)
            return new ValueTask<IoStatus>(IoStatus.OutOfRange);
        try
        {
            RandomAccess.Write(_handle, source.Span, offset);
        }
        catch (IOException e)
        {
            VDiskLog.WriteFailed(_log, Name, offset, source.Length, e.Message);
            return new ValueTask<IoStatus>(IsNoSpace(e) ? IoStatus.NoSpace : IoStatus.WriteError);
        }
        if ((flags & IoFlags.ForceUnitAccess) == 0)
            return new ValueTask<IoStatus>(IoStatus.Ok);
        return AwaitSync(_commit.SyncAsync(), IoStatus.WriteError);
    }

    public ValueTask<IoStatus> UnmapAsync(long offset, long length, IoContext context)
    {
        if (offset < 0 || length < 0 || offset + length > CapacityBytes)
            return new ValueTask<IoStatus>(IoStatus.OutOfRange);
        if (length == 0)
            return new ValueTask<IoStatus>(IoStatus.Ok);
        int err = NativeFile.PunchHole(_handle, offset, length);
        if (err == NativeFile.EOPNOTSUPP)
        {
            // The file system cannot punch holes: write zeros instead, so the range still reads as zeros.
            var zeros = new byte[Math.Min(length, 1 << 20)];
            for (long done = 0; done < length; done += zeros.Length)
                RandomAccess.Write(_handle, zeros.AsSpan(0, (int)Math.Min(zeros.Length, length - done)), offset + done);
            err = 0;
        }
        if (err != 0)
        {
            VDiskLog.WriteFailed(_log, Name, offset, length, $"fallocate: errno {err}");
            return new ValueTask<IoStatus>(IoStatus.WriteError);
        }
        return new ValueTask<IoStatus>(IoStatus.Ok);
    }

    /// <summary>
    /// The file's holes are the deallocated ranges (SEEK_DATA / SEEK_HOLE); a file system that cannot tell
    /// reports everything as data, which reads as "mapped or unknown".
    /// </summary>
    public ValueTask<AllocationRun> GetAllocationAsync(long offset, long maxLength, IoContext context)
    {
        long capacity = CapacityBytes;
        if (offset < 0 || offset >= capacity || maxLength <= 0)
            return new ValueTask<AllocationRun>(AllocationRun.Failed(IoStatus.OutOfRange));
        long end = offset + Math.Min(maxLength, capacity - offset);
        long data = NativeFile.SeekData(_handle, offset);
        if (data == -NativeFile.ENXIO)
            return new ValueTask<AllocationRun>(new AllocationRun(IoStatus.Ok, end - offset, false)); // a hole up to the end of the file
        if (data < 0)
            return new ValueTask<AllocationRun>(new AllocationRun(IoStatus.Ok, end - offset, true));
        if (data > offset)
            return new ValueTask<AllocationRun>(new AllocationRun(IoStatus.Ok, Math.Min(data, end) - offset, false));
        long hole = NativeFile.SeekHole(_handle, offset);
        long runEnd = hole > offset ? Math.Min(hole, end) : end;
        return new ValueTask<AllocationRun>(new AllocationRun(IoStatus.Ok, runEnd - offset, true));
    }

    public ValueTask<IoStatus> FlushAsync(IoContext context) => AwaitSync(_commit.SyncAsync(), IoStatus.WriteError);

    private ValueTask<IoStatus> AwaitSync(Task<int> sync, IoStatus onError)
    {
        if (sync.IsCompletedSuccessfully)
            return new ValueTask<IoStatus>(sync.Result == 0 ? IoStatus.Ok : onError);
        return Slow(sync, onError, this);

        static async ValueTask<IoStatus> Slow(Task<int> sync, IoStatus onError, FileVDisk self)
        {
            int err = await sync.ConfigureAwait(false);
            if (err == 0)
                return IoStatus.Ok;
            VDiskLog.SyncFailed(self._log, self.Name, err);
            return err == NativeFile.ENOSPC ? IoStatus.NoSpace : onError;
        }
    }

    private static bool IsNoSpace(IOException e) => (e.HResult & 0xFFFF) == NativeFile.ENOSPC || e.Message.Contains("space", StringComparison.OrdinalIgnoreCase);

    public void Dispose()
    {
        NativeFile.DataSync(_handle);
        _handle.Dispose();
    }
}

internal static partial class VDiskLog
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Error, Message = "vDisk {Name}: read of {Length} bytes at {Offset} failed: {Reason}")]
    public static partial void ReadFailed(ILogger logger, string name, long offset, long length, string reason);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Error, Message = "vDisk {Name}: write of {Length} bytes at {Offset} failed: {Reason}")]
    public static partial void WriteFailed(ILogger logger, string name, long offset, long length, string reason);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Error, Message = "vDisk {Name}: fdatasync failed with errno {Errno}")]
    public static partial void SyncFailed(ILogger logger, string name, int errno);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Information, Message = "vDisk {Name} (id {Id:x16}) opened: {Capacity} bytes at {Path}")]
    public static partial void Opened(ILogger logger, string name, long id, long capacity, string path);
}
