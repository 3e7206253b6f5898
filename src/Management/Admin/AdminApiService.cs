using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace StorageAppliance.Management.Admin;

/// <summary>
/// Runs Kestrel on the admin socket inside the appliance's host. The web app is a small host of its
/// own (no config files, no environment variables, no signal handling: the appliance's host owns
/// those) that logs through the appliance's logger factory.
/// </summary>
internal sealed class AdminApiService(AdminApiOptions options, Func<IApplianceAdmin> admin, ILoggerFactory loggerFactory) : IHostedService, IAsyncDisposable
{
    // Requests are a few hundred bytes of JSON.
    private const long MaxRequestBodyBytes = 64 * 1024;

    private readonly ILogger _log = loggerFactory.CreateLogger("StorageAppliance.Admin");
    private WebApplication? _app;

    public string SocketPath => options.SocketPath;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        string path = options.SocketPath;
        await AdminSocket.PrepareAsync(path, _log, cancellationToken).ConfigureAwait(false);

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "StorageAppliance.Admin" });
        builder.Logging.AddProvider(new ForwardingLoggerProvider(loggerFactory));
        // Kestrel's per-request Information lines would drown the appliance's own log.
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Services.AddSingleton<IHostLifetime, NoSignalLifetime>();
        builder.Services.AddRoutingCore();
        builder.WebHost.UseKestrelCore();
        builder.WebHost.UseSockets(o => o.CreateBoundListenSocket = AdminSocket.BindOwnerOnly);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = MaxRequestBodyBytes;
            k.ListenUnixSocket(path);
        });

        WebApplication app = builder.Build();
        new AdminApiEndpoints(admin(), _log).Map(app);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        _app = app;
        ManagementLog.AdminListening(_log, path);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not { } app)
            return;
        _app = null;
        try
        {
            await app.StopAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await app.DisposeAsync().ConfigureAwait(false);
            // Only a socket this run bound: a failed start may have found another appliance's.
            File.Delete(options.SocketPath);
            ManagementLog.AdminStopped(_log);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await app.DisposeAsync().ConfigureAwait(false);
            File.Delete(options.SocketPath);
        }
    }

    // The inner host must not react to SIGINT/SIGTERM: the appliance's host stops it in order.
    private sealed class NoSignalLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private sealed class ForwardingLoggerProvider(ILoggerFactory target) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => target.CreateLogger(categoryName);

        public void Dispose()
        {
            // The appliance's factory outlives the inner host.
        }
    }
}
