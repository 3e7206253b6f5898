using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace StorageAppliance.Management.Admin;

// The routes of the admin API. Handlers only translate between HTTP/JSON and IApplianceAdmin; every
// refusal becomes {"error": "<AdminError>", "message": "..."} with the status below.
//
//   GET    /v1/health                 200 {"status":"ok"}
//   GET    /v1/vdisks                 200 [VDiskInfo...]
//   POST   /v1/vdisks                 201 VDiskInfo, Location: /v1/vdisks/{name}     body: VDiskCreateRequest
//                                                                                     (name checked by VDiskNames)
//   PUT    /v1/vdisks/{name}/size     200 VDiskInfo                                  body: {"capacityBytes":N,"allowShrink":bool}
//   DELETE /v1/vdisks/{name}          204
//   PUT    /v1/vdisks/{name}/qos      200 VDiskQos                                   body: VDiskQosRequest (only given fields change)
//   GET    /v1/stats                  200 ApplianceStats
//   POST   /v1/curator/scan           200 CuratorReportInfo (when the pass ends)      body: {"scrub":bool}
//   GET    /v1/curator                200 CuratorStatusInfo
//
//   NotFound 404, Conflict 409, Invalid 400 (also malformed JSON), NoSpace 507, Unavailable 503,
//   unknown route 404, wrong method 405, a failure of the appliance itself 500 "Internal".
internal sealed class AdminApiEndpoints(IApplianceAdmin admin, ILogger log)
{
    public void Map(WebApplication app)
    {
        app.Use(HandleErrorsAsync);
        app.UseRouting();
        app.MapGet("/v1/health", (RequestDelegate)Health);
        app.MapGet("/v1/vdisks", (RequestDelegate)ListVDisks);
        app.MapPost("/v1/vdisks", (RequestDelegate)CreateVDiskAsync);
        app.MapPut("/v1/vdisks/{name}/size", (RequestDelegate)ResizeVDiskAsync);
        app.MapDelete("/v1/vdisks/{name}", (RequestDelegate)DeleteVDisk);
        app.MapPut("/v1/vdisks/{name}/qos", (RequestDelegate)SetQosAsync);
        app.MapGet("/v1/stats", (RequestDelegate)Stats);
        app.MapPost("/v1/curator/scan", (RequestDelegate)CuratorScanAsync);
        app.MapGet("/v1/curator", (RequestDelegate)CuratorStatus);
    }

    public static int StatusOf(AdminError error) => error switch
    {
        AdminError.NotFound => StatusCodes.Status404NotFound,
        AdminError.Conflict => StatusCodes.Status409Conflict,
        AdminError.Invalid => StatusCodes.Status400BadRequest,
        AdminError.NoSpace => StatusCodes.Status507InsufficientStorage,
        AdminError.Unavailable => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status500InternalServerError,
    };

    private static Task Health(HttpContext context) =>
        WriteAsync(context, StatusCodes.Status200OK, new AdminHealth("ok"), AdminJsonContext.Wire.AdminHealth);

    private Task ListVDisks(HttpContext context) =>
        WriteAsync(context, StatusCodes.Status200OK, admin.ListVDisks(), AdminJsonContext.Wire.IReadOnlyListVDiskInfo);

    private async Task CreateVDiskAsync(HttpContext context)
    {
        VDiskCreateRequest request = await ReadAsync(context, AdminJsonContext.Default.VDiskCreateRequest).ConfigureAwait(false);
        // Whatever client sent it: the name becomes a file name and must not pass for an NFS file's vDisk.
        if (VDiskNames.Check(request.Name) is { } problem)
            throw new AdminException(AdminError.Invalid, problem);
        VDiskInfo info = admin.CreateVDisk(request);
        ManagementLog.VDiskChanged(log, "created", info.Name);
        context.Response.Headers.Location = "/v1/vdisks/" + Uri.EscapeDataString(info.Name);
        await WriteAsync(context, StatusCodes.Status201Created, info, AdminJsonContext.Wire.VDiskInfo).ConfigureAwait(false);
    }

    private async Task ResizeVDiskAsync(HttpContext context)
    {
        string name = RouteName(context);
        VDiskResizeRequest request = await ReadAsync(context, AdminJsonContext.Default.VDiskResizeRequest).ConfigureAwait(false);
        VDiskInfo info = admin.ResizeVDisk(name, request.CapacityBytes, request.AllowShrink);
        ManagementLog.VDiskChanged(log, "resized", name);
        await WriteAsync(context, StatusCodes.Status200OK, info, AdminJsonContext.Wire.VDiskInfo).ConfigureAwait(false);
    }

