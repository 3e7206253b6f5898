using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace StorageAppliance.Director;

/// <summary>
/// The I/O Director: every request from every front end passes through it on its way to a vDisk
/// controller. The storage engine registers its controllers here; front ends get their vDisks from the
/// Director, either by name (<see cref="Resolve"/>) or through provisioning (the Director is the
/// <see cref="IVDiskProvisioner"/> front ends see), and always receive a <see cref="DirectedVDisk"/>
/// handle whose requests cross the Director. Admission control, QoS queues and ownership come with their
/// own issue and slot in there without the front ends changing.
/// </summary>
public sealed class IoDirector : IVDiskProvisioner, IContainerSpace
{
    private readonly ConcurrentDictionary<string, DirectedVDisk> _byName = new(StringComparer.Ordinal);
    private readonly ILogger<IoDirector> _log;
    private IVDiskProvisioner? _provisioner;

    public IoDirector(ILogger<IoDirector> log) => _log = log;

    /// <summary>Makes a vDisk controller reachable through the Director; returns the handle front ends use.</summary>
    public DirectedVDisk Register(IVDisk vdisk)
    {
        var handle = new DirectedVDisk(vdisk);
        if (!_byName.TryAdd(vdisk.Name, handle))
            throw new InvalidOperationException($"vDisk '{vdisk.Name}' is already registered");
        DirectorLog.VDiskRegistered(_log, vdisk.Name, vdisk.Id, vdisk.CapacityBytes);
        return handle;
    }

    public bool Unregister(string name) => _byName.TryRemove(name, out _);

    /// <summary>The handle a front end should send requests to, or null when there is no vDisk of that name.</summary>
    public DirectedVDisk? Resolve(string name) => _byName.TryGetValue(name, out var v) ? v : null;

    public IReadOnlyCollection<DirectedVDisk> VDisks => (IReadOnlyCollection<DirectedVDisk>)_byName.Values;

    /// <summary>Counters of every vDisk, sorted by name.</summary>
    public IReadOnlyList<VDiskStats> Stats()
    {
        var list = new List<VDiskStats>(_byName.Count);
        foreach (var v in _byName.Values)
            list.Add(v.Stats);
        list.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return list;
    }

    /// <summary>The storage engine that creates, resizes and deletes vDisks behind the Director.</summary>
    public void AttachProvisioner(IVDiskProvisioner provisioner) => _provisioner = provisioner;

    private IVDiskProvisioner Provisioner => _provisioner ?? throw new InvalidOperationException("no storage engine is attached to the Director");

    public IVDisk Create(string container, string name, long capacityBytes, int logicalBlockSize = 512, bool thin = true)
    {
        var created = Provisioner.Create(container, name, capacityBytes, logicalBlockSize, thin);
        return Resolve(name) ?? Register(created);
    }

    public IVDisk? Open(string name)
    {
        if (Resolve(name) is { } handle)
            return handle;
        return Provisioner.Open(name) is { } opened ? Resolve(name) ?? Register(opened) : null;
    }

    public void Resize(string name, long capacityBytes) => Provisioner.Resize(name, capacityBytes);

    public void Delete(string name)
    {
        Provisioner.Delete(name);
        Unregister(name);
    }

    public IReadOnlyList<VDiskDescription> List() => Provisioner.List();

    /// <summary>The engine's figures, when it has them.</summary>
    public bool TryGetContainerSpace(string container, out ContainerSpace space)
    {
        space = default;
        return _provisioner is IContainerSpace s && s.TryGetContainerSpace(container, out space);
    }
}

internal static partial class DirectorLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "vDisk {Name} (id {Id:x16}, {Capacity} bytes) is reachable through the Director")]
    public static partial void VDiskRegistered(ILogger logger, string name, long id, long capacity);
}
