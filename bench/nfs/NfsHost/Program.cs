using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StorageAppliance.Director;
using StorageAppliance.Protocols.Nfs;
using StorageAppliance.Protocols.Nfs.Tests.Support;
using StorageAppliance.Protocols.OncRpc.Portmapper;

// nfs-host --data DIR [--listen 127.0.0.1:2049] [--mount-port 20048] [--portmapper auto|embedded|system|off]
//          [--export /path[,ro][,squash][,clients=CIDR;CIDR]]...
// Serves the NFS front end over sparse-file vDisks (the appliance's FileVDisk) in DIR/vdisks, with the
// namespace in DIR/nfs-namespace.db. Prints "READY nfs=PORT mount=PORT" when serving.
string dataDir = "nfs-data";
var listen = new IPEndPoint(IPAddress.Loopback, 2049);
int? mountPort = 20048;
var portmapper = PortmapperMode.Off;
var exports = new List<ExportOptions>();
bool verbose = false;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--data": dataDir = args[++i]; break;
        case "--listen": listen = IPEndPoint.Parse(args[++i]); break;
        case "--mount-port": mountPort = int.Parse(args[++i]); break;
        case "--portmapper": portmapper = Enum.Parse<PortmapperMode>(args[++i], ignoreCase: true); break;
        case "--verbose": verbose = true; break;
        case "--export":
            {
                var parts = args[++i].Split(',');
                var clients = new List<string>();
                bool ro = false, squash = false;
                foreach (var p in parts.Skip(1))
                {
                    if (p == "ro") ro = true;
                    else if (p == "squash") squash = true;
                    else if (p.StartsWith("clients=", StringComparison.Ordinal)) clients.AddRange(p["clients=".Length..].Split(';'));
                }
                exports.Add(new ExportOptions { Path = parts[0], Container = "nfs", ReadOnly = ro, RootSquash = squash, Clients = clients });
                break;
            }
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}");
            return 2;
    }
}
if (exports.Count == 0)
    exports.Add(new ExportOptions { Path = "/export", Container = "nfs", RootSquash = false });

var builder = Host.CreateApplicationBuilder();
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
builder.Logging.SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Information);
builder.Services.AddSingleton<IVDiskProvisioner>(_ => new FileVDiskProvisioner(Path.Combine(dataDir, "vdisks")));
builder.Services.AddNfs(new NfsServerOptions
{
    Listen = listen,
    MountPort = mountPort,
    Portmapper = portmapper,
    DataDir = dataDir,
    Exports = exports,
});
using var host = builder.Build();
await host.StartAsync();
var nfs = host.Services.GetRequiredService<NfsService>();
Console.WriteLine($"READY nfs={nfs.NfsEndPoint!.Port} mount={nfs.MountEndPoint!.Port}");
await host.WaitForShutdownAsync();
return 0;