    private async Task SetQosAsync(HttpContext context)
    {
        string name = RouteName(context);
        VDiskQosRequest request = await ReadAsync(context, AdminJsonContext.Default.VDiskQosRequest).ConfigureAwait(false);
        VDiskQos qos = admin.SetVDiskQos(name, request);
        ManagementLog.VDiskChanged(log, "given a new QoS policy", name);
        await WriteAsync(context, StatusCodes.Status200OK, qos, AdminJsonContext.Wire.VDiskQos).ConfigureAwait(false);
    }

    private Task Stats(HttpContext context) =>
        WriteAsync(context, StatusCodes.Status200OK, admin.GetStats(), AdminJsonContext.Wire.ApplianceStats);

    private async Task CuratorScanAsync(HttpContext context)
    {
        CuratorScanRequest request = context.Request.ContentLength == 0
            ? new CuratorScanRequest()
            : await ReadAsync(context, AdminJsonContext.Default.CuratorScanRequest).ConfigureAwait(false);
        CuratorReportInfo report = await admin.RunCuratorScanAsync(request.Scrub).ConfigureAwait(false);
        await WriteAsync(context, StatusCodes.Status200OK, report, AdminJsonContext.Wire.CuratorReportInfo).ConfigureAwait(false);
    }

    private Task CuratorStatus(HttpContext context) =>
        WriteAsync(context, StatusCodes.Status200OK, admin.GetCuratorStatus(), AdminJsonContext.Wire.CuratorStatusInfo);

    private Task DeleteVDisk(HttpContext context)
    {
        string name = RouteName(context);
        admin.DeleteVDisk(name);
        ManagementLog.VDiskChanged(log, "deleted", name);
        context.Response.StatusCode = StatusCodes.Status204NoContent;
        return Task.CompletedTask;
    }

    private static string RouteName(HttpContext context) => (string)context.Request.RouteValues["name"]!;

    private static async Task<T> ReadAsync<T>(HttpContext context, JsonTypeInfo<T> type)
        where T : class
    {
        if (context.Request.ContentLength == 0)
            throw new AdminException(AdminError.Invalid, "the request needs a JSON body");
        T? value;
        try
        {
            value = await JsonSerializer.DeserializeAsync(context.Request.Body, type, context.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            // System.Text.Json names types by their full name; the client knows them by their JSON shape.
            string reason = e.Message.Replace(typeof(T).Namespace + ".", "", StringComparison.Ordinal);
            throw new AdminException(AdminError.Invalid, $"the request body is not valid JSON for this request: {reason}");
        }
        return value ?? throw new AdminException(AdminError.Invalid, "the request body is null; expected a JSON object");
    }

    private static Task WriteAsync<T>(HttpContext context, int status, T value, JsonTypeInfo<T> type)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(value, type, "application/json; charset=utf-8", context.RequestAborted);
    }

    private async Task HandleErrorsAsync(HttpContext context, RequestDelegate next)
    {
        HttpRequest request = context.Request;
        try
        {
            await next(context).ConfigureAwait(false);
            // Routing answers an unknown path (404) or method (405) with an empty body; give it one.
            if (!context.Response.HasStarted && context.Response.StatusCode >= 400 && context.Response.ContentLength is null)
            {
                int status = context.Response.StatusCode;
                (string error, string message) = status switch
                {
                    StatusCodes.Status404NotFound => ("NotFound", $"no such API route: {request.Method} {request.Path}"),
                    StatusCodes.Status405MethodNotAllowed => ("Invalid", $"{request.Method} is not allowed on {request.Path}"),
                    _ => ("Invalid", $"the request was refused with HTTP status {status}"),
                };
                await WriteErrorAsync(context, status, error, message).ConfigureAwait(false);
            }
        }
        catch (AdminException e)
        {
            int status = StatusOf(e.Error);
            ManagementLog.RequestRefused(log, request.Method, request.Path, status, e.Message);
            await WriteErrorAsync(context, status, e.Error.ToString(), e.Message).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e)
        {
            // E.g. a body over the size limit, or one cut short.
            await WriteErrorAsync(context, e.StatusCode, "Invalid", e.Message).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nobody is left to answer.
        }
        catch (Exception e)
        {
            ManagementLog.RequestFailed(log, e, request.Method, request.Path);
            await WriteErrorAsync(context, StatusCodes.Status500InternalServerError, "Internal", $"the appliance failed to handle the request: {e.Message}").ConfigureAwait(false);
        }
    }

    private static Task WriteErrorAsync(HttpContext context, int status, string error, string message)
    {
        if (context.Response.HasStarted)
        {
            // Headers are gone: the only honest signal left is to cut the connection.
            context.Abort();
            return Task.CompletedTask;
        }
        context.Response.Clear();
        return WriteAsync(context, status, new AdminErrorBody(error, message), AdminJsonContext.Wire.AdminErrorBody);
    }
}
