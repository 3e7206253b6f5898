using StorageAppliance.Director;
using StorageAppliance.Director.Qos;
using StorageAppliance.Management.Admin;
using StorageAppliance.Management.Config;
using StorageAppliance.Protocols.Iscsi;
using StorageAppliance.Protocols.Nfs;

namespace StorageAppliance.Host;

/// <summary>
/// What the admin API and CLI may do to the running appliance: vDisks over the storage engine, and LUNs
/// of the configured iSCSI targets for vDisks created at run time (kept in the metadata store so they
/// survive a restart). vDisks that hold NFS files' data (nfs-&lt;file id&gt;) belong to their files: they are
/// listed with the file's path and size, deleting or resizing one is refused while its file exists, and a
/// Curator scan adds the NFS namespace's audit of files against vDisks to the engine's pass.
/// </summary>
public sealed class ApplianceAdmin : IApplianceAdmin
{
    private readonly ApplianceConfig _config;
    private readonly StorageService _storage;
    private readonly IscsiServer? _iscsi;
    private readonly IoDirector _director;
    private readonly NfsService? _nfs;
    private readonly object _lock = new();
    private (DateTimeOffset Started, IReadOnlyList<string> Problems)? _lastNfsAudit;

    public ApplianceAdmin(ApplianceConfig config, StorageService storage, IServiceProvider services)
    {
        _config = config;
        _storage = storage;
        _iscsi = services.GetService(typeof(IscsiServer)) as IscsiServer;
        _director = (IoDirector)services.GetService(typeof(IoDirector))!;
        _nfs = services.GetService(typeof(NfsService)) as NfsService;
    }

    public VDiskQos SetVDiskQos(string name, VDiskQosRequest request)
    {
        lock (_lock)
        {
            if (_storage.Provisioner.Open(name) is null)
                throw new AdminException(AdminError.NotFound, $"no vDisk named {name}");
            QosPolicy p = _director.PolicyOf(name);
            IoPriority cls = request.Class switch
            {
                null => p.Class,
                "high" => IoPriority.High,
                "low" => IoPriority.Low,
                _ => throw new AdminException(AdminError.Invalid, $"'{request.Class}' is not a QoS class (use high or low)"),
            };
            var next = new QosPolicy(cls, request.Weight ?? p.Weight, request.IopsLimit ?? p.IopsLimit, request.BandwidthLimit ?? p.BandwidthLimit,
                request.IopsBurst ?? p.IopsBurst, request.BandwidthBurst ?? p.BandwidthBurst, request.MaxOutstanding ?? p.MaxOutstanding);
            // Removing a limit removes its burst with it.
            if (next.IopsLimit == 0)
                next = next with { IopsBurst = 0 };
            if (next.BandwidthLimit == 0)
                next = next with { BandwidthBurst = 0 };
            if (next.Validate() is { } error)
                throw new AdminException(AdminError.Invalid, $"{name}: {error}");
            _director.SetPolicy(name, next);
            QosPolicies.Save(_storage.Metadata, name, next);
            return ToQos(name, next);
        }
    }

    public ApplianceStats GetStats()
    {
        var vdisks = new List<VDiskStatsInfo>();
        foreach (var s in _director.Stats())
            vdisks.Add(new VDiskStatsInfo(s.Name, s.Reads, s.Writes, s.Unmaps, s.Flushes, s.BytesRead, s.BytesWritten, s.Errors, s.Queued, s.InService,
                ToInfo(s.QueueTime), ToInfo(s.ServiceLatency), ToQos(s.Name, s.Policy)));
        var clients = new List<ClientStatsInfo>();
        foreach (var c in _director.ClientStats())
            clients.Add(new ClientStatsInfo(c.Protocol.ToString(), c.Client, c.Requests, c.Bytes, c.Errors, ToInfo(c.QueueTime), ToInfo(c.ServiceLatency)));
        long micros = (long)(System.Diagnostics.Stopwatch.GetTimestamp() * (1e6 / System.Diagnostics.Stopwatch.Frequency));
        return new ApplianceStats(micros, _director.Scheduler.Outstanding, vdisks, clients, DataReduction());
    }

