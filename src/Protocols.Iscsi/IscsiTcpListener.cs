using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace StorageAppliance.Protocols.Iscsi;

/// <summary>
/// Accepts TCP connections on the configured portals and hands each to the <see cref="IscsiServer"/>.
/// Runs as a hosted service; stopping it asks initiators to log out, then closes.
/// </summary>
public sealed class IscsiTcpListener : IHostedService, IAsyncDisposable
{
    private readonly IscsiServer _server;
    private readonly ILogger _log;
    private readonly List<Socket> _listeners = new();
    private readonly List<Task> _acceptLoops = new();
    private readonly CancellationTokenSource _stopping = new();

    public IscsiTcpListener(IscsiServer server, ILoggerFactory loggerFactory)
    {
        _server = server;
        _log = loggerFactory.CreateLogger("StorageAppliance.Iscsi.Listener");
    }

    /// <summary>The endpoints actually bound (port 0 in the config becomes a real port).</summary>
    public IReadOnlyList<IPEndPoint> BoundEndPoints => _listeners.Select(s => (IPEndPoint)s.LocalEndPoint!).ToList();

    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var ep in _server.Options.Listen)
        {
            var socket = new Socket(ep.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                if (ep.AddressFamily == AddressFamily.InterNetworkV6)
                    socket.DualMode = ep.Address.Equals(IPAddress.IPv6Any);
                socket.Bind(ep);
                socket.Listen(512);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                throw new IOException($"iSCSI cannot listen on {ep}: {e.Message}", e);
            }
            _listeners.Add(socket);
            var bound = (IPEndPoint)socket.LocalEndPoint!;
            _server.AddBoundPortal(bound);
            IscsiLog.Listening(_log, bound.ToString());
            _acceptLoops.Add(AcceptLoopAsync(socket));
        }
        return Task.CompletedTask;
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
                IscsiLog.AcceptFailed(_log, e.Message);
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
        var transport = new DuplexPipe(reader, writer);
        try
        {
            await _server.RunConnectionAsync(transport, client.LocalEndPoint, client.RemoteEndPoint).ConfigureAwait(false);
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

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping.Cancel();
        foreach (var s in _listeners)
            s.Dispose();
        await _server.ShutdownAsync(TimeSpan.FromSeconds(3)).ConfigureAwait(false);
        await Task.WhenAll(_acceptLoops).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync()
    {
        _stopping.Cancel();
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
