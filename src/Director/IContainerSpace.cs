namespace StorageAppliance.Director;

/// <summary>
/// The space of a container as a client sees it: <see cref="TotalBytes"/> it may ever hold (its
/// max_capacity, or its pool's capacity), <see cref="FreeBytes"/> it can still take now (less what other
/// containers of the pool are guaranteed). Free is never more than total.
/// </summary>
public readonly record struct ContainerSpace(long TotalBytes, long FreeBytes);

/// <summary>
/// Implemented by a provisioner that knows its containers' space (the storage engine); front ends that
/// report sizes to clients (NFS FSSTAT) ask it. Kept apart from <see cref="IVDiskProvisioner"/> so a
/// provisioner without the figures need not make them up.
/// </summary>
public interface IContainerSpace
{
    /// <summary>The container's space now, or false when there is no such container.</summary>
    bool TryGetContainerSpace(string container, out ContainerSpace space);
}
