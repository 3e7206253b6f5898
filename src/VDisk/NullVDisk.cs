using StorageAppliance.Director;

namespace StorageAppliance.VDisk;

/// <summary>
/// A vDisk without storage (config <c>backing: none</c>): reads return zeros, writes and unmaps are
/// accepted and discarded, flushes succeed at once. Behind a LUN or an NFS file it measures what the
/// front end and the Director cost alone, like tgt's null backing store.
/// </summary>
public sealed class NullVDisk(long id, string name, long capacityBytes) : IVDisk
{
    public long Id { get; } = id;

    public string Name { get; } = name;

    public long CapacityBytes { get; } = capacityBytes;

    public bool SupportsUnmap => true;

    public event Action<IVDisk>? CapacityChanged
    {
        add { }
        remove { }
    }

    public ValueTask<IoStatus> ReadAsync(long offset, Memory<byte> destination, IoContext context)
    {
        if (offset < 0 || offset + destination.Length > CapacityBytes)
            return new(IoStatus.OutOfRange);
        destination.Span.Clear();
        return new(IoStatus.Ok);
    }

    public ValueTask<IoStatus> WriteAsync(long offset, ReadOnlyMemory<byte> source, IoFlags flags, IoContext context) =>
        new(offset < 0 || offset + source.Length > CapacityBytes ? IoStatus.OutOfRange : IoStatus.Ok);

    public ValueTask<IoStatus> UnmapAsync(long offset, long length, IoContext context) =>
        new(offset < 0 || offset + length > CapacityBytes ? IoStatus.OutOfRange : IoStatus.Ok);

    public ValueTask<IoStatus> FlushAsync(IoContext context) => new(IoStatus.Ok);

    /// <summary>Nothing is ever stored: every block is deallocated (and reads zeros, as LBPRZ promises).</summary>
    public ValueTask<AllocationRun> GetAllocationAsync(long offset, long maxLength, IoContext context) =>
        new(offset < 0 || offset >= CapacityBytes || maxLength <= 0
            ? new AllocationRun(IoStatus.OutOfRange, 0, false)
            : new AllocationRun(IoStatus.Ok, Math.Min(maxLength, CapacityBytes - offset), false));
}
