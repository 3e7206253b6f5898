using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using StorageAppliance.Director;

namespace StorageAppliance.Micro;

/// <summary>
/// A 4 KiB write and read through the I/O Director to a vDisk that completes at once: the Director's own
/// cost per request (admission, counters, latency histograms), which must allocate nothing; and the same
/// through a vDisk with a QoS policy whose limits are never reached (token buckets and bounds checked
/// on every request, admitted at once).
/// </summary>
[MemoryDiagnoser]
public class DirectorBenchmarks
{
    private sealed class InstantDisk(string name = "instant") : IVDisk
    {
        public long Id => name.Length;
        public string Name => name;
        public long CapacityBytes => 1L << 40;
        public bool SupportsUnmap => true;
        public event Action<IVDisk>? CapacityChanged { add { } remove { } }
        public ValueTask<IoStatus> ReadAsync(long offset, Memory<byte> destination, IoContext context) => new(IoStatus.Ok);
        public ValueTask<IoStatus> WriteAsync(long offset, ReadOnlyMemory<byte> source, IoFlags flags, IoContext context) => new(IoStatus.Ok);
        public ValueTask<IoStatus> UnmapAsync(long offset, long length, IoContext context) => new(IoStatus.Ok);
        public ValueTask<IoStatus> FlushAsync(IoContext context) => new(IoStatus.Ok);
        public ValueTask<AllocationRun> GetAllocationAsync(long offset, long maxLength, IoContext context) => new(new AllocationRun(IoStatus.Ok, maxLength, true));
    }

    private IVDisk _handle = null!;
    private IVDisk _limited = null!;
    private readonly IVDisk[] _competing = new IVDisk[8];
    private int _next;
    private readonly byte[] _buffer = new byte[4096];
    private readonly IoContext _context = new(IoProtocol.Iscsi, "iqn.2026-11.io.bench:initiator");
    private long _offset;

    [GlobalSetup]
    public void Setup()
    {
        var director = new IoDirector(NullLogger<IoDirector>.Instance);
        _handle = director.Register(new InstantDisk());
        director.SetPolicy("limited", new StorageAppliance.Director.Qos.QosPolicy(IoPriority.Low, Weight: 3, IopsLimit: 1_000_000_000, BandwidthLimit: 1L << 50, MaxOutstanding: 16));
        _limited = director.Register(new InstantDisk("limited"));
        // Eight vDisks of one class, written in turn: the share clocks are kept and checked against every
        // other vDisk on each request (the scheduler is contended until a CPU monitor says otherwise). Equal
        // weights, because requests issued in turn with unequal weights would be held, and a synchronous
        // benchmark cannot wait for them.
        var shared = new IoDirector(NullLogger<IoDirector>.Instance);
        for (int i = 0; i < _competing.Length; i++)
        {
            _competing[i] = shared.Register(new InstantDisk($"vm{i}"));
        }
    }

    [Benchmark(Description = "Director: 4 KiB write, 8 vDisks sharing")]
    public IoStatus WriteCompeting()
    {
        _offset = (_offset + 4096) & ((1L << 30) - 1);
        _next = (_next + 1) & 7;
        return _competing[_next].WriteAsync(_offset, _buffer, IoFlags.None, _context).Result;
    }

    [Benchmark(Description = "Director: 4 KiB write, vDisk with limits")]
    public IoStatus WriteLimited()
    {
        _offset = (_offset + 4096) & ((1L << 30) - 1);
        return _limited.WriteAsync(_offset, _buffer, IoFlags.None, _context).Result;
    }

    [Benchmark(Description = "Director: 4 KiB write")]
    public IoStatus Write()
    {
        _offset = (_offset + 4096) & ((1L << 30) - 1);
        return _handle.WriteAsync(_offset, _buffer, IoFlags.None, _context).Result;
    }

    [Benchmark(Description = "Director: 4 KiB read")]
    public IoStatus Read() => _handle.ReadAsync(_offset, _buffer, _context).Result;
}
