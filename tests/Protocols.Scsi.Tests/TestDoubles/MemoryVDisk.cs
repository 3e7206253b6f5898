using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi.Tests.TestDoubles;

/// <summary>
/// A vDisk held in one byte array. Unwritten and unmapped bytes read as zeros, as IVDisk promises.
/// Every call completes synchronously; wrap it in <see cref="FaultyVDisk"/> for asynchronous completion,
/// failures and a record of the calls.
/// </summary>
public sealed class MemoryVDisk : IVDisk
{
    private byte[] _data;

    public MemoryVDisk(long capacityBytes, bool supportsUnmap = true)
    {
        _data = new byte[capacityBytes];
        SupportsUnmap = supportsUnmap;
    }

    public long Id => 42;

    public string Name => "memory";

    public long CapacityBytes => _data.LongLength;

    public bool SupportsUnmap { get; }

    public int Flushes { get; private set; }

    public event Action<IVDisk>? CapacityChanged;

    /// <summary>The disk's bytes, for tests to seed and inspect.</summary>
    public Span<byte> Bytes => _data;

    public void Resize(long capacityBytes)
    {
        Array.Resize(ref _data, (int)capacityBytes);
        CapacityChanged?.Invoke(this);
    }

    public ValueTask<IoStatus> ReadAsync(long offset, Memory<byte> destination, IoContext context)
    {
        if (offset < 0 || offset + destination.Length > CapacityBytes)
            return new(IoStatus.OutOfRange);
        _data.AsSpan((int)offset, destination.Length).CopyTo(destination.Span);
        return new(IoStatus.Ok);
    }

    public ValueTask<IoStatus> WriteAsync(long offset, ReadOnlyMemory<byte> source, IoFlags flags, IoContext context)
    {
        if (offset < 0 || offset + source.Length > CapacityBytes)
            return new(IoStatus.OutOfRange);
        source.Span.CopyTo(_data.AsSpan((int)offset));
        return new(IoStatus.Ok);
    }

    public ValueTask<IoStatus> UnmapAsync(long offset, long length, IoContext context)
    {
        if (!SupportsUnmap)
            return new(IoStatus.WriteError);
        if (offset < 0 || length < 0 || offset + length > CapacityBytes)
            return new(IoStatus.OutOfRange);
        _data.AsSpan((int)offset, (int)length).Clear();
        return new(IoStatus.Ok);
    }

    public ValueTask<IoStatus> FlushAsync(IoContext context)
    {
        Flushes++;
        return new(IoStatus.Ok);
    }
}
