using System.Net;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Portmapper;

namespace StorageAppliance.Protocols.Nfs;

/// <summary>
/// Settings of the NFS front end (config section <c>nfs:</c> plus <c>exports:</c>). Validated at start:
/// <see cref="Validate"/> lists every problem with its key.
/// </summary>
public sealed class NfsServerOptions
{
    /// <summary>nfs.listen: where NFS (program 100003) is served. Port 0 picks a free port (tests).</summary>
    public IPEndPoint Listen { get; init; } = new(IPAddress.Loopback, 2049);

    /// <summary>The other nfs.listen addresses: each serves NFS and MOUNT on the same ports as <see cref="Listen"/>.</summary>
    public IReadOnlyList<IPEndPoint> AdditionalListen { get; init; } = [];

    /// <summary>nfs.mount_port: where MOUNT (program 100005) is served; 0 picks a free port, null serves MOUNT on the NFS port only.</summary>
    public int? MountPort { get; init; } = 20048;

    /// <summary>nfs.portmapper: auto, embedded, system or off.</summary>
    public PortmapperMode Portmapper { get; init; } = PortmapperMode.Auto;

    /// <summary>Port of the portmapper (111; tests may move an embedded one elsewhere).</summary>
    public int PortmapperPort { get; init; } = 111;

    /// <summary>Where the namespace database lives: <c>&lt;DataDir&gt;/nfs-namespace.db</c>.</summary>
    public string DataDir { get; init; } = "data";

    /// <summary>Use the in-memory namespace store instead of SQLite (tests).</summary>
    public bool InMemoryNamespace { get; init; }

    public IReadOnlyList<ExportOptions> Exports { get; init; } = [];

    /// <summary>Capacity each file's vDisk is created with; also FSINFO maxfilesize. Sparse: costs only what is written.</summary>
    public long MaxFileSize { get; init; } = 16L << 40;

    /// <summary>FSINFO rtmax/wtmax.</summary>
    public int MaxTransferSize { get; init; } = 1 << 20;

    /// <summary>What FSSTAT reports as size and free space when the provisioner cannot tell a container's space (<see cref="Director.IContainerSpace"/>).</summary>
    public long ReportedCapacityBytes { get; init; } = 64L << 40;

    /// <summary>How often sizes and times changed by UNSTABLE writes are written to the namespace (COMMIT always does).</summary>
    public TimeSpan AttributeFlushInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Calls one connection may have in progress.</summary>
    public int MaxOutstandingCallsPerConnection { get; init; } = 128;

    /// <summary>The RPC transport's limits (connections, timeouts, buffers); MaxOutstandingCalls comes from <see cref="MaxOutstandingCallsPerConnection"/>.</summary>
    public RpcServerOptions Transport { get; init; } = new();

    /// <summary>Every problem with the options, as "key: reason"; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (MountPort is < 0 or > 65535)
            errors.Add($"nfs.mount_port: {MountPort} is not a port number");
        if (PortmapperPort is < 1 or > 65535)
            errors.Add($"nfs.portmapper port: {PortmapperPort} is not a port number");
        if (MaxTransferSize < 4096 || MaxTransferSize > (4 << 20) || (MaxTransferSize & 4095) != 0)
            errors.Add($"nfs max transfer size: {MaxTransferSize} must be a multiple of 4096 between 4 KiB and 4 MiB");
        if (MaxFileSize < (1L << 30))
            errors.Add($"nfs max file size: {MaxFileSize} is below 1 GiB");
        errors.AddRange(Transport.Validate("nfs."));
        var paths = new HashSet<string>(StringComparer.Ordinal);
        var ids = new Dictionary<uint, string>();
        for (int i = 0; i < Exports.Count; i++)
        {
            var e = Exports[i];
            foreach (var problem in e.Validate())
                errors.Add($"exports[{i}].{problem}");
            if (!paths.Add(e.Path))
                errors.Add($"exports[{i}].path: {e.Path} is exported twice");
            else if (ids.TryGetValue(e.ExportId, out var other))
                errors.Add($"exports[{i}].path: {e.Path} hashes to the same export id as {other}; rename one");
            else
                ids[e.ExportId] = e.Path;
        }
        return errors;
    }

    /// <summary>Throws with every problem listed when the options are invalid (start-up stops).</summary>
    public void ValidateOrThrow()
    {
        var errors = Validate();
        if (errors.Count > 0)
            throw new InvalidOperationException("invalid NFS configuration:" + Environment.NewLine + "  " + string.Join(Environment.NewLine + "  ", errors));
    }
}
