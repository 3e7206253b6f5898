using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using StorageAppliance.Common.Net;

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
    // One throttle per limit, so a burst refused per client does not hide that the total limit is reached too.
    private readonly LogThrottle _totalRefusals = new(TimeSpan.FromSeconds(5));
    private readonly LogThrottle _clientRefusals = new(TimeSpan.FromSeconds(5));
    private readonly LogThrottle _fdRefusals = new(TimeSpan.FromSeconds(5));
    private string? _programNames;

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

    /// <summary>
    /// Accepts until stopped. Errors (descriptors exhausted above all) are retried with a bounded
    /// exponential back-off and logged once per episode, not once per failure; a connection past the
    /// server's limits is closed at once after accept, with a rate-limited line saying which limit.
    /// </summary>
    private async Task AcceptLoopAsync(Socket listener)
    {
        var backoff = new AcceptBackoff();
        string endPoint = listener.LocalEndPoint?.ToString() ?? "?";
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
                TimeSpan delay = backoff.Failed(out bool episodeStarted);
                if (episodeStarted)
                    OncRpcLog.AcceptFailing(_log, ProgramNames(), endPoint, e.Message, (int)AcceptBackoff.MaxDelay.TotalMilliseconds);
                try
                {
                    await Task.Delay(delay, _stopping.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }
            if (backoff.Succeeded(out long failures, out TimeSpan lasted))
                OncRpcLog.AcceptRecovered(_log, ProgramNames(), endPoint, failures, lasted.TotalSeconds);
            IPAddress? address = AcceptedSocket.ClientAddress(client);
            if (DescriptorHeadroom.IsLow(out long open, out long fdLimit))
            {
                if (_fdRefusals.ShouldLog(out long suppressed))
                    OncRpcLog.DescriptorsLow(_log, ProgramNames(), endPoint, address?.ToString() ?? "?", open, fdLimit, DescriptorHeadroom.Reserve(fdLimit), suppressed);
                AcceptedSocket.Refuse(client);
                continue;
            }
            var admission = _server.Gate.TryAdmit(address);
            if (admission != Admission.Admitted)
            {
                Refuse(client, address, admission, endPoint);
                continue;
            }
            _ = ServeAsync(client, address);
        }
    }

    private void Refuse(Socket client, IPAddress? address, Admission admission, string endPoint)
    {
        var throttle = admission == Admission.TotalLimit ? _totalRefusals : _clientRefusals;
        if (throttle.ShouldLog(out long suppressed))
        {
            string limit = admission == Admission.TotalLimit
                ? $"the server has its limit of {_server.Gate.MaxTotal} connections (connection_limit)"
                : $"{address} has its limit of {_server.Gate.MaxPerClient} connections (connection_limit_per_client)";
            OncRpcLog.ConnectionRefused(_log, ProgramNames(), endPoint, address?.ToString() ?? "?", limit, suppressed);
        }
        AcceptedSocket.Refuse(client);
    }

    private string ProgramNames()
    {
        if (_programNames is null)
        {
            var names = new List<string>();
            foreach (var p in _server.Programs)
                names.Add(p.Name);
            names.Sort(StringComparer.Ordinal);
            _programNames = string.Join(", ", names);
        }
        return _programNames;
    }

    private async Task ServeAsync(Socket client, IPAddress? address)
    {
        NetworkStream? stream = null;
        try
        {
            client.NoDelay = true;
            stream = new NetworkStream(client, ownsSocket: true);
            // Zero-byte reads: an idle connection holds no receive buffer while it waits for data, so
            // thousands of open, quiet connections cost descriptors, not megabytes.
            var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 256 * 1024, minimumReadSize: 64 * 1024, leaveOpen: true, useZeroByteReads: true));
            var writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: 64 * 1024, leaveOpen: true));
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
            if (stream is not null)
                await stream.DisposeAsync().ConfigureAwait(false);
            else
                client.Dispose();
            _server.Gate.Release(address);
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
