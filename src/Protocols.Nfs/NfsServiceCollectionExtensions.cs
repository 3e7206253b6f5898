using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Nfs;

/// <summary>Registration of the NFS front end (STYLE.md 11).</summary>
public static class NfsServiceCollectionExtensions
{
    /// <summary>
    /// Adds the NFS front end: <see cref="NfsService"/> as a singleton and a hosted service. Needs an
    /// <see cref="IVDiskProvisioner"/> in the container, looked up when the service starts (so a provisioner
    /// opened by a hosted service registered earlier is ready). The options are validated at start.
    /// </summary>
    public static IServiceCollection AddNfs(this IServiceCollection services, NfsServerOptions options) =>
        services.AddNfs(_ => options);

    /// <summary>Like <see cref="AddNfs(IServiceCollection, NfsServerOptions)"/>, with options built from the container (e.g. the appliance config).</summary>
    public static IServiceCollection AddNfs(this IServiceCollection services, Func<IServiceProvider, NfsServerOptions> options)
    {
        services.AddSingleton(sp => new NfsService(options(sp), () => sp.GetRequiredService<IVDiskProvisioner>(), sp.GetRequiredService<ILoggerFactory>()));
        services.AddHostedService(sp => sp.GetRequiredService<NfsService>());
        return services;
    }
}
