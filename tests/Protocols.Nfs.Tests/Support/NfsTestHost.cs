using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using StorageAppliance.Protocols.Nfs.Mount;
using StorageAppliance.Protocols.Nfs.Namespace;
using StorageAppliance.Protocols.Nfs.Nfs3;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Tests.Support;

namespace StorageAppliance.Protocols.Nfs.Tests.Support;

/// <summary>
/// The NFS programs over a namespace store and a sparse-file provisioner, served by an RpcServer that
/// tests reach over in-memory pipes. Exports: /data (rw, no_root_squash), /ro (read-only),
/// /squash (root squashed), /private (only 10.9.0.0/16).
/// </summary>
public sealed class NfsTestHost : IAsyncDisposable
{
    public NfsTestHost(INamespaceStore? store = null, string? dir = null, IReadOnlyList<ExportOptions>? exports = null)
    {
        Dir = dir ?? Path.Combine(Path.GetTempPath(), "nfs-test-" + Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(Dir);
        Provisioner = new FileVDiskProvisioner(Path.Combine(Dir, "vdisks"));
        Options = new NfsServerOptions
        {
            Exports = exports ?? DefaultExports,
            InMemoryNamespace = store is null,
            DataDir = Dir,
        };
        FileSystem = new NfsFileSystem(Options, store ?? new InMemoryNamespaceStore(), Provisioner, NullLogger.Instance);
        Verifier = (ulong)Random.Shared.NextInt64();
        Nfs = new Nfs3Program(FileSystem, Verifier, NullLogger.Instance);
        Mount = new MountProgram(FileSystem, NullLogger.Instance);
        Server = PipeRpcClient.NewServer(Nfs, Mount);
    }

    public static IReadOnlyList<ExportOptions> DefaultExports { get; } =
    [
        new ExportOptions { Path = "/data", Container = "c1", RootSquash = false },
        new ExportOptions { Path = "/ro", Container = "c1", ReadOnly = true, RootSquash = false },
        new ExportOptions { Path = "/squash", Container = "c1", RootSquash = true, AnonUid = 65534, AnonGid = 65533 },
        new ExportOptions { Path = "/private", Container = "c1", Clients = ["10.9.0.0/16", "192.0.2.7"] },
    ];

    public string Dir { get; }

    public FileVDiskProvisioner Provisioner { get; }

    public NfsServerOptions Options { get; }

    public NfsFileSystem FileSystem { get; }

    public ulong Verifier { get; }

    public Nfs3Program Nfs { get; }

    public MountProgram Mount { get; }

    public RpcServer Server { get; }

    public Nfs3Client Connect(uint uid = 0, uint gid = 0, string? from = null) =>
        new(new PipeRpcClient(Server, from is null ? new IPEndPoint(IPAddress.Loopback, 999) : new IPEndPoint(IPAddress.Parse(from), 999)) { Uid = uid, Gid = gid });

    public ValueTask DisposeAsync()
    {
        FileSystem.Dispose();
        Provisioner.Dispose();
        return ValueTask.CompletedTask;
    }

    public void DeleteFiles()
    {
        try
        {
            Directory.Delete(Dir, true);
        }
        catch (IOException)
        {
        }
    }
}
