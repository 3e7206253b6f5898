using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using Microsoft.Extensions.Logging;

namespace StorageAppliance.Protocols.Iscsi;

/// <summary>
/// The iSCSI target portal group: its target nodes, sessions and connections. Transport-free, so tests
/// drive it over in-memory pipes; <see cref="IscsiTcpListener"/> feeds it sockets.
/// </summary>
public sealed class IscsiServer
{
    private readonly ConcurrentDictionary<string, IscsiTargetNode> _targets = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<IscsiConnection, byte> _connections = new();
    private readonly List<IPEndPoint> _boundPortals = new();
    private readonly ILogger _log;

    public IscsiServer(IscsiServerOptions options, ILoggerFactory loggerFactory)
    {
        Options = options;
        LoggerFactory = loggerFactory;
        _log = loggerFactory.CreateLogger("StorageAppliance.Iscsi");
    }

    public IscsiServerOptions Options { get; }

    public ILoggerFactory LoggerFactory { get; }

    internal SessionRegistry Sessions { get; } = new();

    public IReadOnlyCollection<IscsiTargetNode> Targets => (IReadOnlyCollection<IscsiTargetNode>)_targets.Values;

    public int ConnectionCount => _connections.Count;

    public int SessionCount => Sessions.Snapshot().Count;

    public void AddTarget(IscsiTargetNode node)
    {
        if (!_targets.TryAdd(node.Name, node))
            throw new InvalidOperationException($"target {node.Name} already exists");
        node.Scsi.AbortTasksRequested += request => AbortTasksOf(node, request);
    }

    /// <summary>
    /// PERSISTENT RESERVE OUT with PREEMPT AND ABORT: the preempted nexuses' tasks at the unit end as CLEAR TASK
    /// SET ends them (no response; the Control mode page has TAS=0), and the SCSI layer waits for them.
    /// </summary>
    private void AbortTasksOf(IscsiTargetNode node, Protocols.Scsi.TaskAbortRequest request)
    {
        var waits = new List<Task>();
        foreach (var c in ConnectionsOf(node))
            if (c.Session?.Nexus is { } nexus && request.Contains(nexus))
                c.AbortTasksWhere(t => t.Scsi.Lun == request.Lun, waits);
        if (waits.Count > 0)
            request.Track(Task.WhenAll(waits));
    }

    public IscsiTargetNode? FindTarget(string name) => _targets.TryGetValue(name, out var t) ? t : null;

    /// <summary>Records the addresses the listener actually bound (for SendTargets).</summary>
    public void AddBoundPortal(IPEndPoint endPoint)
    {
        lock (_boundPortals)
            _boundPortals.Add(endPoint);
    }

    /// <summary>Portals to report in SendTargets: the bound ones, with a wildcard replaced by the address the initiator reached.</summary>
    internal IEnumerable<IPEndPoint> PortalsFor(EndPoint? local)
    {
        List<IPEndPoint> portals;
        lock (_boundPortals)
            portals = new List<IPEndPoint>(_boundPortals);
        if (portals.Count == 0 && local is IPEndPoint l)
            portals.Add(l);
        foreach (var p in portals)
        {
            if ((p.Address.Equals(IPAddress.Any) || p.Address.Equals(IPAddress.IPv6Any)) && local is IPEndPoint reached)
                yield return new IPEndPoint(reached.Address.IsIPv4MappedToIPv6 ? reached.Address.MapToIPv4() : reached.Address, p.Port);
            else
                yield return p;
        }
    }

    /// <summary>Runs one connection to completion. The caller owns the transport's lifetime.</summary>
    public Task RunConnectionAsync(IDuplexPipe transport, EndPoint? local, EndPoint? remote)
    {
        var connection = new IscsiConnection(this, transport, local, remote);
        _connections[connection] = 0;
        return connection.RunAsync();
    }

    internal void ConnectionEnded(IscsiConnection connection) => _connections.TryRemove(connection, out _);

    internal IEnumerable<IscsiConnection> ConnectionsOf(IscsiTargetNode target)
    {
        foreach (var c in _connections.Keys)
            if (ReferenceEquals(c.Session?.Target, target))
                yield return c;
    }

    /// <summary>A session is gone: its I_T nexus ends at every logical unit.</summary>
    internal void EndSession(IscsiSession session)
    {
        Sessions.Remove(session);
        if (session.Nexus is not null && session.Target is not null)
            session.Target.Scsi.RemoveNexus(session.Nexus);
    }

    /// <summary>
    /// Graceful stop: asks every logged-in initiator to log out (Async Message), waits up to
    /// <paramref name="grace"/> for them, then closes what is left.
    /// </summary>
    public async Task ShutdownAsync(TimeSpan grace)
    {
        var connections = new List<IscsiConnection>(_connections.Keys);
        if (connections.Count == 0)
            return;
        IscsiLog.ShuttingDown(_log, connections.Count, (int)grace.TotalSeconds);
        ushort seconds = (ushort)Math.Max(1, grace.TotalSeconds);
        foreach (var c in connections)
            c.RequestLogout(seconds);
        var all = Task.WhenAll(connections.Select(c => c.Completion));
        await Task.WhenAny(all, Task.Delay(grace)).ConfigureAwait(false);
        foreach (var c in _connections.Keys)
            c.Abort("appliance shutting down");
        await Task.WhenAny(Task.WhenAll(connections.Select(c => c.Completion)), Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
    }
}
