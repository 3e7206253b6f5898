namespace StorageAppliance.Management.Admin;

/// <summary>Why an admin request was refused; the API maps it to an HTTP status and the CLI to an exit code.</summary>
public enum AdminError
{
    /// <summary>404; CLI exit 3.</summary>
    NotFound,

    /// <summary>409 (exists, in use, defined in the config file); CLI exit 4.</summary>
    Conflict,

    /// <summary>400 (bad name, size, block size); CLI exit 2.</summary>
    Invalid,

    /// <summary>507 (the pool or container has no room); CLI exit 5.</summary>
    NoSpace,

    /// <summary>503 (the appliance is starting or stopping); CLI exit 6.</summary>
    Unavailable,
}

public sealed class AdminException(AdminError error, string message) : Exception(message)
{
    public AdminError Error { get; } = error;
}

/// <summary>
/// Create a vDisk at run time; optionally export it as a LUN of a configured target. Without
/// <see cref="Container"/> the appliance picks its only container, or the one every vDisk of
/// <see cref="Target"/> lives in, and refuses if that leaves a choice. With <see cref="Target"/> and
/// without <see cref="Lun"/> the vDisk becomes the target's lowest free LUN.
/// </summary>
public sealed record VDiskCreateRequest(
    string Name,
    long CapacityBytes,
    string? Container = null,
    int LogicalBlockSize = 512,
    bool Thin = true,
    string? Target = null,
    int? Lun = null);

/// <summary>
/// The NFS file whose data a vDisk (named nfs-&lt;file id&gt;) holds: its export, its path under the
/// export and its size. Such a vDisk's capacity is the file's address space (the most an NFS file may
/// grow to), not its size, and it is managed only through the file.
/// </summary>
public sealed record NfsFileInfo(string Export, string Path, long SizeBytes);

/// <summary>A vDisk as the admin API shows it; <see cref="NfsFile"/> is set for one that holds an NFS file's data.</summary>
public sealed record VDiskInfo(
    long Id,
    string Name,
    string Container,
    long CapacityBytes,
    long UsedBytes,
    long AllocatedBytes,
    int LogicalBlockSize,
    bool Thin,
    bool FromConfig,
    IReadOnlyList<string> Exports,
    NfsFileInfo? NfsFile = null);

/// <summary>
/// What the running appliance lets an operator do (the CLI talks to it over the admin socket). The
/// appliance implements it over the storage engine and the front ends; the API server and CLI only
/// translate. Every method throws <see cref="AdminException"/> for a refused request.
/// </summary>
public interface IApplianceAdmin
{
    IReadOnlyList<VDiskInfo> ListVDisks();

    VDiskInfo CreateVDisk(VDiskCreateRequest request);

    /// <summary>Growing raises CAPACITY DATA HAS CHANGED on every path; shrinking below written data needs <paramref name="allowShrink"/>. A vDisk of an NFS file is refused (Conflict).</summary>
    VDiskInfo ResizeVDisk(string name, long capacityBytes, bool allowShrink);

    /// <summary>Removes its LUNs (REPORTED LUNS DATA HAS CHANGED), deletes it and releases its space. Config-defined vDisks and vDisks of NFS files are refused (Conflict).</summary>
    void DeleteVDisk(string name);

    /// <summary>Changes a vDisk's QoS policy at once, without a restart, and keeps it in the metadata store.</summary>
    VDiskQos SetVDiskQos(string name, VDiskQosRequest request);

    /// <summary>Counters and latencies of every vDisk and every initiator or client, and data reduction.</summary>
    ApplianceStats GetStats();

    /// <summary>Runs a Curator pass now (after the one in progress) and returns its report.</summary>
    Task<CuratorReportInfo> RunCuratorScanAsync(bool scrub);

    /// <summary>The Curator's pass in progress, if any, and its last report.</summary>
    CuratorStatusInfo GetCuratorStatus();
}
