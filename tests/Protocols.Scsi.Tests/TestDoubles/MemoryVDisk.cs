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

    /// <summary>One flag per <see cref="AllocationUnit"/>: written since it was last unmapped whole.</summary>
    private bool[] _mapped;

    public MemoryVDisk(long capacityBytes, bool supportsUnmap = true, int allocationUnit = 512)
    {
        _data = new byte[capacityBytes];
        SupportsUnmap = supportsUnmap;
        AllocationUnit = allocationUnit;
        _mapped = new bool[(capacityBytes + allocationUnit - 1) / allocationUnit];
    }

    /// <summary>
    /// Granularity of the allocation map: a write maps every unit it touches, an unmap deallocates only the
    /// units it covers whole (as a real store with larger allocation units does).
    /// </summary>
    public int AllocationUnit { get; }

    /// <summary>How many allocation queries reached the disk.</summary>
    public int AllocationQueries { get; private set; }

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
        Array.Resize(ref _mapped, (int)((capacityBytes + AllocationUnit - 1) / AllocationUnit));
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
        if (source.Length > 0)
            _mapped.AsSpan((int)(offset / AllocationUnit), (int)((offset + source.Length - 1) / AllocationUnit - offset / AllocationUnit + 1)).Fill(true);
        return new(IoStatus.Ok);
    }

    public ValueTask<IoStatus> UnmapAsync(long offset, long length, IoContext context)
    {
        if (!SupportsUnmap)
            return new(IoStatus.WriteError);
        if (offset < 0 || length < 0 || offset + length > CapacityBytes)
            return new(IoStatus.OutOfRange);
        _data.AsSpan((int)offset, (int)length).Clear();
        long first = (offset + AllocationUnit - 1) / AllocationUnit;
        long end = (offset + length) / AllocationUnit;
        if (offset + length == CapacityBytes)
            end = _mapped.Length; // a last unit cut short by the capacity is covered whole
        if (end > first)
            _mapped.AsSpan((int)first, (int)(end - first)).Clear();
        return new(IoStatus.Ok);
    }

    public ValueTask<IoStatus> FlushAsync(IoContext context)
    {
        Flushes++;
        return new(IoStatus.Ok);
    }

    /// <summary>Marks a range allocated without changing its bytes (e.g. written zeros).</summary>
    public void MarkMapped(long offset, long length) =>
        _mapped.AsSpan((int)(offset / AllocationUnit), (int)((offset + length - 1) / AllocationUnit - offset / AllocationUnit + 1)).Fill(true);

    public ValueTask<AllocationRun> GetAllocationAsync(long offset, long maxLength, IoContext context)
    {
        AllocationQueries++;
        if (offset < 0 || offset >= CapacityBytes || maxLength <= 0)
            return new(AllocationRun.Failed(IoStatus.OutOfRange));
        long end = offset + Math.Min(maxLength, CapacityBytes - offset);
        long unit = offset / AllocationUnit;
        bool mapped = _mapped[unit];
        long pos = (unit + 1) * AllocationUnit;
        while (pos < end && _mapped[pos / AllocationUnit] == mapped)
            pos += AllocationUnit;
        return new(new AllocationRun(IoStatus.Ok, Math.Min(pos, end) - offset, mapped));
    }
}
