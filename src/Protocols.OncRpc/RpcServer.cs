using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using Microsoft.Extensions.Logging;
using StorageAppliance.Common.Net;

namespace StorageAppliance.Protocols.OncRpc;

/// <summary>
/// Serves registered RPC programs over record-marked streams. Transport-free: tests drive it over
/// in-memory pipes and <see cref="RpcTcpListener"/> feeds it sockets. It owns what its connections
/// share: the connection limits, the budget of large record buffers, and the sweeper that closes
/// idle and stalled connections.
/// </summary>
public sealed class RpcServer : IDisposable
{
    private readonly ConcurrentDictionary<uint, IRpcProgram> _programs = new();
    private readonly ConcurrentDictionary<RpcConnection, byte> _connections = new();
    private readonly Timer _sweeper;
    private readonly ILogger _log;
    private readonly LogThrottle _timeoutLogs = new(TimeSpan.FromSeconds(5));
    private int _sweeping;

    public RpcServer(RpcServerOptions options, ILoggerFactory loggerFactory)
    {
        options.ValidateOrThrow();
        Options = options;
        LoggerFactory = loggerFactory;
        _log = loggerFactory.CreateLogger("StorageAppliance.OncRpc.Server");
        Gate = new ConnectionGate(options.MaxConnections, options.MaxConnectionsPerClient);
        Budget = new ReceiveBudget(options.MaxBufferedBytes);
        _sweeper = new Timer(static s => ((RpcServer)s!).Sweep(), this, options.SweepInterval, options.SweepInterval);
    }

    public RpcServerOptions Options { get; }

    public ILoggerFactory LoggerFactory { get; }

    public int ConnectionCount => _connections.Count;

    /// <summary>Connection limits (total, per client address); the TCP listener admits through it.</summary>
    public ConnectionGate Gate { get; }

    /// <summary>Bytes of large record buffers held by all connections.</summary>
    public ReceiveBudget Budget { get; }

    public void Register(IRpcProgram program)
    {
        if (!_programs.TryAdd(program.Program, program))
            throw new InvalidOperationException($"RPC program {program.Program} is already registered");
    }

    public IReadOnlyCollection<IRpcProgram> Programs => (IReadOnlyCollection<IRpcProgram>)_programs.Values;

    internal bool TryFind(uint program, out IRpcProgram handler) => _programs.TryGetValue(program, out handler!);

    /// <summary>Runs one connection to completion; the caller owns the transport.</summary>
    /// <param name="directSend">
    /// Optional: writes bytes straight to the transport's stream. Large replies (READ data) then skip
    /// the copy into the output pipe.
    /// </param>
    public Task RunConnectionAsync(IDuplexPipe transport, EndPoint? local, EndPoint? remote, Func<ReadOnlyMemory<byte>, ValueTask>? directSend = null)
    {
        var c = new RpcConnection(this, transport, local, remote, directSend);
        _connections[c] = 0;
        return c.RunAsync();
    }

    internal void Ended(RpcConnection c) => _connections.TryRemove(c, out _);

    /// <summary>The connections open now (tests and stats).</summary>
    public IReadOnlyCollection<RpcConnection> Connections => (IReadOnlyCollection<RpcConnection>)_connections.Keys;

    /// <summary>Closes connections past the idle or record timeout. Runs on a timer; one pass at a time.</summary>
    internal void Sweep()
    {
        if (Interlocked.Exchange(ref _sweeping, 1) == 1)
            return;
        try
        {
            long now = Environment.TickCount64;
            foreach (var c in _connections.Keys)
            {
                var verdict = c.CheckTimeouts(now, out long seconds);
                if (verdict == RpcConnection.Timeout.None)
                    continue;
                string reason = verdict switch
                {
                    RpcConnection.Timeout.Idle => $"idle for {seconds} s (no call in progress)",
                    RpcConnection.Timeout.Record => $"a record was started {seconds} s ago and is still not complete",
                    _ => $"the client has not taken a reply for {seconds} s",
                };
                // Idle closes are routine (clients reconnect); stalled records and replies are worth a line, but not one per connection in a flood.
                if (verdict != RpcConnection.Timeout.Idle && _timeoutLogs.ShouldLog(out long suppressed))
                    OncRpcLog.ConnectionTimedOut(_log, c.Id, c.Peer, reason, suppressed);
                c.Abort(reason);
            }
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
        }
    }

    public async Task ShutdownAsync(TimeSpan grace)
    {
        var all = new List<RpcConnection>(_connections.Keys);
        foreach (var c in all)
            c.Abort("closed by the server");
        var tasks = new List<Task>(all.Count);
        foreach (var c in all)
            tasks.Add(c.Completion);
        await Task.WhenAny(Task.WhenAll(tasks), Task.Delay(grace)).ConfigureAwait(false);
        _sweeper.Dispose();
    }

    public void Dispose() => _sweeper.Dispose();
}

/// <summary>
/// The bytes of large record buffers that all connections of a server may hold together. A connection
/// that cannot get more waits for a release (its partial record's timeout still runs), so a few
/// clients sending half records cannot take the memory that others need to make progress.
/// </summary>
public sealed class ReceiveBudget
{
    private readonly object _lock = new();
    private long _used;
    private TaskCompletionSource? _released;

    public ReceiveBudget(long limit) => Limit = limit;

    public long Limit { get; }

    public long Used => Interlocked.Read(ref _used);

    public bool TryReserve(int bytes)
    {
        lock (_lock)
        {
            if (_used + bytes > Limit)
                return false;
            _used += bytes;
            return true;
        }
    }

    public void Release(int bytes)
    {
        TaskCompletionSource? wake;
        lock (_lock)
        {
            _used -= bytes;
            wake = _released;
            _released = null;
        }
        wake?.TrySetResult();
    }

    /// <summary>Completes at the next release.</summary>
    public Task WaitForReleaseAsync()
    {
        lock (_lock)
        {
            _released ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _released.Task;
        }
    }
}
