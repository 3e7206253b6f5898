using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StorageAppliance.Common.Devices;
using StorageAppliance.Director;
using StorageAppliance.Director.Qos;
using StorageAppliance.Management.Admin;
using StorageAppliance.Management.Config;
using StorageAppliance.Protocols.Iscsi;
using StorageAppliance.Protocols.Iscsi.Negotiation;
using StorageAppliance.Protocols.Iscsi.Security;
using StorageAppliance.Protocols.Nfs;
using StorageAppliance.Protocols.Scsi;
using StorageAppliance.Metadata;
using StorageAppliance.VDisk;
using Metadata_ = StorageAppliance.Metadata;
using ChapCredentials = StorageAppliance.Protocols.Iscsi.Security.ChapCredentials;

namespace StorageAppliance.Host;

/// <summary>Registers the layers of the data path from the config (STYLE.md 11: one AddXxx per layer).</summary>
public static class ApplianceServices
{
    public static IServiceCollection AddAppliance(this IServiceCollection services, ApplianceConfig config)
    {
        // Order matters for shutdown: hosted services stop in reverse, so the front ends stop before storage.
        services.AddHostedService<RuntimeStatsService>();
        services.AddSingleton(sp =>
        {
            var d = sp.GetRequiredService<ApplianceConfig>().Director;
            var options = new DirectorOptions
            {
                MaxOutstanding = d.MaxOutstanding,
                LowMinShare = d.LowMinShare,
                LowMaxOutstandingWhenContended = d.LowMaxOutstanding,
                CpuBusyThreshold = d.CpuBusyThreshold,
            };
            var director = new IoDirector(sp.GetRequiredService<ILogger<IoDirector>>(), options, TimeProvider.System);
            director.MonitorCpu(TimeProvider.System);
            return director;
        });
        services.AddSingleton<StorageService>();
        services.AddHostedService(sp => sp.GetRequiredService<StorageService>());
        // Front ends provision through the Director, so the vDisks they get are Director handles.
        services.AddSingleton<IVDiskProvisioner>(sp => sp.GetRequiredService<IoDirector>());
        if (config.Iscsi.Enabled)
        {
            services.AddSingleton(sp => BuildIscsiServer(config, sp.GetRequiredService<ILoggerFactory>()));
            services.AddSingleton<IscsiTcpListener>();
            services.AddHostedService<IscsiFrontEnd>();
        }
        // NFS files are vDisks of the storage engine (the IVDiskProvisioner above): registered after
        // storage, so it starts once the engine is open and stops before the engine drains and closes.
        if (config.Nfs.Enabled)
            services.AddNfs(BuildNfsOptions(config));
        services.AddSingleton<IApplianceAdmin, ApplianceAdmin>();
        services.AddAdminApi(Path.Combine(config.Appliance.DataDir, "admin.sock"));
        return services;
    }

