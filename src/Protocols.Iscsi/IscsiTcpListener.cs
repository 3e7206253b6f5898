using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StorageAppliance.Common.Net;

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
    private readonly ConnectionGate _gate;
    // One throttle per limit, so a burst refused per client does not hide that the total limit is reached too.
    private readonly LogThrottle _totalRefusals = new(TimeSpan.FromSeconds(5));
    private readonly LogThrottle _clientRefusals = new(TimeSpan.FromSeconds(5));
    private readonly LogThrottle _fdRefusals = new(TimeSpan.FromSeconds(5));

    public IscsiTcpListener(IscsiServer server, ILoggerFactory loggerFactory)
    {
        _server = server;
        _log = loggerFactory.CreateLogger("StorageAppliance.Iscsi.Listener");
        var errors = server.Options.ValidateListener();
        if (errors.Count > 0)
            throw new InvalidOperationException("invalid iSCSI configuration:" + Environment.NewLine + "  " + string.Join(Environment.NewLine + "  ", errors));
        _gate = new ConnectionGate(server.Options.ConnectionLimit, server.Options.ConnectionLimitPerClient);
    }

    /// <summary>Connections served now (tests and stats).</summary>
    public int ConnectionCount => _gate.Count;

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

    /// <summary>
    /// Accepts until stopped. Errors (descriptors exhausted above all) are retried with a bounded
    /// exponential back-off and logged once per episode; a connection past the limits is closed at once
    /// after accept with a rate-limited line naming the limit.
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
                    IscsiLog.AcceptFailing(_log, endPoint, e.Message, (int)AcceptBackoff.MaxDelay.TotalMilliseconds);
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
                IscsiLog.AcceptRecovered(_log, endPoint, failures, lasted.TotalSeconds);
            IPAddress? address = AcceptedSocket.ClientAddress(client);
            if (DescriptorHeadroom.IsLow(out long open, out long fdLimit))
            {
                if (_fdRefusals.ShouldLog(out long suppressed))
                    IscsiLog.DescriptorsLow(_log, endPoint, address?.ToString() ?? "?", open, fdLimit, DescriptorHeadroom.Reserve(fdLimit), suppressed);
                AcceptedSocket.Refuse(client);
                continue;
            }
            var admission = _gate.TryAdmit(address);
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
                ? $"the target has its limit of {_gate.MaxTotal} connections (iscsi.connection_limit)"
                : $"{address} has its limit of {_gate.MaxPerClient} connections (iscsi.connection_limit_per_client)";
            IscsiLog.ConnectionRefused(_log, endPoint, address?.ToString() ?? "?", limit, suppressed);
        }
        AcceptedSocket.Refuse(client);
    }

    private async Task ServeAsync(Socket client, IPAddress? address)
    {
        NetworkStream? stream = null;
        try
        {
            client.NoDelay = true;
            stream = new NetworkStream(client, ownsSocket: true);
            // Zero-byte reads: a quiet connection holds no receive buffer while it waits for data.
            var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 256 * 1024, minimumReadSize: 64 * 1024, leaveOpen: true, useZeroByteReads: true));
            var writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: 64 * 1024, leaveOpen: true));
            var transport = new DuplexPipe(reader, writer);
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
            if (stream is not null)
                await stream.DisposeAsync().ConfigureAwait(false);
            else
                client.Dispose();
            _gate.Release(address);
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
