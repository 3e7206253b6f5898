using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StorageAppliance.Director;
using StorageAppliance.VDisk;

namespace StorageAppliance.Protocols.Nfs.Tests.Support;

/// <summary>
/// A test <see cref="IVDiskProvisioner"/>: each vDisk a sparse file (the appliance's <see cref="FileVDisk"/>)
/// in a directory, found again after a restart by its name. Counts calls so tests can assert on them.
/// </summary>
public sealed class FileVDiskProvisioner : IVDiskProvisioner, IDisposable
{
    /// <summary>ext4 refuses a file of exactly 16 TiB; stay just below.</summary>
    public const long MaxBackingSize = (16L << 40) - (1L << 20);

    private readonly string _dir;
    private readonly ILogger _log;
    private readonly Dictionary<string, FileVDisk> _open = new(StringComparer.Ordinal);
    private long _nextId = 1;

    public FileVDiskProvisioner(string dir, ILogger? log = null)
    {
        _dir = dir;
        _log = log ?? NullLogger.Instance;
        Directory.CreateDirectory(dir);
    }

    public int Created { get; private set; }

    public int Deleted { get; private set; }

    public List<(string Name, long Offset, long Length)> Unmaps { get; } = new();

    private string PathOf(string name) => Path.Combine(_dir, name + ".vdisk");

    public IVDisk Create(string container, string name, long capacityBytes, int logicalBlockSize = 512, bool thin = true)
    {
        lock (_open)
        {
            if (_open.ContainsKey(name) || File.Exists(PathOf(name)))
                throw new ProvisioningException(ProvisioningError.AlreadyExists, $"vDisk {name} exists");
            var v = FileVDisk.Open(_nextId++, name, PathOf(name), Math.Min(capacityBytes, MaxBackingSize), _log);
            _open[name] = v;
            Created++;
            return new Recording(v, this);
        }
    }

    public IVDisk? Open(string name)
    {
        lock (_open)
        {
            if (_open.TryGetValue(name, out var v))
                return new Recording(v, this);
            if (!File.Exists(PathOf(name)))
                return null;
            long length = new FileInfo(PathOf(name)).Length;
            v = FileVDisk.Open(_nextId++, name, PathOf(name), length, _log);
            _open[name] = v;
            return new Recording(v, this);
        }
    }

    public void Resize(string name, long capacityBytes) => throw new NotSupportedException();

    public void Delete(string name)
    {
        lock (_open)
        {
            if (_open.Remove(name, out var v))
                v.Dispose();
            if (!File.Exists(PathOf(name)))
                throw new ProvisioningException(ProvisioningError.NotFound, $"no vDisk {name}");
            File.Delete(PathOf(name));
            Deleted++;
        }
    }

    public IReadOnlyList<VDiskDescription> List()
    {
        var list = new List<VDiskDescription>();
        foreach (var f in Directory.GetFiles(_dir, "*.vdisk"))
            list.Add(new VDiskDescription(0, Path.GetFileNameWithoutExtension(f), "test", new FileInfo(f).Length, 0, 0, 512, true));
        return list;
    }

    public bool Exists(string name) => File.Exists(PathOf(name));

    public void Dispose()
    {
        lock (_open)
        {
            foreach (var v in _open.Values)
                v.Dispose();
            _open.Clear();
        }
    }

    /// <summary>Passes everything through, recording unmaps.</summary>
    private sealed class Recording(FileVDisk inner, FileVDiskProvisioner owner) : IVDisk
    {
        public long Id => inner.Id;

        public string Name => inner.Name;

        public long CapacityBytes => inner.CapacityBytes;

        public bool SupportsUnmap => true;

        public event Action<IVDisk>? CapacityChanged
        {
            add { }
            remove { }
        }

        public ValueTask<IoStatus> ReadAsync(long offset, Memory<byte> destination, IoContext context) => inner.ReadAsync(offset, destination, context);

        public ValueTask<IoStatus> WriteAsync(long offset, ReadOnlyMemory<byte> source, IoFlags flags, IoContext context) => inner.WriteAsync(offset, source, flags, context);

        public ValueTask<IoStatus> UnmapAsync(long offset, long length, IoContext context)
        {
            lock (owner.Unmaps)
                owner.Unmaps.Add((inner.Name, offset, length));
            return inner.UnmapAsync(offset, length, context);
        }

        public ValueTask<IoStatus> FlushAsync(IoContext context) => inner.FlushAsync(context);

        public ValueTask<AllocationRun> GetAllocationAsync(long offset, long maxLength, IoContext context) => inner.GetAllocationAsync(offset, maxLength, context);
    }
}
