using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace StorageAppliance.Director;

/// <summary>
/// The I/O Director: every request from every front end passes through it on its way to a vDisk
/// controller. For now it is a pass-through that resolves names to vDisks; admission control, QoS
/// queues and ownership come with their own issue and slot in here without the front ends changing.
/// </summary>
public sealed class IoDirector
{
    private readonly ConcurrentDictionary<string, IVDisk> _byName = new(StringComparer.Ordinal);
    private readonly ILogger<IoDirector> _log;

    public IoDirector(ILogger<IoDirector> log) => _log = log;

    /// <summary>Makes a vDisk reachable through the Director.</summary>
    public void Register(IVDisk vdisk)
    {
        if (!_byName.TryAdd(vdisk.Name, vdisk))
            throw new InvalidOperationException($"vDisk '{vdisk.Name}' is already registered");
        DirectorLog.VDiskRegistered(_log, vdisk.Name, vdisk.Id, vdisk.CapacityBytes);
    }

    public bool Unregister(string name) => _byName.TryRemove(name, out _);

    /// <summary>The vDisk a front end should send requests to, or null when there is none of that name.</summary>
    public IVDisk? Resolve(string name) => _byName.TryGetValue(name, out var v) ? v : null;

    public IReadOnlyCollection<IVDisk> VDisks => (IReadOnlyCollection<IVDisk>)_byName.Values;
}

internal static partial class DirectorLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "vDisk {Name} (id {Id:x16}, {Capacity} bytes) is reachable through the Director")]
    public static partial void VDiskRegistered(ILogger logger, string name, long id, long capacity);
}
