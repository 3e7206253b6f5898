using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StorageAppliance.Director;
using StorageAppliance.Management.Config;
using StorageAppliance.Protocols.Iscsi;
using StorageAppliance.Protocols.Iscsi.Negotiation;
using StorageAppliance.Protocols.Iscsi.Security;
using StorageAppliance.Protocols.Scsi;
using StorageAppliance.VDisk;
using ChapCredentials = StorageAppliance.Protocols.Iscsi.Security.ChapCredentials;

namespace StorageAppliance.Host;

/// <summary>Registers the layers of the data path from the config (STYLE.md 11: one AddXxx per layer).</summary>
public static class ApplianceServices
{
    public static IServiceCollection AddAppliance(this IServiceCollection services, ApplianceConfig config)
    {
        // Order matters for shutdown: hosted services stop in reverse, so the front ends stop before storage.
        services.AddHostedService<RuntimeStatsService>();
        services.AddSingleton<IoDirector>();
        services.AddSingleton<StorageService>();
        services.AddHostedService(sp => sp.GetRequiredService<StorageService>());
        if (config.Iscsi.Enabled)
        {
            services.AddSingleton(sp => BuildIscsiServer(config, sp.GetRequiredService<ILoggerFactory>()));
            services.AddSingleton<IscsiTcpListener>();
            services.AddHostedService<IscsiFrontEnd>();
        }
        return services;
    }

    private static IscsiServer BuildIscsiServer(ApplianceConfig config, ILoggerFactory loggerFactory)
    {
        var c = config.Iscsi;
        static string Digest(DigestType d) => d == DigestType.Crc32C ? "CRC32C" : "None";
        var options = new IscsiServerOptions
        {
            Listen = c.Listen.Select(l => l.ToIPEndPoint()).ToList(),
            PortalGroupTag = (ushort)c.PortalGroupTag,
            QueueDepth = c.QueueDepth,
            NopInInterval = c.NopInInterval,
            NopInTimeout = c.NopInTimeout,
            LoginTimeout = c.LoginTimeout,
            DiscoveryChap = c.DiscoveryAuth is null ? null : new ChapCredentials(c.DiscoveryAuth.Chap.Username, c.DiscoveryAuth.Chap.Secret),
            DiscoveryMutualChap = c.DiscoveryAuth?.MutualChap is null ? null : new ChapCredentials(c.DiscoveryAuth.MutualChap.Username, c.DiscoveryAuth.MutualChap.Secret),
            Limits = new TargetLimits
            {
                MaxRecvDataSegmentLength = c.MaxRecvDataSegmentLength,
                MaxBurstLength = c.MaxBurstLength,
                FirstBurstLength = c.FirstBurstLength,
                MaxOutstandingR2T = c.MaxOutstandingR2T,
                ImmediateData = c.ImmediateData,
                InitialR2T = c.InitialR2T,
                HeaderDigests = c.HeaderDigest.Select(Digest).ToList(),
                DataDigests = c.DataDigest.Select(Digest).ToList(),
                DefaultTime2Wait = c.DefaultTime2Wait,
                DefaultTime2Retain = c.DefaultTime2Retain,
                MaxConnections = c.MaxConnections,
            },
        };
        return new IscsiServer(options, loggerFactory);
    }
}

/// <summary>
/// Opens every vDisk of the config and makes it reachable through the Director; closes them (flushing)
/// when the appliance stops, after the front ends.
/// </summary>
public sealed class StorageService : IHostedService
{
    private readonly ApplianceConfig _config;
    private readonly IoDirector _director;
    private readonly ILoggerFactory _loggerFactory;
    private readonly List<FileVDisk> _open = new();
    private readonly Dictionary<string, LogicalUnit> _units = new(StringComparer.Ordinal);

    public StorageService(ApplianceConfig config, IoDirector director, ILoggerFactory loggerFactory)
    {
        _config = config;
        _director = director;
        _loggerFactory = loggerFactory;
    }

    public VDiskCatalog? Catalog { get; private set; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        string dataDir = _config.Appliance.DataDir;
        Catalog = VDiskCatalog.Open(dataDir);
        var log = _loggerFactory.CreateLogger("StorageAppliance.VDisk");
        foreach (var v in _config.VDisks)
        {
            long id = Catalog.GetOrCreateId(v.Name);
            string path = Path.Combine(dataDir, "containers", v.Container, v.Name + ".vdisk");
            var vdisk = FileVDisk.Open(id, v.Name, path, v.SizeBytes, log);
            _open.Add(vdisk);
            _director.Register(vdisk);
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// The one logical unit of a vDisk, shared by every target that exports it, so unit attentions and
    /// (later) reservations stay coherent across paths.
    /// </summary>
    public LogicalUnit GetLogicalUnit(string vdiskName)
    {
        lock (_units)
        {
            if (_units.TryGetValue(vdiskName, out var lu))
                return lu;
            var v = _config.FindVDisk(vdiskName) ?? throw new InvalidOperationException($"no vDisk {vdiskName}");
            var vdisk = _director.Resolve(vdiskName) ?? throw new InvalidOperationException($"vDisk {vdiskName} is not open");
            var options = new LogicalUnitOptions
            {
                LogicalBlockSize = v.BlockSize,
                SerialNumber = vdisk.Id.ToString("x16"),
                NaaDesignator = Catalog!.NaaDesignator(vdisk.Id),
                WriteCacheEnabled = v.WriteCache,
                ReadOnly = v.ReadOnly,
                ThinProvisioned = v.Thin,
            };
            lu = new LogicalUnit(vdisk, options, _loggerFactory.CreateLogger("StorageAppliance.Scsi"));
            _units[vdiskName] = lu;
            return lu;
        }
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var v in _open)
            v.Dispose();
        _open.Clear();
        return Task.CompletedTask;
    }
}

/// <summary>Builds the iSCSI targets from the config and runs the portal listener.</summary>
public sealed class IscsiFrontEnd : IHostedService
{
    private readonly ApplianceConfig _config;
    private readonly IscsiServer _server;
    private readonly IscsiTcpListener _listener;
    private readonly StorageService _storage;
    private readonly ILoggerFactory _loggerFactory;

    public IscsiFrontEnd(ApplianceConfig config, IscsiServer server, IscsiTcpListener listener, StorageService storage, ILoggerFactory loggerFactory)
    {
        _config = config;
        _server = server;
        _listener = listener;
        _storage = storage;
        _loggerFactory = loggerFactory;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var t in _config.Targets)
        {
            var scsi = new ScsiTarget(t.Name, _loggerFactory.CreateLogger("StorageAppliance.Scsi"));
            foreach (var lun in t.Luns)
                scsi.AddLogicalUnit((ulong)lun.Lun, _storage.GetLogicalUnit(lun.VDisk));
            var chap = t.Auth is null ? null : new ChapCredentials(t.Auth.Chap.Username, t.Auth.Chap.Secret);
            var mutual = t.Auth?.MutualChap is null ? null : new ChapCredentials(t.Auth.MutualChap.Username, t.Auth.MutualChap.Secret);
            _server.AddTarget(new IscsiTargetNode(t.Name, t.Alias, scsi, chap, mutual, t.AllowedInitiators));
        }
        await _listener.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task StopAsync(CancellationToken cancellationToken) => _listener.StopAsync(cancellationToken);
}
