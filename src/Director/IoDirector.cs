using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using StorageAppliance.Director.Qos;

namespace StorageAppliance.Director;

/// <summary>
/// The I/O Director: every request from every front end passes through it on its way to a vDisk
/// controller. The storage engine registers its controllers here; front ends get their vDisks from the
/// Director, either by name (<see cref="Resolve"/>) or through provisioning (the Director is the
/// <see cref="IVDiskProvisioner"/> front ends see), and always receive a <see cref="DirectedVDisk"/>
/// handle whose requests cross the Director's admission control and QoS queues (<see cref="QosScheduler"/>).
/// Ownership (always this node until there is a cluster) comes later and slots in there too.
/// </summary>
public sealed class IoDirector : IVDiskProvisioner, IContainerSpace, IDisposable
{
    private readonly ConcurrentDictionary<string, DirectedVDisk> _byName = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, QosPolicy> _policies = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<ClientKey, ClientCounters> _clients = new();
    private readonly ConcurrentDictionary<string, string> _containerOf = new(StringComparer.Ordinal);
    private readonly ILogger<IoDirector> _log;
    private IVDiskProvisioner? _provisioner;

    public IoDirector(ILogger<IoDirector> log)
        : this(log, new DirectorOptions(), TimeProvider.System)
    {
    }

    public IoDirector(ILogger<IoDirector> log, DirectorOptions options, TimeProvider time)
    {
        _log = log;
        Scheduler = new QosScheduler(options, time);
    }

    /// <summary>Admission control and the QoS queues every request crosses.</summary>
    public QosScheduler Scheduler { get; }

    private CpuLoadMonitor? _cpu;

    /// <summary>Starts sampling the machine's CPU load, which decides when shares are enforced (DirectorOptions.CpuBusyThreshold).</summary>
    public void MonitorCpu(TimeProvider time) => _cpu ??= new CpuLoadMonitor(Scheduler, Scheduler.Options.CpuBusyThreshold, time);

    /// <summary>The machine's CPU busy fraction over the last sample, or -1 when not sampled.</summary>
    public double CpuBusy => _cpu?.LastBusy ?? -1;

    public void Dispose()
    {
        _cpu?.Dispose();
        Scheduler.Dispose();
    }

    /// <summary>Makes a vDisk controller reachable through the Director; returns the handle front ends use.</summary>
    public DirectedVDisk Register(IVDisk vdisk)
    {
        var queue = Scheduler.Add(vdisk.Name, _policies.TryGetValue(vdisk.Name, out var policy) ? policy : QosPolicy.Default);
        if (_containerOf.TryGetValue(vdisk.Name, out var container))
            Scheduler.SetGroup(queue, container);
        var handle = new DirectedVDisk(vdisk, this, queue);
        if (!_byName.TryAdd(vdisk.Name, handle))
        {
            Scheduler.Remove(queue);
            throw new InvalidOperationException($"vDisk '{vdisk.Name}' is already registered");
        }
        DirectorLog.VDiskRegistered(_log, vdisk.Name, vdisk.Id, vdisk.CapacityBytes);
        return handle;
    }

    public bool Unregister(string name)
    {
        if (!_byName.TryRemove(name, out var handle))
            return false;
        Scheduler.Remove(handle.Qos);
        return true;
    }

    /// <summary>
    /// Sets the QoS policy of a vDisk, at once if it is registered, and for when it is (a vDisk opened later
    /// gets it at registration). Throws <see cref="ArgumentException"/> for an invalid policy.
    /// </summary>
    public void SetPolicy(string name, QosPolicy policy)
    {
        if (policy.Validate() is { } error)
            throw new ArgumentException(error, nameof(policy));
        _policies[name] = policy;
        if (Resolve(name) is { } handle)
            Scheduler.SetPolicy(handle.Qos, policy);
        DirectorLog.PolicySet(_log, name, policy.Class, policy.Weight, policy.IopsLimit, policy.BandwidthLimit, policy.MaxOutstanding);
    }

    /// <summary>Limits every vDisk of a container shares (its IOPS and bandwidth limits and bursts; 0 = none).</summary>
    public void SetContainerLimits(string container, QosPolicy limits) => Scheduler.SetGroupLimits(container, limits);

    /// <summary>Records which container a vDisk lives in, so its requests draw on the container's limits too.</summary>
    public void AssignContainer(string vdisk, string container)
    {
        _containerOf[vdisk] = container;
        if (Resolve(vdisk) is { } handle)
            Scheduler.SetGroup(handle.Qos, container);
    }

    /// <summary>The policy a vDisk has or will get: the default when none was set.</summary>
    public QosPolicy PolicyOf(string name) => _policies.TryGetValue(name, out var p) ? p : QosPolicy.Default;

    /// <summary>The counters of one initiator or NFS client; no allocation once the client has been seen.</summary>
    internal ClientCounters ClientCounters(in IoContext context)
    {
        var key = new ClientKey(context.Protocol, context.Client ?? "");
        if (_clients.TryGetValue(key, out var counters))
            return counters;
        // Initiator port names change with every session (the ISID): past a bound, newcomers share one row.
        if (_clients.Count >= MaxClients)
            key = new ClientKey(context.Protocol, OtherClients);
        return _clients.GetOrAdd(key, static _ => new ClientCounters());
    }

    /// <summary>Clients counted one by one; the rest are counted together as <see cref="OtherClients"/>.</summary>
    public const int MaxClients = 1024;

    public const string OtherClients = "(others)";

    /// <summary>Counters of every initiator and client, sorted by protocol and name.</summary>
    public IReadOnlyList<ClientStats> ClientStats()
    {
        var list = new List<ClientStats>(_clients.Count);
        foreach (var (key, counters) in _clients)
            list.Add(counters.Snapshot(key.Protocol, key.Client));
        list.Sort((a, b) => a.Protocol != b.Protocol ? a.Protocol.CompareTo(b.Protocol) : string.CompareOrdinal(a.Client, b.Client));
        return list;
    }

    private readonly record struct ClientKey(IoProtocol Protocol, string Client);

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
        // Before the engine registers it, so it starts under its container's limits.
        bool known = _containerOf.ContainsKey(name);
        _containerOf[name] = container;
        IVDisk created;
        try
        {
            created = Provisioner.Create(container, name, capacityBytes, logicalBlockSize, thin);
        }
        catch when (!known)
        {
            _containerOf.TryRemove(name, out _);
            throw;
        }
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
        _policies.TryRemove(name, out _);
        _containerOf.TryRemove(name, out _);
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

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "vDisk {Name} QoS: class {Class}, weight {Weight}, IOPS limit {Iops}, bandwidth limit {Bandwidth} B/s, max outstanding {MaxOutstanding} (0 = none)")]
    public static partial void PolicySet(ILogger logger, string name, IoPriority @class, int weight, long iops, long bandwidth, int maxOutstanding);
}
