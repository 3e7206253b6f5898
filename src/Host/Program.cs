using System.CommandLine;
using StorageAppliance.Host;
using StorageAppliance.Management.Cli;

// The appliance's command line: `run` starts it; `config validate` checks a config file; `vdisk ...`
// manages the vDisks of a running appliance through its admin socket. A usage error exits 2.
var configOption = new Option<FileInfo?>("--config", "-c")
{
    Description = "YAML config file (default: the embedded config/appliance.yaml)",
    HelpName = "FILE",
};
var dataDirOption = new Option<DirectoryInfo?>("--data-dir")
{
    Description = "Folder for vDisk data and metadata (overrides appliance.data_dir)",
    HelpName = "DIR",
};
var iscsiListenOption = new Option<string[]>("--iscsi-listen")
{
    Description = "iSCSI portal (repeatable; overrides iscsi.listen)",
    HelpName = "ADDR:PORT",
    AllowMultipleArgumentsPerToken = false,
};
var nfsListenOption = new Option<string[]>("--nfs-listen")
{
    Description = "NFS (and MOUNT) address (repeatable; overrides nfs.listen and turns NFS on)",
    HelpName = "ADDR:PORT",
    AllowMultipleArgumentsPerToken = false,
};
var nfsMountPortOption = new Option<string?>("--nfs-mount-port")
{
    Description = "Port of the MOUNT protocol on the NFS addresses, 0 for any free one (overrides nfs.mount_port)",
    HelpName = "PORT",
};
var portmapperOption = new Option<string?>("--portmapper")
{
    Description = "auto (register with a running rpcbind, else serve port 111 ourselves, else go on without), embedded, system or off (overrides nfs.portmapper)",
    HelpName = "MODE",
};
var logLevelOption = new Option<string?>("--log-level")
{
    Description = "Minimum log level: Trace, Debug, Information (the default), Warning, Error",
    HelpName = "LEVEL",
};

var run = new Command("run", "Start the appliance in the foreground; Ctrl-C stops it cleanly");
run.Options.Add(configOption);
run.Options.Add(dataDirOption);
run.Options.Add(iscsiListenOption);
run.Options.Add(nfsListenOption);
run.Options.Add(nfsMountPortOption);
run.Options.Add(portmapperOption);
run.Options.Add(logLevelOption);
run.SetAction(async (parse, ct) =>
{
    var options = new RunOptions(
        parse.GetValue(configOption)?.FullName,
        parse.GetValue(dataDirOption)?.FullName,
        parse.GetValue(iscsiListenOption) ?? [],
        parse.GetValue(logLevelOption))
    {
        NfsListen = parse.GetValue(nfsListenOption) ?? [],
        NfsMountPort = parse.GetValue(nfsMountPortOption),
        Portmapper = parse.GetValue(portmapperOption),
    };
    return await ApplianceRunner.RunAsync(options).ConfigureAwait(false);
});

var validateFile = new Argument<FileInfo>("file") { Description = "Config file to check" };
var validate = new Command("validate", "Check a config file as `run` would and print every error with its line, key and reason");
validate.Arguments.Add(validateFile);
validate.SetAction(parse => ApplianceRunner.Validate(parse.GetValue(validateFile)!.FullName));
var config = new Command("config", "Config file tools");
config.Subcommands.Add(validate);

var console = CliEnvironment.FromConsole();
var root = new RootCommand("StorageAppliance: iSCSI and NFS storage with data services in the I/O path");
root.Subcommands.Add(run);
root.Subcommands.Add(config);
root.Subcommands.Add(VDiskCommands.Create(console));
root.Subcommands.Add(VDiskCommands.CreateStats(console));
root.Subcommands.Add(CuratorCommands.Create(console));

// The generic host handles SIGINT/SIGTERM itself (graceful stop), so the parser must not.
return await CliRunner.InvokeAsync(root, args, console).ConfigureAwait(false);
