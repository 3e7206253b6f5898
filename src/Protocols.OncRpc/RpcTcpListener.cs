using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace StorageAppliance.Protocols.OncRpc;

/// <summary>
/// Accepts TCP connections on endpoints and hands each to an <see cref="RpcServer"/>. The front end's
/// hosted service owns it (the NFS service binds the NFS port, the MOUNT port and perhaps port 111).
/// </summary>
public sealed class RpcTcpListener : IAsyncDisposable
{
    private readonly RpcServer _server;
    private readonly ILogger _log;
    private readonly List<Socket> _listeners = new();
    private readonly List<Task> _acceptLoops = new();
    private readonly CancellationTokenSource _stopping = new();

    public RpcTcpListener(RpcServer server, ILoggerFactory loggerFactory)
    {
        _server = server;
        _log = loggerFactory.CreateLogger("StorageAppliance.OncRpc.Listener");
    }

    public IReadOnlyList<IPEndPoint> BoundEndPoints
    {
        get
        {
            var list = new List<IPEndPoint>();
            lock (_listeners)
                foreach (var s in _listeners)
                    list.Add((IPEndPoint)s.LocalEndPoint!);
            return list;
        }
    }

    /// <summary>Binds and starts accepting; throws <see cref="SocketException"/> when the endpoint cannot be bound.</summary>
    public IPEndPoint Listen(IPEndPoint endPoint, bool logListening = true)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // No ReuseAddress: on Linux .NET maps it to SO_REUSEPORT too, which would let a second server
            // bind the same port silently. (Rebinding over TIME_WAIT works without it.)
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
                socket.DualMode = endPoint.Address.Equals(IPAddress.IPv6Any);
            socket.Bind(endPoint);
            socket.Listen(512);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        lock (_listeners)
            _listeners.Add(socket);
        var bound = (IPEndPoint)socket.LocalEndPoint!;
        if (logListening)
        {
            var names = new List<string>();
            foreach (var p in _server.Programs)
                names.Add(p.Name);
            names.Sort(StringComparer.Ordinal);
            OncRpcLog.Listening(_log, string.Join(", ", names), bound.ToString());
        }
        _acceptLoops.Add(AcceptLoopAsync(socket));
        return bound;
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                OncRpcLog.AcceptFailed(_log, e.Message);
                continue;
            }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        client.NoDelay = true;
        var stream = new NetworkStream(client, ownsSocket: true);
        var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 256 * 1024, minimumReadSize: 64 * 1024, leaveOpen: true));
        var writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: 64 * 1024, leaveOpen: true));
        try
        {
            await _server.RunConnectionAsync(new DuplexPipe(reader, writer), client.LocalEndPoint, client.RemoteEndPoint, m => stream.WriteAsync(m)).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            OncRpcLog.AcceptFailed(_log, e.Message);
        }
        finally
        {
            try
            {
                client.Shutdown(SocketShutdown.Both);
            }
            catch (Exception)
            {
            }
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async Task StopAsync(TimeSpan grace)
    {
        _stopping.Cancel();
        lock (_listeners)
            foreach (var s in _listeners)
                s.Dispose();
        await _server.ShutdownAsync(grace).ConfigureAwait(false);
        await Task.WhenAll(_acceptLoops).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        lock (_listeners)
            foreach (var s in _listeners)
                s.Dispose();
        return ValueTask.CompletedTask;
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
