using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using StorageAppliance.Director.Qos;

namespace StorageAppliance.Director;

/// <summary>
/// The handle front ends hold for a vDisk: every read, write, unmap and flush passes through the
/// Director here on its way to the vDisk controller (seed 003, FIG. 5: the I/O Director sits between
/// the protocol adapters and the controllers). Each request passes admission control
/// (<see cref="QosScheduler"/>): admitted at once, or held in its vDisk's queue until its class,
/// fair share, limits and the outstanding bounds let it go; then it is counted per vDisk and per client.
/// </summary>
/// <remarks>
/// Nothing is allocated per request on the path where a request is admitted at once and completes
/// synchronously; a queued request or an asynchronous completion uses pooled state machines and waiters.
/// </remarks>
public sealed class DirectedVDisk : IVDisk
{
    private readonly IVDisk _backing;
    private readonly IoDirector _director;
    private readonly QosScheduler _scheduler;
    private readonly QosQueue _queue;
    private readonly VDiskCounters _counters = new();

    internal DirectedVDisk(IVDisk backing, IoDirector director, QosQueue queue)
    {
        _backing = backing;
        _director = director;
        _scheduler = director.Scheduler;
        _queue = queue;
        backing.CapacityChanged += _ => CapacityChanged?.Invoke(this);
    }

    /// <summary>The vDisk controller behind this handle.</summary>
    public IVDisk Backing => _backing;

    /// <summary>This vDisk's admission state: policy, queue depth, requests in service.</summary>
    public QosQueue Qos => _queue;

    public long Id => _backing.Id;

    public string Name => _backing.Name;

    public long CapacityBytes => _backing.CapacityBytes;

    public bool SupportsUnmap => _backing.SupportsUnmap;

    public event Action<IVDisk>? CapacityChanged;

    /// <summary>What this vDisk has served since the appliance started.</summary>
    public VDiskStats Stats => _counters.Snapshot(Id, Name, _queue);

    public ValueTask<IoStatus> ReadAsync(long offset, Memory<byte> destination, IoContext context) =>
        Submit(IoKind.Read, offset, destination, IoFlags.None, destination.Length, context);

    public ValueTask<IoStatus> WriteAsync(long offset, ReadOnlyMemory<byte> source, IoFlags flags, IoContext context) =>
        Submit(IoKind.Write, offset, MemoryMarshal.AsMemory(source), flags, source.Length, context);

    public ValueTask<IoStatus> UnmapAsync(long offset, long length, IoContext context) =>
        Submit(IoKind.Unmap, offset, default, IoFlags.None, length, context);

    public ValueTask<IoStatus> FlushAsync(IoContext context) =>
        Submit(IoKind.Flush, 0, default, IoFlags.None, 0, context);

    /// <summary>A copy by reference moves no data: it passes straight through to the controller behind both handles.</summary>
    public ValueTask<long> CopyByReferenceAsync(IVDisk source, long sourceOffset, long offset, long length, IoContext context) =>
        _backing.CopyByReferenceAsync(source is DirectedVDisk d ? d.Backing : source, sourceOffset, offset, length, context);

    public ValueTask<long> WriteSameByReferenceAsync(long offset, long length, ReadOnlyMemory<byte> pattern, IoContext context) =>
        _backing.WriteSameByReferenceAsync(offset, length, pattern, context);

    /// <summary>An allocation query is metadata, not I/O: it passes straight through, uncounted.</summary>
    public ValueTask<AllocationRun> GetAllocationAsync(long offset, long maxLength, IoContext context) =>
        _backing.GetAllocationAsync(offset, maxLength, context);

