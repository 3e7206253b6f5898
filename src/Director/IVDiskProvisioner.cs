namespace StorageAppliance.Director;

/// <summary>Why a provisioning call was refused.</summary>
public enum ProvisioningError : byte
{
    NotFound,
    AlreadyExists,
    InvalidArgument,
    NoSpace,
    InUse,
}

/// <summary>A provisioning call refused with a reason an operator can act on.</summary>
public sealed class ProvisioningException(ProvisioningError error, string message) : Exception(message)
{
    public ProvisioningError Error { get; } = error;
}

/// <summary>What a vDisk is, for listings.</summary>
public sealed record VDiskDescription(
    long Id,
    string Name,
    string Container,
    long CapacityBytes,
    long UsedBytes,
    long AllocatedBytes,
    int LogicalBlockSize,
    bool Thin);

/// <summary>
/// Creates, resizes and deletes vDisks while the appliance runs: the storage engine behind the Director.
/// The admin API uses it for vDisks an operator creates; front ends use it for objects they create (an
/// NFS regular file is a vDisk of its export's container). Names are unique across the appliance.
/// </summary>
public interface IVDiskProvisioner
{
    /// <summary>Creates a thin vDisk and makes it reachable through the Director.</summary>
    IVDisk Create(string container, string name, long capacityBytes, int logicalBlockSize = 512, bool thin = true);

    /// <summary>The vDisk of that name, or null.</summary>
    IVDisk? Open(string name);

    /// <summary>Grows or shrinks a vDisk; shrinking releases the data past the new end.</summary>
    void Resize(string name, long capacityBytes);

    /// <summary>Deletes a vDisk and releases its space.</summary>
    void Delete(string name);

    IReadOnlyList<VDiskDescription> List();
}