    /// <summary>The NFS front end's options from the config's nfs: and exports: sections.</summary>
    public static NfsServerOptions BuildNfsOptions(ApplianceConfig config)
    {
        var c = config.Nfs;
        var listen = c.Listen.Select(l => l.ToIPEndPoint()).ToList();
        return new NfsServerOptions
        {
            Listen = listen[0],
            AdditionalListen = listen.Skip(1).ToList(),
            MountPort = c.MountPort,
            Transport = new Protocols.OncRpc.RpcServerOptions
            {
                MaxConnections = c.ConnectionLimit,
                MaxConnectionsPerClient = c.ConnectionLimitPerClient,
                IdleTimeout = c.IdleTimeout,
                RecordTimeout = c.RecordTimeout,
            },
            Portmapper = c.Portmapper switch
            {
                Management.Config.PortmapperMode.Embedded => Protocols.OncRpc.Portmapper.PortmapperMode.Embedded,
                Management.Config.PortmapperMode.System => Protocols.OncRpc.Portmapper.PortmapperMode.System,
                Management.Config.PortmapperMode.Off => Protocols.OncRpc.Portmapper.PortmapperMode.Off,
                _ => Protocols.OncRpc.Portmapper.PortmapperMode.Auto,
            },
            // The namespace database (nfs-namespace.db) lives beside the engine's metadata.
            DataDir = config.Appliance.DataDir,
            Exports = config.Exports.Select(e => new ExportOptions
            {
                Path = e.Path,
                Container = e.Container,
                ReadOnly = e.ReadOnly,
                // An IPNetwork prints as "10.0.0.0/8" or "192.0.2.7/32", which the export's matcher reads back.
                Clients = e.Clients.Select(n => n.ToString()).ToList(),
                // Copied explicitly: ExportOptions defaults to root_squash, the config (for ESXi) to no_root_squash.
                RootSquash = e.RootSquash,
                AnonUid = e.AnonUid,
                AnonGid = e.AnonGid,
            }).ToList(),
        };
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
            ConnectionLimit = c.ConnectionLimit,
            ConnectionLimitPerClient = c.ConnectionLimitPerClient,
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
/// The storage layers: the metadata store (SQLite in data_dir), the storage engine on the configured pools
/// (journal, extent store, drainer) and the vDisks it serves through the Director. Stopped after the
/// front ends, draining the journal on the way out.
/// </summary>
public sealed class StorageService : IHostedService
{
    private readonly ApplianceConfig _config;
    private readonly IoDirector _director;
    private readonly ILoggerFactory _loggerFactory;
    private readonly Dictionary<long, LogicalUnit> _units = new();
    private MetadataReservationStore? _reservationStore;
    private SpaceReserveFile? _spaceReserve;

    public StorageService(ApplianceConfig config, IoDirector director, ILoggerFactory loggerFactory)
    {
        _config = config;
        _director = director;
        _loggerFactory = loggerFactory;
    }

    public StorageEngine Engine { get; private set; } = null!;

    /// <summary>Creates, opens, resizes and deletes vDisks through the Director (what front ends and the admin API use).</summary>
    public IVDiskProvisioner Provisioner => _director;

    public IMetadataStore Metadata { get; private set; } = null!;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        string dataDir = _config.Appliance.DataDir;
        var log = _loggerFactory.CreateLogger("StorageAppliance.Storage");
        // Before anything is created in it: data, journal and metadata files 0600 in 0700 folders.
        DataDirectoryModes.MakePrivate(dataDir, log);
        var engineOptions = new StorageEngineOptions { JournalDirectory = "", MetadataDirectory = dataDir };
        _spaceReserve = new SpaceReserveFile(dataDir, engineOptions.SpaceReserveBytes, log);
        _spaceReserve.Release();

        // A data folder from before the storage engine: keep its appliance and vDisk ids (the NAA ids
        // hypervisors know the disks by) and import the data of its file-backed vDisks once.
        var legacy = VDiskCatalog.TryOpenExisting(dataDir);
        try
        {
            Metadata = SqliteMetadataStore.Open(Path.Combine(dataDir, "metadata.db"), _loggerFactory.CreateLogger("StorageAppliance.Metadata"), legacy?.ApplianceId);
        }
        catch (MetadataException e)
        {
            throw new InvalidDataException(e.Message, e);
        }

        var pools = _config.Pools.Select(p => new PoolSpec(p.Name, p.Disks.Select(d => new DiskSpec(d.Path, d.Tier == Management.Config.StorageTier.Hdd ? Metadata_.StorageTier.Hdd : Metadata_.StorageTier.Ssd, d.CapacityBytes ?? 0)).ToList())).ToList();
        var containers = _config.Containers.Select(c => new ContainerSpec(c.Name, c.Pool, c.ReplicationFactor, c.MaxCapacityBytes, c.ReservedCapacityBytes, c.VDiskBlockSize, c.ExtentGroupSize,
            c.TierPreference.Select(t => t == Management.Config.StorageTier.Hdd ? Metadata_.StorageTier.Hdd : Metadata_.StorageTier.Ssd).ToList(),
            ReductionOf(c))).ToList();
        var vdisks = _config.VDisks.Where(v => v.Backing == VDiskBacking.Engine).Select(v => new VDiskSpec(v.Name, v.Container, v.SizeBytes, v.BlockSize, v.Thin, v.Dedup)).ToList();

        var journalDisk = _config.Pools.SelectMany(p => p.Disks).FirstOrDefault(d => d.Tier == Management.Config.StorageTier.Ssd && !File.Exists(d.Path))
            ?? _config.Pools.SelectMany(p => p.Disks).FirstOrDefault(d => !File.Exists(d.Path));
        string journalDir = journalDisk is not null ? Path.Combine(journalDisk.Path, "journal") : Path.Combine(dataDir, "journal");
        // Before the engine registers its vDisks, so they start under their policies.
        QosPolicies.Apply(_config, Metadata, _director);
        Engine = new StorageEngine(Metadata, PhysicalFileSystem.Instance, new StorageEngineOptions { JournalDirectory = journalDir, MetadataDirectory = dataDir, SpaceReserveBytes = engineOptions.SpaceReserveBytes }, _loggerFactory, _director);
        try
        {
            Engine.Open(pools, containers, vdisks, name => legacy is not null && legacy.VDiskIds.TryGetValue(name, out long id) ? id : null);
        }
        catch (Exception e) when (e is IOException or MetadataException or InvalidOperationException)
        {
            throw new InvalidDataException($"storage cannot start: {e.Message}", e);
        }
        _director.AttachProvisioner(Engine);
        QosPolicies.AssignContainers(_director);
        foreach (var v in _config.VDisks)
            if (v.Backing == VDiskBacking.Null)
                _director.Register(new NullVDisk(NullVDiskId(v.Name), v.Name, v.SizeBytes));
        if (legacy is not null)
            LegacyImport.Run(_config, _director, dataDir, log);
        if (Engine.IsFull)
            HostLog.StartedReadOnly(log, dataDir);
        _spaceReserve.Restore(TimeSpan.FromSeconds(10));
        return Task.CompletedTask;
    }

    /// <summary>A null vDisk's id: allocated once and kept in the metadata store, so its NAA id stays the same.</summary>
    private long NullVDiskId(string name)
    {
        string key = "null-vdisks/" + name;
        if (Metadata.GetValue(key) is { Length: 8 } raw)
            return BitConverter.ToInt64(raw);
        long id = Metadata.AllocateIds(1);
        Metadata.Commit(new MetadataBatch().Add(new MetadataOp.PutValue(key, BitConverter.GetBytes(id))));
        return id;
    }

    /// <summary>
    /// The one logical unit of a vDisk, shared by every target that exports it, so unit attentions and
    /// reservations stay coherent across paths.
    /// </summary>
    public LogicalUnit GetLogicalUnit(IVDisk vdisk)
    {
        lock (_units)
        {
            if (_units.TryGetValue(vdisk.Id, out var lu))
                return lu;
            var record = Metadata.VDisks().FirstOrDefault(r => r.Id == vdisk.Id);
            var v = _config.FindVDisk(vdisk.Name);
            var options = new LogicalUnitOptions
            {
                LogicalBlockSize = record?.LogicalBlockSize ?? v?.BlockSize ?? 512,
                SerialNumber = vdisk.Id.ToString("x16"),
                NaaDesignator = NaaIdentifier.For(Metadata.ApplianceId, vdisk.Id),
                WriteCacheEnabled = v?.WriteCache ?? true,
                ReadOnly = v?.ReadOnly ?? false,
                ThinProvisioned = record?.Thin ?? true,
                PhysicalBlockSize = v?.PhysicalBlockSize ?? 0,
                // APTPL=1 reservations survive a restart (SPC-4, persisting reservations): REPORT CAPABILITIES then says PTPL_C=1.
                ReservationStore = _reservationStore ??= new MetadataReservationStore(Metadata),
            };
            lu = new LogicalUnit(vdisk, options, _loggerFactory.CreateLogger("StorageAppliance.Scsi"));
            _units[vdisk.Id] = lu;
            return lu;
        }
    }

    public LogicalUnit GetLogicalUnit(string vdiskName) =>
        GetLogicalUnit(_director.Open(vdiskName) ?? throw new InvalidOperationException($"no vDisk {vdiskName}"));

    /// <summary>LUNs exported at run time (not in the config), kept in the metadata store: (lun, vDisk name).</summary>
    public IReadOnlyList<(int Lun, string VDisk)> RuntimeExports(string target)
    {
        var raw = Metadata.GetValue("exports/" + target);
        if (raw is null)
            return [];
        var result = new List<(int, string)>();
        foreach (var line in System.Text.Encoding.UTF8.GetString(raw).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            int tab = line.IndexOf('\t');
            if (tab > 0 && int.TryParse(line.AsSpan(0, tab), out int lun))
                result.Add((lun, line[(tab + 1)..]));
        }
        return result;
    }

    public void SaveRuntimeExports(string target, IReadOnlyList<(int Lun, string VDisk)> exports)
    {
        var text = string.Join('\n', exports.Select(e => $"{e.Lun}\t{e.VDisk}"));
        var batch = new MetadataBatch();
        if (exports.Count == 0)
            batch.Add(new MetadataOp.DeleteValue("exports/" + target));
        else
            batch.Add(new MetadataOp.PutValue("exports/" + target, System.Text.Encoding.UTF8.GetBytes(text)));
        Metadata.Commit(batch);
    }

    /// <summary>The vDisk was deleted: its unit goes, and so do the reservations it kept with APTPL.</summary>
    public void ForgetLogicalUnit(long vdiskId)
    {
        lock (_units)
            _units.Remove(vdiskId);
        new MetadataReservationStore(Metadata).Forget(Convert.ToHexStringLower(NaaIdentifier.For(Metadata.ApplianceId, vdiskId)));
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _spaceReserve?.Dispose();
        Engine?.Dispose();
        Metadata?.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>A container's data reduction keys as the engine takes them.</summary>
    private static DataReductionSpec ReductionOf(ContainerConfig c) => new(
        c.Dedup,
        new StorageAppliance.DataReduction.Chunking.ChunkingOptions(c.DedupChunk.Min, c.DedupChunk.Average, c.DedupChunk.Max),
        c.Compression switch
        {
            ContainerCompression.Lz4 => StorageAppliance.DataReduction.Compression.CompressionKind.Lz4,
            ContainerCompression.Zstd => StorageAppliance.DataReduction.Compression.CompressionKind.Zstd,
            _ => StorageAppliance.DataReduction.Compression.CompressionKind.None,
        },
        c.CompressionLevel,
        c.DataContraction == DataContraction.Inline,
        c.PostProcessDelay);
}

/// <summary>
/// One-time import of file-backed vDisks written before the storage engine (data_dir/containers/*/*.vdisk):
/// their non-zero megabytes are written through the engine, then the file is renamed *.imported.
/// </summary>
internal static class LegacyImport
{
    public static void Run(ApplianceConfig config, IVDiskProvisioner engine, string dataDir, ILogger log)
    {
        foreach (var v in config.VDisks)
        {
            string path = Path.Combine(dataDir, "containers", v.Container, v.Name + ".vdisk");
            if (!File.Exists(path) || engine.Open(v.Name) is not { } target)
                continue;
            var buffer = new byte[1 << 20];
            long imported = 0;
            using (var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20))
            {
                long length = Math.Min(f.Length, target.CapacityBytes);
                for (long off = 0; off < length; off += buffer.Length)
                {
                    int n = f.Read(buffer, 0, (int)Math.Min(buffer.Length, length - off));
                    if (buffer.AsSpan(0, n).IndexOfAnyExcept((byte)0) < 0)
                        continue;
                    var status = target.WriteAsync(off, buffer.AsMemory(0, n), IoFlags.None, IoContext.Internal("import")).AsTask().GetAwaiter().GetResult();
                    if (status != IoStatus.Ok)
                        throw new InvalidDataException($"importing {path} into vDisk {v.Name} failed at offset {off}: {status}");
                    imported += n;
                }
            }
            var flushed = target.FlushAsync(IoContext.Internal("import")).AsTask().GetAwaiter().GetResult();
            if (flushed != IoStatus.Ok)
                throw new InvalidDataException($"importing {path}: flush failed: {flushed}");
            File.Move(path, path + ".imported");
            HostLog.LegacyImported(log, path, v.Name, imported);
        }
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
            foreach (var (lun, vdisk) in _storage.RuntimeExports(t.Name))
                if (scsi.GetLogicalUnit((ulong)lun) is null && _storage.Provisioner.Open(vdisk) is { } v)
                    scsi.AddLogicalUnit((ulong)lun, _storage.GetLogicalUnit(v));
            var chap = t.Auth is null ? null : new ChapCredentials(t.Auth.Chap.Username, t.Auth.Chap.Secret);
            var mutual = t.Auth?.MutualChap is null ? null : new ChapCredentials(t.Auth.MutualChap.Username, t.Auth.MutualChap.Secret);
            _server.AddTarget(new IscsiTargetNode(t.Name, t.Alias, scsi, chap, mutual, t.AllowedInitiators));
        }
        await _listener.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task StopAsync(CancellationToken cancellationToken) => _listener.StopAsync(cancellationToken);
}
