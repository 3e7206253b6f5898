using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using Microsoft.Extensions.Logging;

namespace StorageAppliance.Protocols.OncRpc;

/// <summary>
/// Serves registered RPC programs over record-marked streams. Transport-free: tests drive it over
/// in-memory pipes and <see cref="RpcTcpListener"/> feeds it sockets.
/// </summary>
public sealed class RpcServer
{
    private readonly ConcurrentDictionary<uint, IRpcProgram> _programs = new();
    private readonly ConcurrentDictionary<RpcConnection, byte> _connections = new();

    public RpcServer(RpcServerOptions options, ILoggerFactory loggerFactory)
    {
        Options = options;
        LoggerFactory = loggerFactory;
    }

    public RpcServerOptions Options { get; }

    public ILoggerFactory LoggerFactory { get; }

    public int ConnectionCount => _connections.Count;

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

    public async Task ShutdownAsync(TimeSpan grace)
    {
        var all = new List<RpcConnection>(_connections.Keys);
        foreach (var c in all)
            c.Abort();
        var tasks = new List<Task>(all.Count);
        foreach (var c in all)
            tasks.Add(c.Completion);
        await Task.WhenAny(Task.WhenAll(tasks), Task.Delay(grace)).ConfigureAwait(false);
    }
}
