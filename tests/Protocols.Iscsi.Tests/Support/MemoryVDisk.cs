using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Iscsi.Tests.Support;

/// <summary>A vDisk in one byte array; unwritten bytes read as zeros. Every call completes synchronously.</summary>
public sealed class MemoryVDisk : IVDisk
{
    private readonly byte[] _data;

    public MemoryVDisk(long capacityBytes) => _data = new byte[capacityBytes];

    public long Id => 7143;

    public string Name => "iscsi-test";

    public long CapacityBytes => _data.LongLength;

    public bool SupportsUnmap => true;

    public int Writes { get; private set; }

    public event Action<IVDisk>? CapacityChanged
    {
        add { }
        remove { }
    }

    public Span<byte> Bytes => _data;

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
        Writes++;
        return new(IoStatus.Ok);
    }

    public ValueTask<IoStatus> UnmapAsync(long offset, long length, IoContext context)
    {
        if (offset < 0 || length < 0 || offset + length > CapacityBytes)
            return new(IoStatus.OutOfRange);
        _data.AsSpan((int)offset, (int)length).Clear();
        return new(IoStatus.Ok);
    }

    public ValueTask<IoStatus> FlushAsync(IoContext context) => new(IoStatus.Ok);

    /// <summary>Keeps no allocation map: every byte counts as mapped.</summary>
    public ValueTask<AllocationRun> GetAllocationAsync(long offset, long maxLength, IoContext context) =>
        offset < 0 || offset >= CapacityBytes || maxLength <= 0
            ? new(AllocationRun.Failed(IoStatus.OutOfRange))
            : new(new AllocationRun(IoStatus.Ok, Math.Min(maxLength, CapacityBytes - offset), true));
}
