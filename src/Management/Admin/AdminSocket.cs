using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;

namespace StorageAppliance.Management.Admin;

// The admin API's Unix socket: checked, cleared of a stale file, and bound owner-only before it listens.
internal static class AdminSocket
{
    // unix(7): sun_path holds 108 bytes including the terminating NUL.
    public const int MaxPathBytes = 107;

    private static readonly TimeSpan s_probeTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Null when the path fits in sun_path, else why not.</summary>
    public static string? CheckPathLength(string path)
    {
        int bytes = Encoding.UTF8.GetByteCount(path);
        return bytes <= MaxPathBytes
            ? null
            : $"the admin socket path {path} is {bytes} bytes; a Unix socket path is at most {MaxPathBytes} (use a shorter data_dir)";
    }

    /// <summary>
    /// Makes the path free to bind: removes a socket file left by a crashed run, and refuses (with an
    /// <see cref="IOException"/> that says why) when a live appliance answers on it or the path is something else.
    /// </summary>
    public static async Task PrepareAsync(string path, ILogger log, CancellationToken cancellationToken)
    {
        if (CheckPathLength(path) is { } tooLong)
            throw new IOException(tooLong);
        if (Directory.Exists(path))
            throw new IOException($"the admin socket path {path} is a directory");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (!File.Exists(path))
            return;

        switch (await ProbeAsync(path, cancellationToken).ConfigureAwait(false))
        {
            case SocketError.Success:
            case SocketError.TimedOut:
                throw new IOException($"the admin socket {path} is in use: another appliance is running with this data directory (stop it, or start this one with another --data-dir)");
            case SocketError.AccessDenied:
                throw new IOException($"the admin socket {path} exists and cannot be checked (permission denied): is another user's appliance running there?");
        }
        // Nobody answers. connect(2) to a regular file fails the same way, so keep any file with content:
        // a socket file is always empty.
        if (new FileInfo(path).Length > 0)
            throw new IOException($"{path} exists and is not a socket; move it away so the admin API can listen there");
        File.Delete(path);
        ManagementLog.StaleSocketRemoved(log, path);
    }

    /// <summary>
    /// Kestrel's CreateBoundListenSocket: binds, then makes the socket file owner-only before Kestrel
    /// calls listen(2), so nobody else can connect in between (connect to a socket that is not listening is refused).
    /// </summary>
    public static Socket BindOwnerOnly(EndPoint endPoint)
    {
        Socket socket = SocketTransportOptions.CreateDefaultBoundListenSocket(endPoint);
        if (endPoint is UnixDomainSocketEndPoint && endPoint.ToString() is { Length: > 0 } path && !OperatingSystem.IsWindows())
        {
            try
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        return socket;
    }

    private static async Task<SocketError> ProbeAsync(string path, CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(s_probeTimeout);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), timeout.Token).ConfigureAwait(false);
            return SocketError.Success;
        }
        catch (SocketException e)
        {
            return e.SocketErrorCode;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // A live server with a full backlog; treat it as in use.
            return SocketError.TimedOut;
        }
    }
}
