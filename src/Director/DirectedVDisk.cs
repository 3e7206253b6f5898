using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace StorageAppliance.Director;

/// <summary>
/// The handle front ends hold for a vDisk: every read, write, unmap and flush passes through the
/// Director here on its way to the vDisk controller (seed 003, FIG. 5: the I/O Director sits between
/// the protocol adapters and the controllers). Today it admits everything and keeps per-vDisk counters;
/// admission control and the QoS queues slot in here without the front ends changing.
/// </summary>
/// <remarks>
/// Nothing is allocated per request on the synchronous path; an asynchronous completion uses a pooled
/// state machine.
/// </remarks>
public sealed class DirectedVDisk : IVDisk
{
    private readonly IVDisk _backing;
    private readonly VDiskCounters _counters = new();

    internal DirectedVDisk(IVDisk backing)
    {
        _backing = backing;
        backing.CapacityChanged += _ => CapacityChanged?.Invoke(this);
    }

    /// <summary>The vDisk controller behind this handle.</summary>
    public IVDisk Backing => _backing;

    public long Id => _backing.Id;

    public string Name => _backing.Name;

    public long CapacityBytes => _backing.CapacityBytes;

    public bool SupportsUnmap => _backing.SupportsUnmap;

    public event Action<IVDisk>? CapacityChanged;

    /// <summary>What this vDisk has served since the appliance started.</summary>
    public VDiskStats Stats => _counters.Snapshot(Id, Name);

    public ValueTask<IoStatus> ReadAsync(long offset, Memory<byte> destination, IoContext context)
    {
        long start = _counters.Begin();
        return Complete(_backing.ReadAsync(offset, destination, context), IoKind.Read, destination.Length, start);
    }

    public ValueTask<IoStatus> WriteAsync(long offset, ReadOnlyMemory<byte> source, IoFlags flags, IoContext context)
    {
        long start = _counters.Begin();
        return Complete(_backing.WriteAsync(offset, source, flags, context), IoKind.Write, source.Length, start);
    }

    public ValueTask<IoStatus> UnmapAsync(long offset, long length, IoContext context)
    {
        long start = _counters.Begin();
        return Complete(_backing.UnmapAsync(offset, length, context), IoKind.Unmap, 0, start);
    }

    public ValueTask<IoStatus> FlushAsync(IoContext context)
    {
        long start = _counters.Begin();
        return Complete(_backing.FlushAsync(context), IoKind.Flush, 0, start);
    }

    /// <summary>An allocation query is metadata, not I/O: it passes straight through, uncounted.</summary>
    public ValueTask<AllocationRun> GetAllocationAsync(long offset, long maxLength, IoContext context) =>
        _backing.GetAllocationAsync(offset, maxLength, context);

    private ValueTask<IoStatus> Complete(ValueTask<IoStatus> pending, IoKind kind, long bytes, long start)
    {
        if (pending.IsCompletedSuccessfully)
        {
            var status = pending.Result;
            _counters.End(kind, bytes, start, status);
            return new ValueTask<IoStatus>(status);
        }
        return CompleteLater(pending, kind, bytes, start);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<IoStatus> CompleteLater(ValueTask<IoStatus> pending, IoKind kind, long bytes, long start)
    {
        var status = IoStatus.Aborted;
        try
        {
            status = await pending.ConfigureAwait(false);
            return status;
        }
        finally
        {
            _counters.End(kind, bytes, start, status);
        }
    }

    public override string ToString() => $"{Name} (through the Director)";
}

internal enum IoKind : byte
{
    Read,
    Write,
    Unmap,
    Flush,
}

/// <summary>Counters of one vDisk, updated with interlocked adds (no lock on the data path).</summary>
internal sealed class VDiskCounters
{
    private long _reads, _writes, _unmaps, _flushes, _bytesRead, _bytesWritten, _errors, _inFlight, _serviceTicks;

    public long Begin()
    {
        Interlocked.Increment(ref _inFlight);
        return Stopwatch.GetTimestamp();
    }

    public void End(IoKind kind, long bytes, long start, IoStatus status)
    {
        Interlocked.Add(ref _serviceTicks, Stopwatch.GetTimestamp() - start);
        Interlocked.Decrement(ref _inFlight);
        if (status != IoStatus.Ok)
        {
            Interlocked.Increment(ref _errors);
            return;
        }
        switch (kind)
        {
            case IoKind.Read:
                Interlocked.Increment(ref _reads);
                Interlocked.Add(ref _bytesRead, bytes);
                break;
            case IoKind.Write:
                Interlocked.Increment(ref _writes);
                Interlocked.Add(ref _bytesWritten, bytes);
                break;
            case IoKind.Unmap:
                Interlocked.Increment(ref _unmaps);
                break;
            default:
                Interlocked.Increment(ref _flushes);
                break;
        }
    }

    public VDiskStats Snapshot(long id, string name) => new(
        id, name,
        Volatile.Read(ref _reads), Volatile.Read(ref _writes), Volatile.Read(ref _unmaps), Volatile.Read(ref _flushes),
        Volatile.Read(ref _bytesRead), Volatile.Read(ref _bytesWritten), Volatile.Read(ref _errors), Volatile.Read(ref _inFlight),
        TimeSpan.FromSeconds((double)Volatile.Read(ref _serviceTicks) / Stopwatch.Frequency));
}

/// <summary>A vDisk's counters at one moment: completed requests by kind, bytes, failures, requests in flight and total service time.</summary>
public sealed record VDiskStats(
    long Id,
    string Name,
    long Reads,
    long Writes,
    long Unmaps,
    long Flushes,
    long BytesRead,
    long BytesWritten,
    long Errors,
    long InFlight,
    TimeSpan ServiceTime);