    private ValueTask<IoStatus> Submit(IoKind kind, long offset, Memory<byte> buffer, IoFlags flags, long length, IoContext context)
    {
        long arrival = _counters.Begin();
        // Unmap and flush move no data: they cost a request, not bandwidth.
        long bytes = kind is IoKind.Read or IoKind.Write ? length : 0;
        ValueTask<bool> admit = _scheduler.AdmitAsync(_queue, bytes, kind == IoKind.Write);
        if (admit.IsCompletedSuccessfully)
        {
            if (!admit.Result)
                return new ValueTask<IoStatus>(Fail(kind, arrival, context));
            return Complete(Issue(kind, offset, buffer, flags, length, context), kind, bytes, arrival, arrival, context);
        }
        return Queued(admit, kind, offset, buffer, flags, length, context, arrival);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<IoStatus> Queued(ValueTask<bool> admit, IoKind kind, long offset, Memory<byte> buffer, IoFlags flags, long length, IoContext context, long arrival)
    {
        if (!await admit.ConfigureAwait(false))
            return Fail(kind, arrival, context);
        long start = Stopwatch.GetTimestamp();
        long bytes = kind is IoKind.Read or IoKind.Write ? length : 0;
        return await Complete(Issue(kind, offset, buffer, flags, length, context), kind, bytes, arrival, start, context).ConfigureAwait(false);
    }

    private IoStatus Fail(IoKind kind, long arrival, IoContext context)
    {
        _counters.End(kind, 0, arrival, arrival, IoStatus.Aborted, _director.ClientCounters(context));
        return IoStatus.Aborted;
    }

    private ValueTask<IoStatus> Issue(IoKind kind, long offset, Memory<byte> buffer, IoFlags flags, long length, IoContext context)
    {
        try
        {
            return kind switch
            {
                IoKind.Read => _backing.ReadAsync(offset, buffer, context),
                IoKind.Write => _backing.WriteAsync(offset, buffer, flags, context),
                IoKind.Unmap => _backing.UnmapAsync(offset, length, context),
                _ => _backing.FlushAsync(context),
            };
        }
        catch
        {
            _scheduler.Release(_queue);
            throw;
        }
    }

    private ValueTask<IoStatus> Complete(ValueTask<IoStatus> pending, IoKind kind, long bytes, long arrival, long start, IoContext context)
    {
        if (pending.IsCompletedSuccessfully)
        {
            var status = pending.Result;
            _scheduler.Release(_queue);
            _counters.End(kind, bytes, arrival, start, status, _director.ClientCounters(context));
            return new ValueTask<IoStatus>(status);
        }
        return CompleteLater(pending, kind, bytes, arrival, start, context);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<IoStatus> CompleteLater(ValueTask<IoStatus> pending, IoKind kind, long bytes, long arrival, long start, IoContext context)
    {
        var status = IoStatus.Aborted;
        try
        {
            status = await pending.ConfigureAwait(false);
            return status;
        }
        finally
        {
            _scheduler.Release(_queue);
            _counters.End(kind, bytes, arrival, start, status, _director.ClientCounters(context));
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
    private readonly LatencyHistogram _queueTime = new();
    private readonly LatencyHistogram _serviceTime = new();

    public long Begin()
    {
        Interlocked.Increment(ref _inFlight);
        return Stopwatch.GetTimestamp();
    }

    /// <summary>A request arrived at <paramref name="arrival"/>, was admitted at <paramref name="start"/> and ends now.</summary>
    public void End(IoKind kind, long bytes, long arrival, long start, IoStatus status, ClientCounters client)
    {
        long now = Stopwatch.GetTimestamp();
        long queueMicros = ToMicros(start - arrival), serviceMicros = ToMicros(now - start);
        _queueTime.Record(queueMicros);
        _serviceTime.Record(serviceMicros);
        client.Record(status == IoStatus.Ok ? bytes : 0, queueMicros, serviceMicros, status != IoStatus.Ok);
        Interlocked.Add(ref _serviceTicks, now - start);
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

    internal static long ToMicros(long ticks) => ticks * 1_000_000 / Stopwatch.Frequency;

    public VDiskStats Snapshot(long id, string name, QosQueue queue) => new(
        id, name,
        Volatile.Read(ref _reads), Volatile.Read(ref _writes), Volatile.Read(ref _unmaps), Volatile.Read(ref _flushes),
        Volatile.Read(ref _bytesRead), Volatile.Read(ref _bytesWritten), Volatile.Read(ref _errors), Volatile.Read(ref _inFlight),
        TimeSpan.FromSeconds((double)Volatile.Read(ref _serviceTicks) / Stopwatch.Frequency))
    {
        Queued = queue.QueueDepth,
        InService = queue.InService,
        QueueTime = _queueTime.Summarize(),
        ServiceLatency = _serviceTime.Summarize(),
        Policy = queue.Policy,
    };
}

/// <summary>
/// A vDisk's counters at one moment: completed requests by kind, bytes, failures, requests in flight (waiting
/// or in service) and total service time; with the queue depth, latency percentiles of time waiting for
/// admission apart from time in service, and the QoS policy in force.
/// </summary>
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
    TimeSpan ServiceTime)
{
    public int Queued { get; init; }
    public int InService { get; init; }
    public LatencySummary QueueTime { get; init; } = new(0, 0, 0, 0, 0, 0);
    public LatencySummary ServiceLatency { get; init; } = new(0, 0, 0, 0, 0, 0);
    public QosPolicy Policy { get; init; } = QosPolicy.Default;
}

/// <summary>Counters of one initiator or NFS client across every vDisk it uses.</summary>
public sealed class ClientCounters
{
    private long _requests, _bytes, _errors;
    private readonly LatencyHistogram _queueTime = new();
    private readonly LatencyHistogram _serviceTime = new();

    internal void Record(long bytes, long queueMicros, long serviceMicros, bool failed)
    {
        Interlocked.Increment(ref _requests);
        Interlocked.Add(ref _bytes, bytes);
        if (failed)
            Interlocked.Increment(ref _errors);
        _queueTime.Record(queueMicros);
        _serviceTime.Record(serviceMicros);
    }

    public ClientStats Snapshot(IoProtocol protocol, string client) => new(protocol, client,
        Volatile.Read(ref _requests), Volatile.Read(ref _bytes), Volatile.Read(ref _errors), _queueTime.Summarize(), _serviceTime.Summarize());
}

/// <summary>What one initiator or NFS client has been served: requests, bytes, failures and latencies.</summary>
public sealed record ClientStats(IoProtocol Protocol, string Client, long Requests, long Bytes, long Errors, LatencySummary QueueTime, LatencySummary ServiceLatency);
