using System.Text.RegularExpressions;
using StorageAppliance.Management.Admin;

namespace StorageAppliance.Management.Tests.Admin;

/// <summary>
/// An in-memory appliance: one container "default" (plus "small", 1 GiB, for NoSpace), one target,
/// one config-defined vDisk "disk0". Checks what the real one checks, so every AdminError can be provoked.
/// </summary>
internal sealed partial class FakeApplianceAdmin : IApplianceAdmin
{
    public const string Target = "iqn.2026-11.io.storageappliance:default";

    private readonly object _lock = new();
    private readonly List<VDiskInfo> _vdisks = [];
    private long _nextId = 2;

    public FakeApplianceAdmin(bool withConfigDisk = true)
    {
        if (withConfigDisk)
            _vdisks.Add(new VDiskInfo(1, "disk0", "default", 8L << 30, 4096, 1L << 20, 512, true, true, [$"{Target}/0"]));
    }

    /// <summary>Adds the data vDisk of an NFS file, which the fake, like the appliance, refuses to delete or resize.</summary>
    public void AddNfsFileVDisk(string name, string export, string path, long sizeBytes)
    {
        lock (_lock)
            _vdisks.Add(new VDiskInfo(_nextId++, name, "default", 16L << 40, sizeBytes, sizeBytes, 512, true, false, [], new NfsFileInfo(export, path, sizeBytes)));
    }

    private static void RefuseNfsFile(VDiskInfo v, string how)
    {
        if (v.NfsFile is { } f)
            throw new AdminException(AdminError.Conflict, $"{v.Name} holds the data of NFS file {f.Path} in export {f.Export} ({f.Export}:{f.Path}); it is managed only through the file: {how}");
    }

    /// <summary>When set, every call is refused as Unavailable (the appliance is starting).</summary>
    public bool Starting { get; set; }

    /// <summary>When set, every call throws this (a bug in the appliance, not a refusal).</summary>
    public Exception? Fault { get; set; }

    public VDiskCreateRequest? LastCreate { get; private set; }

    public (string Name, long Capacity, bool AllowShrink)? LastResize { get; private set; }

    public List<string> Deleted { get; } = [];

    public (string Name, VDiskQosRequest Request)? LastQos { get; private set; }

    public VDiskQos SetVDiskQos(string name, VDiskQosRequest request)
    {
        lock (_lock)
        {
            Enter();
            Find(name);
            if (request.Class is not (null or "high" or "low"))
                throw new AdminException(AdminError.Invalid, $"'{request.Class}' is not a QoS class (use high or low)");
            LastQos = (name, request);
            return new VDiskQos(name, request.Class ?? "high", request.Weight ?? 1, request.IopsLimit ?? 0, request.BandwidthLimit ?? 0,
                request.IopsBurst ?? 0, request.BandwidthBurst ?? 0, request.MaxOutstanding ?? 0);
        }
    }

    /// <summary>Every call returns 100 more reads on each vDisk, 10 ms apart on the clock, so rates are 10,000 IOPS.</summary>
    private long _statsCalls;

    /// <summary>Curator passes the fake "ran"; each reports one reduced block per pass so far.</summary>
    public int CuratorScans;

    public Task<CuratorReportInfo> RunCuratorScanAsync(bool scrub)
    {
        lock (_lock)
        {
            Enter();
            CuratorScans++;
            return Task.FromResult(new CuratorReportInfo(DateTimeOffset.UnixEpoch, 0.5, scrub, CuratorScans, CuratorScans * 1048576L, 0, 0, 3, 12288, 1, 0, 0,
                scrub ? 10 : 0, scrub ? 2 : 0, scrub ? ["corrupt extent 4096:00 (ChecksumMismatch), used by vDisk a at offset 0"] : []));
        }
    }

    public CuratorStatusInfo GetCuratorStatus()
    {
        lock (_lock)
        {
            Enter();
            return new CuratorStatusInfo(false, "idle", 0, 0, null);
        }
    }

    public ApplianceStats GetStats()
    {
        lock (_lock)
        {
            Enter();
            long n = ++_statsCalls;
            var latency = new LatencyInfo(100 * n, 50, 40, 60, 120, 250);
            var vdisks = _vdisks.Select(v => new VDiskStatsInfo(v.Name, 100 * n, 0, 0, 0, 409600 * n, 0, 0, 2, 4, latency, latency,
                new VDiskQos(v.Name, "high", 1, 0, 0, 0, 0, 0))).ToList();
            return new ApplianceStats(10_000 * n, 4, vdisks, [new ClientStatsInfo("Iscsi", "iqn.2026-12.test:client", 100 * n, 409600 * n, 0, latency, latency)]);
        }
    }

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex Name();

