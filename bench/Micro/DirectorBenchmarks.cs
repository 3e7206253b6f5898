using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using StorageAppliance.Director;

namespace StorageAppliance.Micro;

/// <summary>
/// A 4 KiB write and read through the I/O Director to a vDisk that completes at once: the Director's own
/// cost per request (admission, counters), which must allocate nothing.
/// </summary>
[MemoryDiagnoser]
public class DirectorBenchmarks
{
    private sealed class InstantDisk : IVDisk
    {
        public long Id => 1;
        public string Name => "instant";
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
    private readonly byte[] _buffer = new byte[4096];
    private readonly IoContext _context = new(IoProtocol.Iscsi, "iqn.2026-11.io.bench:initiator");
    private long _offset;

    [GlobalSetup]
    public void Setup()
    {
        var director = new IoDirector(NullLogger<IoDirector>.Instance);
        _handle = director.Register(new InstantDisk());
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
