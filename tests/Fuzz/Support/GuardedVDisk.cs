using StorageAppliance.Director;

namespace StorageAppliance.Fuzz.Support;

/// <summary>
/// The vDisk behind a CHAP-protected target in a connection-level target. The fuzzer cannot answer a
/// random CHAP challenge, so any read, write or unmap that reaches this disk came through a login that
/// skipped authentication: the harness reports it as a defect (issue 13's CHAP bypass is of this kind).
/// </summary>
public sealed class GuardedVDisk(IVDisk inner) : IVDisk
{
    public bool Touched { get; private set; }

    public long Id => inner.Id;

    public string Name => inner.Name;

    public long CapacityBytes => inner.CapacityBytes;

    public bool SupportsUnmap => inner.SupportsUnmap;

    public event Action<IVDisk>? CapacityChanged
    {
        add { }
        remove { }
    }

    public ValueTask<IoStatus> ReadAsync(long offset, Memory<byte> destination, IoContext context)
    {
        Touched = true;
        return inner.ReadAsync(offset, destination, context);
    }

    public ValueTask<IoStatus> WriteAsync(long offset, ReadOnlyMemory<byte> source, IoFlags flags, IoContext context)
    {
        Touched = true;
        return inner.WriteAsync(offset, source, flags, context);
    }

    public ValueTask<IoStatus> UnmapAsync(long offset, long length, IoContext context)
    {
        Touched = true;
        return inner.UnmapAsync(offset, length, context);
    }

    public ValueTask<IoStatus> FlushAsync(IoContext context) => inner.FlushAsync(context);

    public ValueTask<AllocationRun> GetAllocationAsync(long offset, long maxLength, IoContext context) => inner.GetAllocationAsync(offset, maxLength, context);
}
