using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace StorageAppliance.Management.Admin;

/// <summary>Where the admin API listens.</summary>
public sealed class AdminApiOptions
{
    /// <summary>The Unix socket path; created mode 0600, its folder created if missing.</summary>
    public string SocketPath { get; set; } = "";
}

public static class AdminApiServiceCollectionExtensions
{
    /// <summary>
    /// Serves the admin API (HTTP/JSON, routes under <c>/v1</c>) on the Unix socket
    /// <paramref name="socketPath"/>, over the <see cref="IApplianceAdmin"/> registered in the
    /// container. Register it after the services the admin implementation needs: hosted services
    /// start in order and stop in reverse, so the API then opens last and closes first.
    /// </summary>
    public static IServiceCollection AddAdminApi(this IServiceCollection services, string socketPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(socketPath);
        services.AddSingleton(new AdminApiOptions { SocketPath = Path.GetFullPath(socketPath) });
        services.AddHostedService(sp => new AdminApiService(
            sp.GetRequiredService<AdminApiOptions>(),
            sp.GetRequiredService<IApplianceAdmin>,
            sp.GetRequiredService<ILoggerFactory>()));
        return services;
    }
}
