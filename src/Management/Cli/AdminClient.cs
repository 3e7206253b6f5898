using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using StorageAppliance.Management.Admin;

namespace StorageAppliance.Management.Cli;

/// <summary>The appliance answered, but not as the API says it would (HTTP 500, a body that is not the API's).</summary>
public sealed class AdminProtocolException(string message) : Exception(message);

/// <summary>
/// Talks to a running appliance over its admin socket. Each method mirrors <see cref="IApplianceAdmin"/>
/// and throws <see cref="AdminException"/> for a refusal (with the appliance's reason), or
/// <see cref="AdminError.Unavailable"/> when nothing answers on the socket.
/// </summary>
public sealed class AdminClient : IDisposable
{
    private readonly HttpClient _http;

    /// <param name="socketPath">As the user gave it; a relative path is relative to the current directory.</param>
    public AdminClient(string socketPath)
    {
        SocketPath = socketPath;
        _http = CreateHttpClient(socketPath);
    }

    public string SocketPath { get; }

    /// <summary>An HttpClient whose every connection goes to the Unix socket; the host name in URLs is ignored.</summary>
    public static HttpClient CreateHttpClient(string socketPath)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        // Thick provisioning of a large vDisk takes as long as it takes; Ctrl-C ends the wait.
        return new HttpClient(handler) { BaseAddress = new Uri("http://appliance/"), Timeout = Timeout.InfiniteTimeSpan };
    }

    public Task<IReadOnlyList<VDiskInfo>> ListVDisksAsync(CancellationToken cancellationToken = default) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Get, "v1/vdisks"), AdminJsonContext.Tolerant.IReadOnlyListVDiskInfo, cancellationToken);

    public Task<VDiskInfo> CreateVDiskAsync(VDiskCreateRequest request, CancellationToken cancellationToken = default) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, "v1/vdisks") { Content = JsonContent.Create(request, AdminJsonContext.Default.VDiskCreateRequest) },
            AdminJsonContext.Tolerant.VDiskInfo, cancellationToken);

    public Task<VDiskInfo> ResizeVDiskAsync(string name, long capacityBytes, bool allowShrink, CancellationToken cancellationToken = default) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Put, $"v1/vdisks/{Uri.EscapeDataString(name)}/size")
        {
            Content = JsonContent.Create(new VDiskResizeRequest(capacityBytes, allowShrink), AdminJsonContext.Default.VDiskResizeRequest),
        }, AdminJsonContext.Tolerant.VDiskInfo, cancellationToken);

    public Task DeleteVDiskAsync(string name, CancellationToken cancellationToken = default) =>
        SendAsync<object>(new HttpRequestMessage(HttpMethod.Delete, $"v1/vdisks/{Uri.EscapeDataString(name)}"), null, cancellationToken);

    public Task<VDiskQos> SetVDiskQosAsync(string name, VDiskQosRequest request, CancellationToken cancellationToken = default) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Put, $"v1/vdisks/{Uri.EscapeDataString(name)}/qos") { Content = JsonContent.Create(request, AdminJsonContext.Default.VDiskQosRequest) },
            AdminJsonContext.Tolerant.VDiskQos, cancellationToken);

    public Task<ApplianceStats> GetStatsAsync(CancellationToken cancellationToken = default) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Get, "v1/stats"), AdminJsonContext.Tolerant.ApplianceStats, cancellationToken);

    public Task<CuratorReportInfo> RunCuratorScanAsync(bool scrub, CancellationToken cancellationToken = default) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, "v1/curator/scan")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new CuratorScanRequest(scrub), AdminJsonContext.Default.CuratorScanRequest),
        }, AdminJsonContext.Tolerant.CuratorReportInfo, cancellationToken);

    public Task<CuratorStatusInfo> GetCuratorStatusAsync(CancellationToken cancellationToken = default) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Get, "v1/curator"), AdminJsonContext.Tolerant.CuratorStatusInfo, cancellationToken);

    public void Dispose() => _http.Dispose();

    private async Task<T> SendAsync<T>(HttpRequestMessage request, JsonTypeInfo<T>? responseType, CancellationToken cancellationToken)
    {
        using (request)
        {
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException e)
            {
                throw Unreachable(e);
            }
            using (response)
            {
                try
                {
                    if (!response.IsSuccessStatusCode)
                        throw await RefusalAsync(response, cancellationToken).ConfigureAwait(false);
                    if (responseType is null)
                        return default!;
                    return await response.Content.ReadFromJsonAsync(responseType, cancellationToken).ConfigureAwait(false)
                        ?? throw new AdminProtocolException("the appliance answered with an empty body");
                }
                catch (JsonException e)
                {
                    throw new AdminProtocolException($"the appliance's answer cannot be read: {e.Message}");
                }
                catch (HttpRequestException e)
                {
                    throw Unreachable(e);
                }
            }
        }
    }

    private AdminException Unreachable(HttpRequestException e)
    {
        // connect(2) to a missing path fails with ENOENT, which .NET reports as AddressNotAvailable.
        string reason = (e.InnerException as SocketException)?.SocketErrorCode switch
        {
            SocketError.AccessDenied => "permission denied (the admin socket is owner-only: run this as the user the appliance runs as)",
            SocketError.ConnectionRefused or SocketError.AddressNotAvailable => "is it running?",
            _ when e.HttpRequestError == HttpRequestError.ConnectionError => "is it running?",
            _ => $"the connection was lost ({(e.InnerException ?? e).Message})",
        };
        return new AdminException(AdminError.Unavailable, $"cannot reach the appliance at {SocketPath}: {reason}");
    }

    private static async Task<Exception> RefusalAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        string text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        AdminErrorBody? body = null;
        try
        {
            body = JsonSerializer.Deserialize(text, AdminJsonContext.Tolerant.AdminErrorBody);
        }
        catch (JsonException)
        {
            // Not the API's error shape; fall back to the status code.
        }
        if (body is not null && Enum.TryParse(body.Error, out AdminError error) && Enum.IsDefined(error))
            return new AdminException(error, body.Message);
        AdminError? byStatus = response.StatusCode switch
        {
            HttpStatusCode.NotFound => AdminError.NotFound,
            HttpStatusCode.Conflict => AdminError.Conflict,
            HttpStatusCode.BadRequest => AdminError.Invalid,
            HttpStatusCode.InsufficientStorage => AdminError.NoSpace,
            HttpStatusCode.ServiceUnavailable => AdminError.Unavailable,
            _ => null,
        };
        string message = body?.Message ?? (text.Length > 0 && text.Length <= 200 ? text : $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
        return byStatus is { } e ? new AdminException(e, message) : new AdminProtocolException(message);
    }
}
