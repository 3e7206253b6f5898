using System.Net;
using Microsoft.Extensions.Logging;
using StorageAppliance.Protocols.Nfs.Tests.Support;
using StorageAppliance.Protocols.OncRpc.Portmapper;

namespace StorageAppliance.Protocols.Nfs.Tests.Integration;

/// <summary>
/// The NFS service on loopback in this process, over sparse-file vDisks and a SQLite namespace in a
/// temporary directory; restartable on the same ports with the same data.
/// </summary>
public sealed class InProcessNfsServer : IAsyncDisposable
{
    private readonly ILoggerFactory _loggers;
    private readonly PortmapperMode _portmapper;
    private FileVDiskProvisioner? _provisioner;

    public InProcessNfsServer(PortmapperMode portmapper = PortmapperMode.Off)
    {
        _portmapper = portmapper;
        Dir = Path.Combine(Path.GetTempPath(), "nfs-it-" + Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(Dir);
        _loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
    }

    public string Dir { get; }

    public NfsService Service { get; private set; } = null!;

    public int NfsPort { get; private set; }

    public int MountPort { get; private set; }

    public static IReadOnlyList<ExportOptions> Exports { get; } =
    [
        new ExportOptions { Path = "/export", Container = "nfs", RootSquash = false },
        new ExportOptions { Path = "/ro", Container = "nfs", ReadOnly = true },
        new ExportOptions { Path = "/private", Container = "nfs", Clients = ["10.1.2.0/24"] },
    ];

    public async Task StartAsync()
    {
        _provisioner = new FileVDiskProvisioner(Path.Combine(Dir, "vdisks"));
        var options = new NfsServerOptions
        {
            Listen = new IPEndPoint(IPAddress.Loopback, NfsPort),
            MountPort = MountPort,
            Portmapper = _portmapper,
            DataDir = Dir,
            Exports = Exports,
        };
        Service = new NfsService(options, _provisioner, _loggers);
        await Service.StartAsync(CancellationToken.None);
        NfsPort = Service.NfsEndPoint!.Port;
        MountPort = Service.MountEndPoint!.Port;
    }

    public async Task StopAsync()
    {
        await Service.StopAsync(CancellationToken.None);
        await Service.DisposeAsync();
        _provisioner?.Dispose();
    }

    public async Task RestartAsync()
    {
        await StopAsync();
        await StartAsync();
    }

    /// <summary>A libnfs URL with explicit ports (no portmapper needed).</summary>
    public string Url(string pathAndFile) => $"nfs://127.0.0.1{pathAndFile}?nfsport={NfsPort}&mountport={MountPort}";

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _loggers.Dispose();
        try
        {
            Directory.Delete(Dir, true);
        }
        catch (IOException)
        {
        }
    }
}
