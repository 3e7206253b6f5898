using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StorageAppliance.Management.Config;

namespace StorageAppliance.Host;

public sealed record RunOptions(string? ConfigPath, string? DataDir, string[] IscsiListen, string? LogLevel)
{
    /// <summary>--nfs-listen ADDR:PORT (repeatable): replaces nfs.listen and turns NFS on.</summary>
    public string[] NfsListen { get; init; } = [];

    /// <summary>--nfs-mount-port PORT: replaces nfs.mount_port (0 picks a free port).</summary>
    public string? NfsMountPort { get; init; }

    /// <summary>--portmapper auto|embedded|system|off: replaces nfs.portmapper.</summary>
    public string? Portmapper { get; init; }
}

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
            CheckNfsOptions(config);
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
        StartFailureLogFilter.Install(builder.Services);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(15));
        builder.Services.AddSingleton(config);
        builder.Services.AddAppliance(config);

        // Before anything is created: a start that fails takes back only what it made.
        var cleanup = StartupCleanup.Before(config);
        using var host = builder.Build();
        var log = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("StorageAppliance");
        try
        {
            await host.StartAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (StartFailureLogFilter.IsExplained(e))
        {
            HostLog.StartFailed(log, e.Message);
            Console.Error.WriteLine($"appliance: cannot start: {e.Message}");
            UndoStart(host, cleanup, config, log);
            return StartupError;
        }
        catch (OperationCanceledException)
        {
            // Ctrl-C or SIGTERM before the appliance was serving: stopping is what was asked for.
            Console.Error.WriteLine("appliance: start cancelled (Ctrl-C or SIGTERM before the appliance was serving)");
            UndoStart(host, cleanup, config, log);
            return StartupError;
        }
        catch
        {
            // A bug: its trace is printed by the runtime; still leave no half-made data folder behind.
            UndoStart(host, cleanup, config, log);
            throw;
        }
        HostLog.Started(log, config.Appliance.Name, config.Source, config.Appliance.DataDir);
        await host.WaitForShutdownAsync().ConfigureAwait(false);
        HostLog.Stopped(log);
        return 0;
    }

    // Closes what the partial start opened (the storage service's StopAsync closes the engine and the
    // metadata store, releasing its lock), then removes what the start created.
    private static void UndoStart(IHost host, StartupCleanup cleanup, ApplianceConfig config, ILogger log)
    {
        try
        {
            host.StopAsync(TimeSpan.FromSeconds(15)).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Services that never started may fail to stop; the host still stops the others, the storage among them.
        }
        foreach (string left in cleanup.Undo(config.Appliance.DataDir))
            HostLog.StartLeftover(log, left);
    }

    public static int Validate(string path)
    {
        try
        {
            var config = ConfigLoader.LoadFile(path);
            // What `run` would refuse as a config error must not pass here.
            CheckNfsOptions(config);
            Console.WriteLine($"{path}: ok ({config.VDisks.Count} vDisk(s), {config.Targets.Count} target(s))");
            return 0;
        }
        catch (ConfigException e)
        {
            Console.Error.WriteLine(e.Message);
            return ConfigError;
        }
    }

    internal static void ApplyOverrides(ApplianceConfig config, RunOptions options)
    {
        if (options.DataDir is not null)
            config.Appliance.DataDir = options.DataDir;
        var errors = new List<ConfigError>();
        if (options.IscsiListen.Length > 0 && ParseListen(options.IscsiListen, "--iscsi-listen", errors) is { } iscsi)
            config.Iscsi.Listen = iscsi;
        if (options.NfsListen.Length > 0 && ParseListen(options.NfsListen, "--nfs-listen", errors) is { } nfs)
        {
            // Asking for an NFS listener on the command line is asking for NFS, whatever the file says.
            config.Nfs.Enabled = true;
            config.Nfs.Listen = nfs;
        }
        if (options.NfsMountPort is { } mountText)
        {
            if (int.TryParse(mountText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int port) && port <= 65535)
                config.Nfs.MountPort = port;
            else
                errors.Add(new ConfigError("command line", 0, 0, "--nfs-mount-port", $"'{mountText}' is not a port; write a number from 1 to 65535, or 0 for any free port"));
        }
        if (options.Portmapper is { } pm)
        {
            PortmapperMode? mode = pm.Trim().ToLowerInvariant() switch
            {
                "auto" => PortmapperMode.Auto,
                "embedded" => PortmapperMode.Embedded,
                "system" => PortmapperMode.System,
                "off" => PortmapperMode.Off,
                _ => null,
            };
            if (mode is null)
                errors.Add(new ConfigError("command line", 0, 0, "--portmapper", $"'{pm}' is not a portmapper mode; use auto, embedded, system or off"));
            else
                config.Nfs.Portmapper = mode.Value;
        }
        if (errors.Count == 0 && config.Nfs.Enabled)
            CheckNfsPorts(config, options, errors);
        if (errors.Count > 0)
            throw new ConfigException(errors);
    }

    private static List<ListenAddress>? ParseListen(string[] texts, string option, List<ConfigError> errors)
    {
        var listen = new List<ListenAddress>();
        int before = errors.Count;
        foreach (var text in texts)
        {
            if (!ListenAddress.TryParse(text, out var address, out var error))
                errors.Add(new ConfigError("command line", 0, 0, option, error!));
            else if (listen.Exists(l => l.Overlaps(address!)))
                errors.Add(new ConfigError("command line", 0, 0, option, $"'{text}' is given twice"));
            else
                listen.Add(address!);
        }
        return errors.Count == before ? listen : null;
    }

    // The file's own ports were checked when it loaded; the command line can move them onto each other.
    private static void CheckNfsPorts(ApplianceConfig config, RunOptions options, List<ConfigError> errors)
    {
        if (options.NfsListen.Length == 0 && options.NfsMountPort is null && options.IscsiListen.Length == 0)
            return;
        string key = options.NfsListen.Length > 0 ? "--nfs-listen" : "nfs.listen";
        var portals = config.Iscsi.Enabled ? config.Iscsi.Listen : [];
        foreach (var nfs in config.Nfs.Listen)
        {
            if (portals.Find(p => p.Overlaps(nfs)) is { } portal)
                errors.Add(new ConfigError("command line", 0, 0, key, $"'{nfs}' is also an iSCSI portal ({portal}); NFS needs its own port"));
            if (config.Nfs.MountPort == 0)
                continue;
            var mount = new ListenAddress(nfs.Address, config.Nfs.MountPort);
            if (portals.Find(p => p.Overlaps(mount)) is { } clash)
                errors.Add(new ConfigError("command line", 0, 0, options.NfsMountPort is null ? "nfs.mount_port" : "--nfs-mount-port",
                    $"MOUNT would listen on {mount}, which is an iSCSI portal ({clash}); choose another port, or 0 for any free one"));
        }
    }

    // What the NFS front end itself would refuse at start, reported as a config error (exit 2) instead.
    private static void CheckNfsOptions(ApplianceConfig config)
    {
        if (!config.Nfs.Enabled)
            return;
        var problems = ApplianceServices.BuildNfsOptions(config).Validate();
        if (problems.Count > 0)
            throw new ConfigException(problems.Select(p => new ConfigError(config.Source, 0, 0, "", p)).ToList());
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

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "the failed start could not remove {Path}, which it created or which was empty before it")]
    public static partial void StartLeftover(ILogger logger, string path);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "imported {Path} into vDisk {VDisk} ({Bytes} bytes of data); the file is renamed *.imported")]
    public static partial void LegacyImported(ILogger logger, string path, string vdisk, long bytes);
}
