using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StorageAppliance.Management.Admin;
using StorageAppliance.Management.Cli;

namespace StorageAppliance.Management.Tests.Admin;

/// <summary>The admin API on a real Kestrel Unix socket in a temporary folder, over a <see cref="FakeApplianceAdmin"/>.</summary>
internal sealed class AdminServer : IAsyncDisposable
{
    private readonly IHost _host;

    private AdminServer(IHost host, string directory, string socketPath, FakeApplianceAdmin admin, ListLoggerProvider logs)
    {
        _host = host;
        Directory = directory;
        SocketPath = socketPath;
        Admin = admin;
        Logs = logs;
        Http = AdminClient.CreateHttpClient(socketPath);
    }

    public string Directory { get; }

    public string SocketPath { get; }

    public FakeApplianceAdmin Admin { get; }

    public ListLoggerProvider Logs { get; }

    /// <summary>A plain HttpClient on the socket, for requests the CLI client would never send.</summary>
    public HttpClient Http { get; }

    /// <summary>A short folder under /tmp: a socket path must fit in 107 bytes.</summary>
    public static string NewDirectory() => System.IO.Directory.CreateTempSubdirectory("sa-adm-").FullName;

    public static async Task<AdminServer> StartAsync(string? directory = null, FakeApplianceAdmin? admin = null)
    {
        directory ??= NewDirectory();
        string socketPath = Path.Combine(directory, "admin.sock");
        admin ??= new FakeApplianceAdmin();
        var logs = new ListLoggerProvider();
        IHost host = Build(socketPath, admin, logs);
        await host.StartAsync();
        return new AdminServer(host, directory, socketPath, admin, logs);
    }

    public static IHost Build(string socketPath, IApplianceAdmin admin, ILoggerProvider? logs = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        if (logs is not null)
            builder.Logging.AddProvider(logs);
        builder.Services.AddSingleton(admin);
        builder.Services.AddAdminApi(socketPath);
        return builder.Build();
    }

    public async Task StopAsync() => await _host.StopAsync();

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _host.StopAsync();
        _host.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}

internal sealed class ListLoggerProvider : ILoggerProvider
{
    private readonly List<string> _lines = [];

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
                return [.. _lines];
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(ListLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (owner._lines)
                owner._lines.Add($"{logLevel} {category} [{eventId.Id}] {formatter(state, exception)}");
        }
    }
}