    public IReadOnlyList<VDiskInfo> ListVDisks()
    {
        Enter();
        lock (_lock)
            return [.. _vdisks];
    }

    public VDiskInfo CreateVDisk(VDiskCreateRequest request)
    {
        Enter();
        LastCreate = request;
        if (!Name().IsMatch(request.Name))
            throw new AdminException(AdminError.Invalid, $"'{request.Name}' is not a valid vDisk name");
        if (request.LogicalBlockSize is not (512 or 4096))
            throw new AdminException(AdminError.Invalid, $"block size {request.LogicalBlockSize} is not supported (use 512 or 4096)");
        if (request.CapacityBytes <= 0 || request.CapacityBytes % request.LogicalBlockSize != 0)
            throw new AdminException(AdminError.Invalid, $"size {request.CapacityBytes} is not a positive multiple of {request.LogicalBlockSize}");
        // Two containers: without one named, only the target (whose disk0 lives in "default") decides.
        string container = request.Container ?? (request.Target == Target ? "default"
            : throw new AdminException(AdminError.Invalid, "there are 2 containers (default, small): name one with --container"));
        if (container is not ("default" or "small"))
            throw new AdminException(AdminError.NotFound, $"no container is named '{request.Container}'");
        if (request.Target is not null && request.Target != Target)
            throw new AdminException(AdminError.NotFound, $"no target is named '{request.Target}'");
        lock (_lock)
        {
            if (_vdisks.Exists(v => v.Name == request.Name))
                throw new AdminException(AdminError.Conflict, $"a vDisk named '{request.Name}' exists");
            if (container == "small" && !request.Thin && request.CapacityBytes > 1L << 30)
                throw new AdminException(AdminError.NoSpace, $"container 'small' has 1 GiB free; {request.CapacityBytes} bytes do not fit");
            string[] exports = request.Target is null ? [] : [$"{request.Target}/{request.Lun ?? 1}"];
            var info = new VDiskInfo(_nextId++, request.Name, container, request.CapacityBytes, 0,
                request.Thin ? 0 : request.CapacityBytes, request.LogicalBlockSize, request.Thin, false, exports);
            _vdisks.Add(info);
            return info;
        }
    }

    public VDiskInfo ResizeVDisk(string name, long capacityBytes, bool allowShrink)
    {
        Enter();
        LastResize = (name, capacityBytes, allowShrink);
        lock (_lock)
        {
            int i = Find(name);
            VDiskInfo v = _vdisks[i];
            RefuseNfsFile(v, "truncate or extend the file over NFS to change its size");
            if (capacityBytes <= 0 || capacityBytes % v.LogicalBlockSize != 0)
                throw new AdminException(AdminError.Invalid, $"size {capacityBytes} is not a positive multiple of {v.LogicalBlockSize}");
            if (capacityBytes < v.CapacityBytes && !allowShrink)
                throw new AdminException(AdminError.Invalid, $"shrinking '{name}' from {v.CapacityBytes} to {capacityBytes} bytes needs allowShrink");
            _vdisks[i] = v with { CapacityBytes = capacityBytes };
            return _vdisks[i];
        }
    }

    public void DeleteVDisk(string name)
    {
        Enter();
        lock (_lock)
        {
            int i = Find(name);
            if (_vdisks[i].FromConfig)
                throw new AdminException(AdminError.Conflict, $"vDisk '{name}' is defined in the config file; remove it there");
            RefuseNfsFile(_vdisks[i], "remove the file over NFS to delete its data");
            _vdisks.RemoveAt(i);
            Deleted.Add(name);
        }
    }

    private int Find(string name)
    {
        int i = _vdisks.FindIndex(v => v.Name == name);
        return i >= 0 ? i : throw new AdminException(AdminError.NotFound, $"no vDisk is named '{name}'");
    }

    private void Enter()
    {
        if (Fault is { } fault)
            throw fault;
        if (Starting)
            throw new AdminException(AdminError.Unavailable, "the appliance is starting");
    }
}
