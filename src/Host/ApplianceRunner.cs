using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StorageAppliance.Management.Config;

namespace StorageAppliance.Host;

public sealed record RunOptions(string? ConfigPath, string? DataDir, string[] IscsiListen, string? LogLevel);

/// <summary>Loads and checks the config, builds the appliance, and runs it until Ctrl-C or SIGTERM.</summary>
public static class ApplianceRunner
{
    /// <summary>Exit code for a config the appliance refuses (bad file, bad option).</summary>
    public const int ConfigError = 2;

    /// <summary>Exit code when start-up fails for another reason (a port in use, an unreadable disk).</summary>
    public const int StartupError = 1;

    public static async Task<int> RunAsync(RunOptions options)
    {
        ApplianceConfig config;
        try
        {
            config = options.ConfigPath is null ? ConfigLoader.LoadEmbeddedDefault() : ConfigLoader.LoadFile(options.ConfigPath);
            ApplyOverrides(config, options);
        }
        catch (ConfigException e)
        {
            Console.Error.WriteLine("appliance: the config has errors, not starting:");
            Console.Error.WriteLine(e.Message);
            return ConfigError;
        }

        var level = LogLevel.Information;
        if (options.LogLevel is not null && !Enum.TryParse(options.LogLevel, ignoreCase: true, out level))
        {
            Console.Error.WriteLine($"appliance: --log-level '{options.LogLevel}' is not one of Trace, Debug, Information, Warning, Error");
            return ConfigError;
        }

        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            ContentRootPath = Directory.GetCurrentDirectory(),
        });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(level);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-dd HH:mm:ss.fff ";
            o.UseUtcTimestamp = false;
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(15));
        builder.Services.AddSingleton(config);
        builder.Services.AddAppliance(config);

        using var host = builder.Build();
        var log = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("StorageAppliance");
        try
        {
            await host.StartAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            HostLog.StartFailed(log, e.Message);
            Console.Error.WriteLine($"appliance: cannot start: {e.Message}");
            return StartupError;
        }
        HostLog.Started(log, config.Appliance.Name, config.Source, config.Appliance.DataDir);
        await host.WaitForShutdownAsync().ConfigureAwait(false);
        HostLog.Stopped(log);
        return 0;
    }

    public static int Validate(string path)
    {
        try
        {
            var config = ConfigLoader.LoadFile(path);
            Console.WriteLine($"{path}: ok ({config.VDisks.Count} vDisk(s), {config.Targets.Count} target(s))");
            return 0;
        }
        catch (ConfigException e)
        {
            Console.Error.WriteLine(e.Message);
            return ConfigError;
        }
    }

    private static void ApplyOverrides(ApplianceConfig config, RunOptions options)
    {
        if (options.DataDir is not null)
            config.Appliance.DataDir = options.DataDir;
        if (options.IscsiListen.Length > 0)
        {
            var errors = new List<ConfigError>();
            var listen = new List<ListenAddress>();
            foreach (var text in options.IscsiListen)
            {
                if (ListenAddress.TryParse(text, out var address, out var error))
                    listen.Add(address!);
                else
                    errors.Add(new ConfigError("command line", 0, 0, "--iscsi-listen", error!));
            }
            if (errors.Count > 0)
                throw new ConfigException(errors);
            config.Iscsi.Listen = listen;
        }
    }
}

internal static partial class HostLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "appliance {Name} started (config {Source}, data in {DataDir})")]
    public static partial void Started(ILogger logger, string name, string source, string dataDir);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "appliance stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(EventId = 3, Level = LogLevel.Critical, Message = "appliance cannot start: {Reason}")]
    public static partial void StartFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "imported {Path} into vDisk {VDisk} ({Bytes} bytes of data); the file is renamed *.imported")]
    public static partial void LegacyImported(ILogger logger, string path, string vdisk, long bytes);
}
