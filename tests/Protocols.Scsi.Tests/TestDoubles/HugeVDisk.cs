using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi.Tests.TestDoubles;

/// <summary>A vDisk of any size that stores nothing: for capacity reporting beyond what memory holds.</summary>
public sealed class HugeVDisk(long capacityBytes) : IVDisk
{
    public long Id => 7;

    public string Name => "huge";

    public long CapacityBytes => capacityBytes;

    public bool SupportsUnmap => true;

    public event Action<IVDisk>? CapacityChanged
    {
        add { }
        remove { }
    }

    public ValueTask<IoStatus> ReadAsync(long offset, Memory<byte> destination, IoContext context)
    {
        destination.Span.Clear();
        return new(IoStatus.Ok);
    }

    public ValueTask<IoStatus> WriteAsync(long offset, ReadOnlyMemory<byte> source, IoFlags flags, IoContext context) => new(IoStatus.Ok);

    public ValueTask<IoStatus> UnmapAsync(long offset, long length, IoContext context) => new(IoStatus.Ok);

    public ValueTask<IoStatus> FlushAsync(IoContext context) => new(IoStatus.Ok);

    /// <summary>It stores nothing: everything is deallocated.</summary>
    public ValueTask<AllocationRun> GetAllocationAsync(long offset, long maxLength, IoContext context) =>
        offset < 0 || offset >= capacityBytes || maxLength <= 0
            ? new(AllocationRun.Failed(IoStatus.OutOfRange))
            : new(new AllocationRun(IoStatus.Ok, Math.Min(maxLength, capacityBytes - offset), false));
}