    private DataReductionInfo? DataReduction()
    {
        if (_storage.Engine is not { } engine)
            return null;
        var rows = engine.ReductionStats()
            .Select(r => new ReductionInfo(r.VDisk, r.Container, r.LogicalBytes, r.StoredBytes, r.SavedBytes, Math.Round(r.Ratio, 3), r.Extents)).ToList();
        return new DataReductionInfo(rows.Where(r => r.VDisk is null).ToList(), rows.Where(r => r.VDisk is not null).ToList());
    }

    public async Task<CuratorReportInfo> RunCuratorScanAsync(bool scrub)
    {
        if (_storage.Engine is not { } engine)
            throw new AdminException(AdminError.Unavailable, "the storage engine is not running");
        var report = ToInfo(await engine.RunCuratorAsync(scrub).ConfigureAwait(false));
        // The engine knows vDisks, not files: the NFS namespace audits its files against them here, so
        // neither layer references the other.
        var nfs = AuditNfsData();
        _lastNfsAudit = (report.Started, nfs);
        return WithNfsProblems(report, nfs);
    }

    public CuratorStatusInfo GetCuratorStatus()
    {
        if (_storage.Engine is not { } engine)
            throw new AdminException(AdminError.Unavailable, "the storage engine is not running");
        var s = engine.CuratorStatus;
        CuratorReportInfo? last = s.Last is null ? null : ToInfo(s.Last);
        if (last is not null && _lastNfsAudit is { } audit && audit.Started == last.Started)
            last = WithNfsProblems(last, audit.Problems);
        return new CuratorStatusInfo(s.Running, s.Phase, s.Done, s.Total, last);
    }

