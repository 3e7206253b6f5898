using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StorageAppliance.Director;
using StorageAppliance.Protocols.Nfs.Mount;
using StorageAppliance.Protocols.Nfs.Namespace;
using StorageAppliance.Protocols.Nfs.Nfs3;
using StorageAppliance.Protocols.OncRpc;
using StorageAppliance.Protocols.OncRpc.Portmapper;

namespace StorageAppliance.Protocols.Nfs;

/// <summary>
/// The NFS front end as a hosted service: opens the namespace, serves NFSv3 and MOUNT v3 over TCP,
/// makes them findable through the portmapper, and writes attributes changed by UNSTABLE writes in the
/// background. Stopping writes what is pending and closes the namespace.
/// </summary>
public sealed class NfsService : IHostedService, IAsyncDisposable
{
    private readonly NfsServerOptions _options;
    private readonly Func<IVDiskProvisioner> _provisioner;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _log;
    private RpcTcpListener? _listener;
    private PortmapperHost? _portmapper;
    private CancellationTokenSource? _flushStop;
    private Task? _flushLoop;

    public NfsService(NfsServerOptions options, IVDiskProvisioner provisioner, ILoggerFactory loggerFactory)
        : this(options, () => provisioner, loggerFactory)
    {
    }

    /// <summary>
    /// With the provisioner looked up when the service starts, not when it is built: in a host the
    /// storage engine behind it only exists once the storage service (started before) has opened it.
    /// </summary>
    public NfsService(NfsServerOptions options, Func<IVDiskProvisioner> provisioner, ILoggerFactory loggerFactory)
    {
        _options = options;
        _provisioner = provisioner;
        _loggerFactory = loggerFactory;
        _log = loggerFactory.CreateLogger("StorageAppliance.Nfs");
    }

    public NfsFileSystem? FileSystem { get; private set; }

    public Nfs3Program? Nfs { get; private set; }

    public MountProgram? Mount { get; private set; }

    public RpcServer? Server { get; private set; }

    /// <summary>Where NFS is served (the real port when the options said 0).</summary>
    public IPEndPoint? NfsEndPoint { get; private set; }

    /// <summary>Where MOUNT is served (also on the NFS port).</summary>
    public IPEndPoint? MountEndPoint { get; private set; }

    /// <summary>Every endpoint listened on: NFS and MOUNT on each address of the options.</summary>
    public IReadOnlyList<IPEndPoint> EndPoints { get; private set; } = [];

    public PortmapperHost? Portmapper => _portmapper;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _options.ValidateOrThrow();
        INamespaceStore store;
        string where;
        if (_options.InMemoryNamespace)
        {
            store = new InMemoryNamespaceStore();
            where = "memory";
        }
        else
        {
            where = Path.Combine(_options.DataDir, "nfs-namespace.db");
            store = new SqliteNamespaceStore(where);
        }
        ulong verifier = (ulong)Random.Shared.NextInt64() ^ (ulong)DateTime.UtcNow.Ticks;
        NfsLog.NamespaceOpened(_log, where, verifier);
        FileSystem = new NfsFileSystem(_options, store, _provisioner(), _log);
        Nfs = new Nfs3Program(FileSystem, verifier, _log);
        Mount = new MountProgram(FileSystem, _log);
        var transport = _options.Transport;
        Server = new RpcServer(new RpcServerOptions
        {
            MaxRecordSize = transport.MaxRecordSize,
            MaxFragmentsPerRecord = transport.MaxFragmentsPerRecord,
            MaxOutstandingCalls = _options.MaxOutstandingCallsPerConnection,
            MaxConnections = transport.MaxConnections,
            MaxConnectionsPerClient = transport.MaxConnectionsPerClient,
            IdleTimeout = transport.IdleTimeout,
            RecordTimeout = transport.RecordTimeout,
            MaxBufferedBytesPerConnection = transport.MaxBufferedBytesPerConnection,
            MaxBufferedBytes = transport.MaxBufferedBytes,
            SweepInterval = transport.SweepInterval,
        }, _loggerFactory);
        Server.Register(Nfs);
        Server.Register(Mount);
        _listener = new RpcTcpListener(Server, _loggerFactory);
        var endPoints = new List<IPEndPoint>();
        IPEndPoint current = _options.Listen;
        try
        {
            NfsEndPoint = _listener.Listen(current);
            endPoints.Add(NfsEndPoint);
            MountEndPoint = NfsEndPoint;
            if (_options.MountPort is int mp && mp != NfsEndPoint.Port)
            {
                current = new IPEndPoint(_options.Listen.Address, mp);
                MountEndPoint = _listener.Listen(current);
                endPoints.Add(MountEndPoint);
            }
            // The other addresses serve both programs on the same port numbers as the first, so one
            // portmapper answer (and one ?nfsport=&mountport= pair) is right for every address.
            foreach (var extra in _options.AdditionalListen)
            {
                current = extra;
                var nfs = _listener.Listen(extra);
                endPoints.Add(nfs);
                if (MountEndPoint.Port != nfs.Port)
                {
                    current = new IPEndPoint(extra.Address, MountEndPoint.Port);
                    endPoints.Add(_listener.Listen(current));
                }
            }
        }
        catch (System.Net.Sockets.SocketException e)
        {
            await _listener.DisposeAsync().ConfigureAwait(false);
            _listener = null;
            CloseFileSystem();
            string reason = e.SocketErrorCode == System.Net.Sockets.SocketError.AddressAlreadyInUse ? "the address is already in use" : e.Message;
            throw new IOException($"NFS cannot listen on {current}: {reason}", e);
        }
        EndPoints = endPoints;

