using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi.Tests.TestDoubles;

/// <summary>One call that reached the vDisk.</summary>
public readonly record struct VDiskCall(string Operation, long Offset, long Length, IoFlags Flags);

/// <summary>
/// Wraps a vDisk: records every call with its flags, can fail chosen operations with a chosen status, and
/// can complete every call asynchronously (after a yield) to exercise the awaiting paths.
/// </summary>
public sealed class FaultyVDisk(IVDisk inner) : IVDisk
{
    private readonly Dictionary<string, IoStatus> _failures = new();

    public List<VDiskCall> Calls { get; } = new();

    /// <summary>Complete each call on the thread pool instead of synchronously.</summary>
    public bool Asynchronous { get; set; }

    /// <summary>Makes every call of <paramref name="operation"/> ("read", "write", "unmap", "flush", "allocation") fail with <paramref name="status"/>.</summary>
    public void Fail(string operation, IoStatus status) => _failures[operation] = status;

    public void Heal() => _failures.Clear();

    /// <summary>When set, every read returns data with the byte at this offset of the read buffer flipped.</summary>
    public int? CorruptReadAt { get; set; }

    public long Id => inner.Id;

    public string Name => inner.Name;

    public long CapacityBytes => inner.CapacityBytes;

    public bool SupportsUnmap => inner.SupportsUnmap;

    public event Action<IVDisk>? CapacityChanged
    {
        add => inner.CapacityChanged += value;
        remove => inner.CapacityChanged -= value;
    }

    public IEnumerable<VDiskCall> Writes => Snapshot().Where(c => c.Operation == "write");

    public IEnumerable<VDiskCall> Reads => Snapshot().Where(c => c.Operation == "read");

    public IEnumerable<VDiskCall> Unmaps => Snapshot().Where(c => c.Operation == "unmap");

    /// <summary>Awaited before each call reaches the inner vDisk: a test holds an operation in flight with it.</summary>
    public Func<VDiskCall, Task>? BeforeCall { get; set; }

    public VDiskCall[] Snapshot()
    {
        lock (Calls)
            return Calls.ToArray();
    }

    public ValueTask<IoStatus> ReadAsync(long offset, Memory<byte> destination, IoContext context) =>
        Run("read", offset, destination.Length, IoFlags.None, () =>
        {
            var result = inner.ReadAsync(offset, destination, context);
            if (CorruptReadAt is int at && at < destination.Length)
                destination.Span[at] ^= 0x5A;
            return result;
        });

    public ValueTask<IoStatus> WriteAsync(long offset, ReadOnlyMemory<byte> source, IoFlags flags, IoContext context) =>
        Run("write", offset, source.Length, flags, () => inner.WriteAsync(offset, source, flags, context));

    public ValueTask<IoStatus> UnmapAsync(long offset, long length, IoContext context) =>
        Run("unmap", offset, length, IoFlags.None, () => inner.UnmapAsync(offset, length, context));

    public ValueTask<IoStatus> FlushAsync(IoContext context) =>
        Run("flush", 0, 0, IoFlags.None, () => inner.FlushAsync(context));

    /// <summary>Recorded as "allocation"; a failure set for it is returned as the run's status.</summary>
    public ValueTask<AllocationRun> GetAllocationAsync(long offset, long maxLength, IoContext context)
    {
        lock (Calls)
            Calls.Add(new VDiskCall("allocation", offset, maxLength, IoFlags.None));
        if (_failures.TryGetValue("allocation", out var failure))
            return new(AllocationRun.Failed(failure));
        return Asynchronous ? LaterRun(() => inner.GetAllocationAsync(offset, maxLength, context)) : inner.GetAllocationAsync(offset, maxLength, context);
    }

    private static async ValueTask<AllocationRun> LaterRun(Func<ValueTask<AllocationRun>> call)
    {
        await Task.Yield();
        return await call();
    }

    private ValueTask<IoStatus> Run(string operation, long offset, long length, IoFlags flags, Func<ValueTask<IoStatus>> call)
    {
        var record = new VDiskCall(operation, offset, length, flags);
        lock (Calls)
            Calls.Add(record);
        if (BeforeCall is { } before)
            return AfterGate(before(record), operation, call);
        if (_failures.TryGetValue(operation, out var failure))
            return Asynchronous ? Later(() => new ValueTask<IoStatus>(failure)) : new(failure);
        return Asynchronous ? Later(call) : call();
    }

    private async ValueTask<IoStatus> AfterGate(Task gate, string operation, Func<ValueTask<IoStatus>> call)
    {
        await gate.ConfigureAwait(false);
        if (_failures.TryGetValue(operation, out var failure))
            return failure;
        return await call().ConfigureAwait(false);
    }

    private static async ValueTask<IoStatus> Later(Func<ValueTask<IoStatus>> call)
    {
        await Task.Yield();
        return await call();
    }
}