    /// <summary>Files whose data vDisk is missing and data vDisks whose file is gone; none when NFS is not running.</summary>
    private IReadOnlyList<string> AuditNfsData()
    {
        if (_nfs?.FileSystem is not { } fs)
            return [];
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var d in _storage.Provisioner.List())
            names.Add(d.Name);
        return fs.AuditData(names);
    }

    private static CuratorReportInfo WithNfsProblems(CuratorReportInfo report, IReadOnlyList<string> problems) =>
        problems.Count == 0 ? report : report with { Problems = [.. report.Problems, .. problems] };

    /// <summary>
    /// A vDisk that holds an NFS file's data changes only through the file (its size is the file's, its
    /// data the file's contents): refused while the file exists. An orphan (its file removed, the vDisk
    /// left by an interrupted remove) may be deleted.
    /// </summary>
    private void RefuseIfNfsData(string name, bool delete)
    {
        if (!NfsFileSystem.TryParseVDiskName(name, out _))
            return;
        string how = delete ? "remove the file over NFS to delete its data" : "truncate or extend the file over NFS to change its size";
        if (_nfs?.FileSystem is not { } fs)
        {
            if (_config.Nfs.Enabled)
                throw new AdminException(AdminError.Unavailable, $"{name} holds an NFS file's data and NFS is not running yet to say which; try again once it is");
            throw new AdminException(AdminError.Conflict, $"{name} holds the data of an NFS file (NFS is disabled in {_config.Source}, so which one cannot be told); it is managed only through its file");
        }
        if (fs.FindDataFile(name) is { } file)
        {
            throw new AdminException(AdminError.Conflict,
                $"{name} holds the data of NFS file {file.Path} in export {file.Export} ({file.Export}:{file.Path}, {file.SizeBytes} bytes); it is managed only through the file: {how}");
        }
        if (!delete)
            throw new AdminException(AdminError.Conflict, $"{name} is the data vDisk of an NFS file that no longer exists; it cannot be resized, only deleted");
    }

    private static CuratorReportInfo ToInfo(VDisk.CuratorReport r) => new(r.Started, Math.Round(r.Took.TotalSeconds, 3), r.Scrubbed, r.BlocksReduced, r.BytesReduced,
        r.ReferencesFixed, r.OrphanSlotsFreed, r.ExtentsCollected, r.BytesCollected, r.PacksFreed, r.PacksCompacted, r.BytesMoved, r.ExtentsVerified,
        r.BlocksVerified, r.Problems);

    private static LatencyInfo ToInfo(LatencySummary l) => new(l.Count, l.MeanMicros, l.P50Micros, l.P90Micros, l.P99Micros, l.P999Micros);

    private static VDiskQos ToQos(string name, QosPolicy p) =>
        new(name, p.Class == IoPriority.Low ? "low" : "high", p.Weight, p.IopsLimit, p.BandwidthLimit, p.IopsBurst, p.BandwidthBurst, p.MaxOutstanding);

    public IReadOnlyList<VDiskInfo> ListVDisks()
    {
        var exports = Exports();
        return _storage.Provisioner.List()
            .Select(d => ToInfo(d, exports))
            .ToList();
    }

    public VDiskInfo CreateVDisk(VDiskCreateRequest request)
    {
        // The API checked the name already; this is what every caller of the appliance reaches.
        if (VDiskNames.Check(request.Name) is { } badName)
            throw new AdminException(AdminError.Invalid, badName);
        lock (_lock)
        {
            IscsiTargetNode? target = null;
            int lun = -1;
            if (request.Lun is not null && request.Target is null)
                throw new AdminException(AdminError.Invalid, "--lun needs --target: a LUN number belongs to a target");
            if (request.Target is not null)
            {
                target = _iscsi?.FindTarget(request.Target) ?? throw new AdminException(AdminError.NotFound, $"no iSCSI target named {request.Target}");
                lun = request.Lun ?? FirstFreeLun(target);
                if (lun is < 0 or > MaxLun)
                    throw new AdminException(request.Lun is null ? AdminError.Conflict : AdminError.Invalid,
                        request.Lun is null ? $"{target.Name} has no free LUN (0 to {MaxLun} are all in use)" : $"LUN {lun} is not between 0 and {MaxLun}");
                if (target.Scsi.GetLogicalUnit((ulong)lun) is not null)
                    throw new AdminException(AdminError.Conflict, $"LUN {lun} of {target.Name} is already in use");
            }
            string container = request.Container ?? DefaultContainer(target?.Name);
            // The NFS front end names its files' vDisks nfs-<file id> and adopts one of that name at a file's
            // first write: a vDisk made here under such a name would become some future file's contents.
            if (request.Name.StartsWith(NfsFileSystem.DataVDiskPrefix, StringComparison.OrdinalIgnoreCase))
                throw new AdminException(AdminError.Invalid, $"'{request.Name}': names starting with {NfsFileSystem.DataVDiskPrefix} are reserved for the vDisks of NFS files");
            IVDisk vdisk;
            try
            {
                vdisk = _storage.Provisioner.Create(container, request.Name, request.CapacityBytes, request.LogicalBlockSize, request.Thin);
            }
            catch (ProvisioningException e)
            {
                throw Map(e);
            }
            if (target is not null)
            {
                target.Scsi.AddLogicalUnit((ulong)lun, _storage.GetLogicalUnit(vdisk));
                var list = _storage.RuntimeExports(target.Name).ToList();
                list.Add((lun, vdisk.Name));
                _storage.SaveRuntimeExports(target.Name, list);
            }
            return ListVDisks().First(v => v.Name == vdisk.Name);
        }
    }

    // SAM-5 flat space addressing, as the config's luns.
    private const int MaxLun = 16383;

    // What the CLI's help promises for --target without --lun: the lowest LUN the target does not use.
    private static int FirstFreeLun(IscsiTargetNode target)
    {
        for (int lun = 0; lun <= MaxLun; lun++)
            if (target.Scsi.GetLogicalUnit((ulong)lun) is null)
                return lun;
        return -1;
    }

    // A create without a container: the only one there is, else the one every vDisk the target already
    // exports lives in. Anything else is a choice the operator must make, so say what the choices are.
    private string DefaultContainer(string? targetName)
    {
        var all = _config.Containers;
        if (all.Count == 1)
            return all[0].Name;
        string names = string.Join(", ", all.Select(c => c.Name));
        if (targetName is not null)
        {
            var byName = _storage.Provisioner.List().ToDictionary(d => d.Name, d => d.Container, StringComparer.Ordinal);
            var used = new HashSet<string>(StringComparer.Ordinal);
            var exported = _config.Targets.Where(t => t.Name == targetName).SelectMany(t => t.Luns.Select(l => l.VDisk))
                .Concat(_storage.RuntimeExports(targetName).Select(e => e.VDisk));
            foreach (string vdisk in exported)
                if (byName.TryGetValue(vdisk, out string? c))
                    used.Add(c);
            if (used.Count == 1)
                return used.First();
            throw new AdminException(AdminError.Invalid, used.Count == 0
                ? $"there are {all.Count} containers ({names}) and {targetName} exports no vDisk yet: name one with --container"
                : $"the vDisks of {targetName} live in {used.Count} containers ({string.Join(", ", used.Order(StringComparer.Ordinal))}): name one with --container");
        }
        throw new AdminException(AdminError.Invalid, $"there are {all.Count} containers ({names}): name one with --container");
    }

    public VDiskInfo ResizeVDisk(string name, long capacityBytes, bool allowShrink)
    {
        lock (_lock)
        {
            RefuseIfNfsData(name, delete: false);
            var vdisk = _storage.Provisioner.Open(name) ?? throw new AdminException(AdminError.NotFound, $"no vDisk named {name}");
            if (capacityBytes < vdisk.CapacityBytes && !allowShrink)
                throw new AdminException(AdminError.Invalid, $"{name} has {vdisk.CapacityBytes} bytes; shrinking to {capacityBytes} discards the data past the new end: pass --shrink to do it");
            var configured = _config.FindVDisk(name);
            if (configured is not null && capacityBytes < configured.SizeBytes)
                throw new AdminException(AdminError.Conflict, $"{name} is configured with {configured.SizeBytes} bytes in {_config.Source}; change the config to make it smaller");
            try
            {
                _storage.Provisioner.Resize(name, capacityBytes);
            }
            catch (ProvisioningException e)
            {
                throw Map(e);
            }
            return ListVDisks().First(v => v.Name == name);
        }
    }

    public void DeleteVDisk(string name)
    {
        lock (_lock)
        {
            if (_config.FindVDisk(name) is not null)
                throw new AdminException(AdminError.Conflict, $"{name} is defined in {_config.Source}; remove it from the config instead");
            var vdisk = _storage.Provisioner.Open(name) ?? throw new AdminException(AdminError.NotFound, $"no vDisk named {name}");
            RefuseIfNfsData(name, delete: true);
            foreach (var t in _config.Targets)
            {
                var list = _storage.RuntimeExports(t.Name).ToList();
                if (list.RemoveAll(e => e.VDisk == name) == 0)
                    continue;
                var node = _iscsi?.FindTarget(t.Name);
                foreach (var (lun, luName) in _storage.RuntimeExports(t.Name))
                    if (luName == name)
                        node?.Scsi.RemoveLogicalUnit((ulong)lun);
                _storage.SaveRuntimeExports(t.Name, list);
            }
            try
            {
                _storage.Provisioner.Delete(name);
            }
            catch (ProvisioningException e)
            {
                throw Map(e);
            }
            _storage.ForgetLogicalUnit(vdisk.Id);
            QosPolicies.Forget(_storage.Metadata, name);
        }
    }

    private Dictionary<string, List<string>> Exports()
    {
        var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        void Add(string vdisk, string export)
        {
            if (!result.TryGetValue(vdisk, out var l))
                result[vdisk] = l = new List<string>();
            l.Add(export);
        }
        foreach (var t in _config.Targets)
        {
            foreach (var lun in t.Luns)
                Add(lun.VDisk, $"{t.Name}:{lun.Lun}");
            foreach (var (lun, vdisk) in _storage.RuntimeExports(t.Name))
                Add(vdisk, $"{t.Name}:{lun}");
        }
        return result;
    }

    private VDiskInfo ToInfo(VDiskDescription d, Dictionary<string, List<string>> exports) =>
        new(d.Id, d.Name, d.Container, d.CapacityBytes, d.UsedBytes, d.AllocatedBytes, d.LogicalBlockSize, d.Thin,
            _config.FindVDisk(d.Name) is not null, exports.TryGetValue(d.Name, out var e) ? e : [],
            _nfs?.FileSystem?.FindDataFile(d.Name) is { } f ? new NfsFileInfo(f.Export, f.Path, (long)f.SizeBytes) : null);

    private static AdminException Map(ProvisioningException e) => new(e.Error switch
    {
        ProvisioningError.NotFound => AdminError.NotFound,
        ProvisioningError.AlreadyExists or ProvisioningError.InUse => AdminError.Conflict,
        ProvisioningError.NoSpace => AdminError.NoSpace,
        _ => AdminError.Invalid,
    }, e.Message);
}