        _portmapper = new PortmapperHost(_loggerFactory);
        await _portmapper.StartAsync(_options.Portmapper, new IPEndPoint(_options.Listen.Address, _options.PortmapperPort),
        [
            (Nfs3Constants.Program, 3u, NfsEndPoint),
            (MountProgram.ProgramNumber, 3u, MountEndPoint),
        ]).ConfigureAwait(false);
        if (_options.Portmapper is PortmapperMode.Embedded or PortmapperMode.System && _portmapper.ActiveMode != _options.Portmapper)
        {
            // Asked for by name, so clients depend on it: stop rather than serve ports nobody can find.
            await _portmapper.DisposeAsync().ConfigureAwait(false);
            _portmapper = null;
            await _listener.DisposeAsync().ConfigureAwait(false);
            _listener = null;
            CloseFileSystem();
            throw new IOException(_options.Portmapper == PortmapperMode.Embedded
                ? $"nfs.portmapper is embedded but port {_options.PortmapperPort} on {_options.Listen.Address} cannot be bound (in use, or binding a port below 1024 needs root or CAP_NET_BIND_SERVICE); use auto, system or off"
                : $"nfs.portmapper is system but no rpcbind answers on 127.0.0.1:{_options.PortmapperPort}; start rpcbind, or use auto, embedded or off");
        }

        _flushStop = new CancellationTokenSource();
        _flushLoop = FlushLoopAsync(_flushStop.Token);
        var exports = new List<string>();
        foreach (var e in FileSystem.Exports)
            exports.Add($"{e.Path} ({(e.ReadOnly ? "ro" : "rw")}, container {e.Options.Container}{(e.Options.RootSquash ? "" : ", no_root_squash")})");
        string pm = _portmapper.ActiveMode switch
        {
            PortmapperMode.Embedded => "embedded on " + _portmapper.EmbeddedEndPoint,
            PortmapperMode.System => "registered with the system rpcbind",
            _ => "none (clients need ?nfsport=" + NfsEndPoint.Port + "&mountport=" + MountEndPoint.Port + ")",
        };
        NfsLog.Started(_log, NfsEndPoint.ToString(), MountEndPoint.ToString(), exports.Count == 0 ? "none" : string.Join("; ", exports), pm);
    }

    private async Task FlushLoopAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(_options.AttributeFlushInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                try
                {
                    FileSystem?.FlushDirtyAttributes();
                }
                catch (Exception e)
                {
                    NfsLog.FlushFailed(_log, e.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_listener is not null)
            await _listener.StopAsync(TimeSpan.FromSeconds(3)).ConfigureAwait(false);
        if (_portmapper is not null)
            await _portmapper.StopAsync().ConfigureAwait(false);
        if (_flushStop is not null)
        {
            _flushStop.Cancel();
            await _flushLoop!.ConfigureAwait(false);
        }
        if (FileSystem is not null)
        {
            int n = FileSystem.FlushDirtyAttributes();
            FileSystem.Dispose();
            FileSystem = null;
            NfsLog.Stopped(_log, n);
        }
    }

    private void CloseFileSystem()
    {
        FileSystem?.Dispose();
        FileSystem = null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_listener is not null)
            await _listener.DisposeAsync().ConfigureAwait(false);
        if (_portmapper is not null)
            await _portmapper.DisposeAsync().ConfigureAwait(false);
    }
}
