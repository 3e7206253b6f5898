using System.Net;
using StorageAppliance.Director;
using StorageAppliance.Protocols.Nfs;
using StorageAppliance.Protocols.Nfs.Mount;
using StorageAppliance.Protocols.Nfs.Namespace;
using StorageAppliance.Protocols.Nfs.Nfs3;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.VDisk;

namespace StorageAppliance.Fuzz.Support;

/// <summary>
/// The NFS and MOUNT programs on an <see cref="RpcServer"/>, over an in-memory namespace whose files are
/// null vDisks, made anew for each input so an outcome depends on the input alone. Exports: /data
/// (read-write, no root squash) holding a file "f", a directory "d" and a symlink "l"; /ro (read-only);
/// /squash (root squashed). <see cref="Handles"/> are their file handles, in that order after the
/// /data root, for the targets to put where the input asks for one.
/// </summary>
public sealed class NfsHost : IDisposable
{
    private static readonly string DataDir = Path.Combine(Path.GetTempPath(), "storage-appliance-fuzz-nfs");

    public NfsHost()
    {
        Log = new FaultLoggerFactory(_ => false);
        var options = new NfsServerOptions
        {
            InMemoryNamespace = true,
            DataDir = DataDir,
            Exports =
            [
                new ExportOptions { Path = "/data", Container = "c1", RootSquash = false },
                new ExportOptions { Path = "/ro", Container = "c1", ReadOnly = true, RootSquash = false },
                new ExportOptions { Path = "/squash", Container = "c1", RootSquash = true },
            ],
            MaxTransferSize = 64 << 10,
        };
        FileSystem = new NfsFileSystem(options, new InMemoryNamespaceStore(), new NullProvisioner(), Log.CreateLogger("nfs"));
        Server = new RpcServer(new RpcServerOptions { MaxRecordSize = 256 << 10 }, Log);
        Server.Register(new Nfs3Program(FileSystem, 0x0102030405060708UL, Log.CreateLogger("nfs")));
        Server.Register(new MountProgram(FileSystem, Log.CreateLogger("mount")));

        var data = FileSystem.FindExport("/data")!;
        var root = FileSystem.GetNode(data.RootId)!;
        var caller = new Caller(0, 0, null);
        var handles = new List<byte[]> { FileSystem.HandleOf(root).ToArray() };
        foreach (var (name, type, link) in new[] { ("f", Ftype3.Reg, (string?)null), ("d", Ftype3.Dir, null), ("l", Ftype3.Lnk, "f") })
        {
            var status = FileSystem.Create(data, root, System.Text.Encoding.ASCII.GetBytes(name), caller, type, new SetAttributes { Mode = 0644 },
                CreateMode.Unchecked, 0, link, 0, 0, out var node, out _);
            if (status != Nfsstat3.Ok || node is null)
                throw new InvalidOperationException($"fuzz host: creating {name} failed with {status}");
            handles.Add(FileSystem.HandleOf(node).ToArray());
        }
        foreach (var path in new[] { "/ro", "/squash" })
        {
            var export = FileSystem.FindExport(path)!;
            handles.Add(FileSystem.HandleOf(FileSystem.GetNode(export.RootId)!).ToArray());
        }
        Handles = handles;
    }

    /// <summary>Generous for in-memory work on a loaded machine, well under the server's 5 s close grace.</summary>
    public static readonly TimeSpan StallLimit = TimeSpan.FromSeconds(3);

    public FaultLoggerFactory Log { get; }

    public NfsFileSystem FileSystem { get; }

    public RpcServer Server { get; }

    public IReadOnlyList<byte[]> Handles { get; }

    /// <summary>Runs one connection that sends <paramref name="stream"/> and then closes; throws on a defect. Returns the start of what the server sent.</summary>
    public byte[] RunConnection(ReadOnlySpan<byte> stream)
    {
        var pipe = new PipePair(stream);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        FuzzInput.Wait(Server.RunConnectionAsync(pipe, new IPEndPoint(IPAddress.Loopback, 2049), new IPEndPoint(IPAddress.Loopback, 700)), "the RPC connection");
        pipe.Finish();
        // Everything here is in memory (null vDisks, no network): a connection that has read its whole input
        // and still takes seconds to close is waiting for a call that will never finish (a leaked call count).
        if (clock.Elapsed > StallLimit)
            throw new FuzzDefectException($"the RPC connection took {clock.Elapsed.TotalSeconds:0.0} s to close after its input ended (a call was never answered or released)");
        Log.ThrowIfFaulted("the RPC connection");
        if (Server.ConnectionCount != 0)
            throw new FuzzDefectException($"{Server.ConnectionCount} RPC connection(s) still registered after the connection ended");
        return pipe.Received;
    }

    public void Dispose() => FileSystem.Dispose();

    /// <summary>Every NFS file's data is a null vDisk: reads are zeros, writes vanish.</summary>
    private sealed class NullProvisioner : IVDiskProvisioner
    {
        private readonly Dictionary<string, IVDisk> _disks = new(StringComparer.Ordinal);
        private long _nextId = 1;

        public IVDisk Create(string container, string name, long capacityBytes, int logicalBlockSize = 512, bool thin = true)
        {
            if (_disks.ContainsKey(name))
                throw new ProvisioningException(ProvisioningError.AlreadyExists, $"vDisk {name} exists");
            var disk = new NullVDisk(_nextId++, name, capacityBytes);
            _disks[name] = disk;
            return disk;
        }

        public IVDisk? Open(string name) => _disks.TryGetValue(name, out var d) ? d : null;

        public void Resize(string name, long capacityBytes)
        {
            if (!_disks.TryGetValue(name, out var d))
                throw new ProvisioningException(ProvisioningError.NotFound, $"no vDisk {name}");
            _disks[name] = new NullVDisk(d.Id, name, capacityBytes);
        }

        public void Delete(string name)
        {
            if (!_disks.Remove(name))
                throw new ProvisioningException(ProvisioningError.NotFound, $"no vDisk {name}");
        }

        public IReadOnlyList<VDiskDescription> List() => [];
    }
}
