using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.OncRpc.Portmapper;

/// <summary>
/// Makes a front end's programs findable: either an embedded portmapper/rpcbind on port 111 (served by
/// its own <see cref="RpcServer"/>), or registrations with the system rpcbind, removed again on stop.
/// Never fails start-up: when neither works it says so in the log, and clients need explicit ports.
/// </summary>
public sealed class PortmapperHost : IAsyncDisposable
{
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _log;
    private readonly List<(uint Program, uint Version, int Port)> _systemRegistrations = new();
    private RpcTcpListener? _listener;
    private IPEndPoint _systemEndPoint = new(IPAddress.Loopback, 111);

    public PortmapperHost(ILoggerFactory loggerFactory)
    {
        _loggerFactory = loggerFactory;
        _log = loggerFactory.CreateLogger("StorageAppliance.OncRpc.Portmapper");
    }

    public PortmapRegistry Registry { get; } = new();

    /// <summary>What was set up: Embedded, System, or Off (when nothing could be).</summary>
    public PortmapperMode ActiveMode { get; private set; } = PortmapperMode.Off;

    /// <summary>The embedded portmapper's endpoint, when one runs.</summary>
    public IPEndPoint? EmbeddedEndPoint { get; private set; }

    /// <summary>
    /// Starts in <paramref name="mode"/> and registers <paramref name="services"/> (program, version, TCP port).
    /// </summary>
    public async Task StartAsync(PortmapperMode mode, IPEndPoint portmapEndPoint, IReadOnlyList<(uint Program, uint Version, IPEndPoint EndPoint)> services)
    {
        _systemEndPoint = new IPEndPoint(IPAddress.Loopback, portmapEndPoint.Port);
        foreach (var s in services)
            Registry.RegisterTcp(s.Program, s.Version, s.EndPoint);
        if (mode == PortmapperMode.Off)
        {
            OncRpcLog.PortmapperOff(_log);
            return;
        }
        if (mode is PortmapperMode.Auto or PortmapperMode.System)
        {
            if (await PingAsync(_systemEndPoint).ConfigureAwait(false))
            {
                ActiveMode = PortmapperMode.System;
                foreach (var s in services)
                    await RegisterWithSystemAsync(s.Program, s.Version, s.EndPoint.Port).ConfigureAwait(false);
                return;
            }
            if (mode == PortmapperMode.System)
            {
                OncRpcLog.RegistrationFailed(_log, "all programs", 0, _systemEndPoint.ToString(), "no rpcbind answers there");
                return;
            }
        }
        var server = new RpcServer(new RpcServerOptions { MaxRecordSize = 64 * 1024, MaxOutstandingCalls = 16, MaxConnections = 256, MaxConnectionsPerClient = 32, MaxBufferedBytesPerConnection = 1 << 20, MaxBufferedBytes = 16 << 20 }, _loggerFactory);
        server.Register(new PortmapProgram(Registry));
        var listener = new RpcTcpListener(server, _loggerFactory);
        try
        {
            EmbeddedEndPoint = listener.Listen(portmapEndPoint, logListening: false);
            // rpcbind lists itself (rpcinfo -p asks for program 100000's own port first).
            for (uint v = 2; v <= 4; v++)
                Registry.RegisterTcp(PortmapProgram.ProgramNumber, v, EmbeddedEndPoint, "superuser");
            _listener = listener;
            ActiveMode = PortmapperMode.Embedded;
            OncRpcLog.PortmapperListening(_log, EmbeddedEndPoint.ToString());
        }
        catch (SocketException e)
        {
            await listener.DisposeAsync().ConfigureAwait(false);
            OncRpcLog.PortmapperBindFailed(_log, portmapEndPoint.ToString(), e.SocketErrorCode == SocketError.AccessDenied ? "permission denied: binding a port below 1024 needs root or CAP_NET_BIND_SERVICE" : e.Message);
        }
    }

    /// <summary>True when something answers the portmapper's NULL procedure there.</summary>
    public static async Task<bool> PingAsync(IPEndPoint endPoint)
    {
        try
        {
            await using var c = await RpcTcpClient.ConnectAsync(endPoint, TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            c.AuthSys = false;
            var reply = await c.CallAsync(PortmapProgram.ProgramNumber, 2, 0, ReadOnlyMemory<byte>.Empty, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            return reply.Stat == ReplyStat.Accepted && reply.AcceptStat == AcceptStat.Success;
        }
        catch (Exception)
        {
            return false;
        }
    }

    private async Task RegisterWithSystemAsync(uint program, uint version, int port)
    {
        try
        {
            await using var c = await RpcTcpClient.ConnectAsync(_systemEndPoint, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            // Replace whatever an earlier run left behind, then set (PMAPPROC_UNSET, PMAPPROC_SET; RFC 1833 section 3.2).
            await c.CallAsync(PortmapProgram.ProgramNumber, 2, 2, Mapping(program, version, 6, 0)).ConfigureAwait(false);
            var reply = await c.CallAsync(PortmapProgram.ProgramNumber, 2, 1, Mapping(program, version, 6, (uint)port)).ConfigureAwait(false);
            bool ok = reply.Stat == ReplyStat.Accepted && reply.AcceptStat == AcceptStat.Success && reply.Results.Length >= 4 && reply.Results[3] == 1;
            if (ok)
            {
                _systemRegistrations.Add((program, version, port));
                OncRpcLog.RegisteredWithSystem(_log, ProgramName(program), version, port, _systemEndPoint.ToString());
            }
            else
            {
                OncRpcLog.RegistrationFailed(_log, ProgramName(program), version, _systemEndPoint.ToString(), "rpcbind refused the mapping");
            }
        }
        catch (Exception e)
        {
            OncRpcLog.RegistrationFailed(_log, ProgramName(program), version, _systemEndPoint.ToString(), e.Message);
        }
    }

    private static string ProgramName(uint program) => program switch
    {
        100003 => "nfs",
        100005 => "mount",
        _ => program.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private static byte[] Mapping(uint program, uint version, uint protocol, uint port)
    {
        var b = new byte[16];
        var w = new XdrWriter(b);
        w.WriteUInt32(program);
        w.WriteUInt32(version);
        w.WriteUInt32(protocol);
        w.WriteUInt32(port);
        return b;
    }

    public async Task StopAsync()
    {
        if (_listener is not null)
            await _listener.StopAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        foreach (var (program, version, _) in _systemRegistrations)
        {
            try
            {
                await using var c = await RpcTcpClient.ConnectAsync(_systemEndPoint, TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                await c.CallAsync(PortmapProgram.ProgramNumber, 2, 2, Mapping(program, version, 6, 0), TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            }
            catch (Exception)
            {
            }
        }
        _systemRegistrations.Clear();
    }

    public async ValueTask DisposeAsync()
    {
        if (_listener is not null)
            await _listener.DisposeAsync().ConfigureAwait(false);
    }
}
