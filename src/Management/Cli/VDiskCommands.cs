using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using StorageAppliance.Common;
using StorageAppliance.Management.Admin;

namespace StorageAppliance.Management.Cli;

/// <summary>
/// <c>appliance vdisk create|list|resize|delete|qos</c>: run-time vDisk management through the admin socket.
/// Exit codes are <see cref="CliExitCode"/>; every failure is one line on stderr starting "appliance: ".
/// </summary>
public static class VDiskCommands
{
    // SAM-5 flat space addressing, as the config's luns.
    private const int MaxLun = 16383;

    public static Command Create(CliEnvironment env)
    {
        var socket = new Option<string?>("--socket")
        {
            Description = SocketLocator.OptionDescription,
            HelpName = "PATH",
            Recursive = true,
        };
        var dataDir = new Option<string?>("--data-dir")
        {
            Description = "The appliance's data directory; its admin socket is DIR/admin.sock",
            HelpName = "DIR",
            Recursive = true,
        };
        var vdisk = new Command("vdisk", "Create, list, resize and delete vDisks of a running appliance, and change their QoS");
        vdisk.Options.Add(socket);
        vdisk.Options.Add(dataDir);
        var context = new Context(env, socket, dataDir);
        vdisk.Subcommands.Add(CreateCommand(context));
        vdisk.Subcommands.Add(ListCommand(context));
        vdisk.Subcommands.Add(ResizeCommand(context));
        vdisk.Subcommands.Add(DeleteCommand(context));
        vdisk.Subcommands.Add(QosCommand(context));
        return vdisk;
    }

    /// <summary><c>appliance stats</c>: counters, rates and latencies of every vDisk and client.</summary>
    public static Command CreateStats(CliEnvironment env)
    {
        var socket = new Option<string?>("--socket") { Description = SocketLocator.OptionDescription, HelpName = "PATH" };
        var dataDir = new Option<string?>("--data-dir") { Description = "The appliance's data directory; its admin socket is DIR/admin.sock", HelpName = "DIR" };
        var json = new Option<bool>("--json") { Description = "Print JSON (the admin API's ApplianceStats, two samples) instead of tables" };
        var interval = new Option<double>("--interval")
        {
            Description = "Seconds between the two samples rates are computed from",
            HelpName = "SECONDS",
            DefaultValueFactory = _ => 1.0,
        };
        var command = new Command("stats", "Show IOPS, bandwidth, queue depth and latency percentiles (time queued apart from time in service) per vDisk and per client")
        {
            socket, dataDir, json, interval,
        };
        var c = new Context(env, socket, dataDir);
        command.SetAction((parse, ct) => c.RunAsync(parse, async client =>
        {
            ApplianceStats first = await client.GetStatsAsync(ct).ConfigureAwait(false);
            double seconds = Math.Clamp(parse.GetValue(interval), 0, 3600);
            if (seconds > 0)
                await Task.Delay(TimeSpan.FromSeconds(seconds), ct).ConfigureAwait(false);
            ApplianceStats second = seconds > 0 ? await client.GetStatsAsync(ct).ConfigureAwait(false) : first;
            if (parse.GetValue(json))
            {
                c.Env.Out.WriteLine(JsonSerializer.Serialize(second, AdminJsonContext.Indented.ApplianceStats));
                return CliExitCode.Ok;
            }
            c.Env.Console.Write(StatsTable(first, second));
            c.Env.Out.WriteLine();
            c.Env.Console.Write(ClientTable(first, second));
            if (second.DataReduction is { } reduction)
            {
                c.Env.Out.WriteLine();
                c.Env.Console.Write(ReductionTable(reduction));
            }
            return CliExitCode.Ok;
        }));
        return command;
    }

    /// <summary>Logical, stored and saved bytes per container, then per vDisk.</summary>
    private static Table ReductionTable(DataReductionInfo r)
    {
        var table = new Table().Border(TableBorder.None);
        foreach (string header in new[] { "DATA REDUCTION", "CONTAINER", "LOGICAL", "STORED", "SAVED", "RATIO", "EXTENTS" })
            table.AddColumn(new TableColumn(header).Padding(0, 0, 3, 0));
        foreach (var row in r.Containers.Concat(r.VDisks))
        {
            table.AddRow(Markup.Escape(row.VDisk is null ? "(container)" : row.VDisk), Markup.Escape(row.Container), ByteSize.Format(row.LogicalBytes),
                ByteSize.Format(row.StoredBytes), ByteSize.Format(row.SavedBytes), row.Ratio.ToString("0.00", CultureInfo.InvariantCulture) + "x",
                row.VDisk is null ? row.Extents.ToString(CultureInfo.InvariantCulture) : "");
        }
        return table;
    }

    private static Command QosCommand(Context c)
    {
        var name = NameArgument("The vDisk whose service level changes");
        var cls = new Option<string?>("--class") { Description = "high (served first) or low (keeps a minimum share)", HelpName = "high|low" };
        cls.AcceptOnlyFromAmong("high", "low");
        var weight = new Option<int?>("--weight")
        {
            Description = "Fair share among the vDisks of its class, 1 to 10000",
            HelpName = "N",
            CustomParser = r => ParseInt(r, "--weight", n => n is >= 1 and <= 10_000 ? null : "is out of range (1..10000)"),
        };
        var iops = new Option<long?>("--iops") { Description = "IOPS limit; 0 removes it", HelpName = "N", CustomParser = r => ParseCount(r, "--iops") };
        var iopsBurst = new Option<long?>("--iops-burst") { Description = "Requests allowed at once above the IOPS limit (default: a tenth of a second's worth)", HelpName = "N", CustomParser = r => ParseCount(r, "--iops-burst") };
        var bandwidth = new Option<long?>("--bandwidth") { Description = "Bandwidth limit, e.g. 100MiB/s; 0 removes it", HelpName = "SIZE/s", CustomParser = r => ParseRate(r, "--bandwidth") };
        var bandwidthBurst = new Option<long?>("--bandwidth-burst") { Description = "Bytes allowed at once above the bandwidth limit, e.g. 8MiB", HelpName = "SIZE", CustomParser = r => ParseRate(r, "--bandwidth-burst") };
        var maxOutstanding = new Option<int?>("--max-outstanding")
        {
            Description = "Requests of this vDisk in service at once; 0 leaves only the appliance's total bound",
            HelpName = "N",
            CustomParser = r => ParseInt(r, "--max-outstanding", n => n >= 0 ? null : "cannot be negative"),
        };
        var command = new Command("qos", "Change a vDisk's QoS policy now, without a restart; it is kept across restarts")
        {
            name, cls, weight, iops, iopsBurst, bandwidth, bandwidthBurst, maxOutstanding,
        };
        command.SetAction((parse, ct) => c.RunAsync(parse, async client =>
        {
            var request = new VDiskQosRequest(parse.GetValue(cls), parse.GetValue(weight), parse.GetValue(iops), parse.GetValue(bandwidth),
                parse.GetValue(iopsBurst), parse.GetValue(bandwidthBurst), parse.GetValue(maxOutstanding));
            VDiskQos q = await client.SetVDiskQosAsync(parse.GetRequiredValue(name), request, ct).ConfigureAwait(false);
            c.Env.Out.WriteLine($"vDisk '{q.Name}': class {q.Class}, weight {q.Weight}, " +
                $"IOPS {(q.IopsLimit == 0 ? "unlimited" : q.IopsLimit.ToString(CultureInfo.InvariantCulture))}, " +
                $"bandwidth {(q.BandwidthLimit == 0 ? "unlimited" : ByteSize.Format(q.BandwidthLimit) + "/s")}, " +
                $"max outstanding {(q.MaxOutstanding == 0 ? "unbounded" : q.MaxOutstanding.ToString(CultureInfo.InvariantCulture))}.");
            return CliExitCode.Ok;
        }));
        return command;
    }

    internal static Table StatsTable(ApplianceStats first, ApplianceStats second)
    {
        var table = NewTable("VDISK", "CLASS", "WEIGHT", "IOPS", "BANDWIDTH", "QUEUED", "IN SERVICE", "QUEUE P50/P99", "SERVICE P50/P99", "ERRORS");
        double seconds = Math.Max(1e-6, (second.TimestampMicros - first.TimestampMicros) / 1e6);
        foreach (VDiskStatsInfo v in second.VDisks)
        {
            VDiskStatsInfo? before = first.VDisks.FirstOrDefault(b => b.Name == v.Name);
            long ops = v.Reads + v.Writes + v.Unmaps + v.Flushes - (before is null ? 0 : before.Reads + before.Writes + before.Unmaps + before.Flushes);
            long bytes = v.BytesRead + v.BytesWritten - (before is null ? 0 : before.BytesRead + before.BytesWritten);
            table.AddRow(v.Name, v.Qos.Class, Num(v.Qos.Weight), Num((long)(ops / seconds)), ByteSize.Format((long)(bytes / seconds)) + "/s",
                Num(v.Queued), Num(v.InService), Pair(v.QueueTime), Pair(v.ServiceTime), Num(v.Errors));
        }
        return table;
    }

    internal static Table ClientTable(ApplianceStats first, ApplianceStats second)
    {
        var table = NewTable("CLIENT", "PROTOCOL", "IOPS", "BANDWIDTH", "QUEUE P50/P99", "SERVICE P50/P99", "ERRORS");
        double seconds = Math.Max(1e-6, (second.TimestampMicros - first.TimestampMicros) / 1e6);
        foreach (ClientStatsInfo v in second.Clients)
        {
            ClientStatsInfo? before = first.Clients.FirstOrDefault(b => b.Client == v.Client && b.Protocol == v.Protocol);
            long ops = v.Requests - (before?.Requests ?? 0);
            long bytes = v.Bytes - (before?.Bytes ?? 0);
            table.AddRow(v.Client, v.Protocol, Num((long)(ops / seconds)), ByteSize.Format((long)(bytes / seconds)) + "/s", Pair(v.QueueTime), Pair(v.ServiceTime), Num(v.Errors));
        }
        return table;
    }

    private static Table NewTable(params string[] headers)
    {
        var table = new Table().Border(TableBorder.None);
        foreach (string header in headers)
            table.AddColumn(new TableColumn(header).Padding(0, 0, 3, 0));
        return table;
    }

    private static string Num(long n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Pair(LatencyInfo l) => $"{Micros(l.P50Micros)}/{Micros(l.P99Micros)}";

    private static string Micros(long us) => us < 1000 ? $"{us}us" : us < 1_000_000 ? $"{us / 1000.0:0.#}ms" : $"{us / 1e6:0.##}s";

    private static long ParseCount(ArgumentResult result, string option)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
            result.AddError($"{option}: '{text}' is not a whole number of 0 or more");
        return value;
    }

    private static long ParseRate(ArgumentResult result, string option)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        string size = text.EndsWith("/s", StringComparison.Ordinal) ? text[..^2] : text;
        if (!ByteSize.TryParse(size, out long bytes, out string? error))
        {
            result.AddError($"{option}: {error}");
            return 0;
        }
        if (bytes < 0)
            result.AddError($"{option}: '{text}' cannot be negative");
        return bytes;
    }

    private static Command CreateCommand(Context c)
    {
        var name = NameArgument($"The new vDisk's name: {VDiskNames.Rule}");
        name.Validators.Add(r =>
        {
            // The appliance checks it too; refusing here saves a round trip and names the argument.
            if (VDiskNames.Check(r.GetValueOrDefault<string>()) is { } problem)
                r.AddError(problem);
        });
        var container = new Option<string?>("--container")
        {
            Description = "The container it lives in (default: the only container, or the one the --target's vDisks live in)",
            HelpName = "NAME",
        };
        var size = SizeOption("Its capacity, e.g. 100GiB");
        var blockSize = new Option<int>("--block-size")
        {
            Description = "The logical block size its LUN reports: 512 or 4096",
            HelpName = "BYTES",
            DefaultValueFactory = _ => 512,
            CustomParser = r => ParseInt(r, "--block-size", n => n is 512 or 4096 ? null : "is not supported (use 512 or 4096)"),
        };
        var thick = new Option<bool>("--thick") { Description = "Report full provisioning (no UNMAP); space is not yet reserved ahead (default: thin)" };
        var target = new Option<string?>("--target") { Description = "Export it as a LUN of this configured target", HelpName = "IQN" };
        var lun = new Option<int?>("--lun")
        {
            Description = $"The LUN number under --target (0 to {MaxLun}; default: the target's first free one)",
            HelpName = "N",
            CustomParser = r => ParseInt(r, "--lun", n => n is >= 0 and <= MaxLun ? null : $"is out of range (0..{MaxLun})"),
        };

        var command = new Command("create", "Create a vDisk, optionally exported as a LUN of a target") { name, container, size, blockSize, thick, target, lun };
        command.Validators.Add(r =>
        {
            if (r.GetResult(lun) is not null && r.GetResult(target) is null)
                r.AddError("--lun needs --target: a LUN number belongs to a target");
        });
        command.SetAction((parse, ct) => c.RunAsync(parse, async client =>
        {
            var request = new VDiskCreateRequest(
                parse.GetRequiredValue(name),
                parse.GetValue(size),
                Container: parse.GetValue(container),
                LogicalBlockSize: parse.GetValue(blockSize),
                Thin: !parse.GetValue(thick),
                Target: parse.GetValue(target),
                Lun: parse.GetValue(lun));
            VDiskInfo info = await client.CreateVDiskAsync(request, ct).ConfigureAwait(false);
            string exports = info.Exports.Count == 0 ? "not exported" : "exported as " + string.Join(", ", info.Exports);
            c.Env.Out.WriteLine(
                $"Created vDisk '{info.Name}' (id {info.Id}): {ByteSize.Format(info.CapacityBytes)} in container {info.Container}, " +
                $"{(info.Thin ? "thin" : "thick")}, {info.LogicalBlockSize}-byte blocks, {exports}.");
            return CliExitCode.Ok;
        }));
        return command;
    }

    private static Command ListCommand(Context c)
    {
        var json = new Option<bool>("--json") { Description = "Print JSON (the admin API's VDiskInfo list) instead of a table" };
        var command = new Command("list", "List the vDisks: size, space used and allocated, exports") { json };
        command.SetAction((parse, ct) => c.RunAsync(parse, async client =>
        {
            IReadOnlyList<VDiskInfo> vdisks = await client.ListVDisksAsync(ct).ConfigureAwait(false);
            if (parse.GetValue(json))
                c.Env.Out.WriteLine(JsonSerializer.Serialize(vdisks, AdminJsonContext.Indented.IReadOnlyListVDiskInfo));
            else if (vdisks.Count == 0)
                c.Env.Out.WriteLine("No vDisks.");
            else
            {
                c.Env.Console.Write(Table(vdisks));
                if (vdisks.Any(v => v.NfsFile is not null))
                {
                    c.Env.Out.WriteLine();
                    c.Env.Out.WriteLine("NFS files: SIZE is the file's size (its vDisk addresses up to " +
                        $"{ByteSize.Format(vdisks.First(v => v.NfsFile is not null).CapacityBytes)}, the most the file may grow to). " +
                        "They are managed through the file: delete and resize are refused; QoS may be set.");
                }
            }
            return CliExitCode.Ok;
        }));
        return command;
    }

    private static Command ResizeCommand(Context c)
    {
        var name = NameArgument("The vDisk to resize");
        var size = SizeOption("Its new capacity, e.g. 200GiB");
        var shrink = new Option<bool>("--shrink") { Description = "Allow a smaller size; data beyond the new end is lost" };
        var command = new Command("resize", "Change a vDisk's capacity; initiators see CAPACITY DATA HAS CHANGED (not for a vDisk of an NFS file: change the file's size)") { name, size, shrink };
        command.SetAction((parse, ct) => c.RunAsync(parse, async client =>
        {
            VDiskInfo info = await client.ResizeVDiskAsync(parse.GetRequiredValue(name), parse.GetValue(size), parse.GetValue(shrink), ct).ConfigureAwait(false);
            c.Env.Out.WriteLine($"Resized vDisk '{info.Name}' to {ByteSize.Format(info.CapacityBytes)} ({info.CapacityBytes} bytes).");
            return CliExitCode.Ok;
        }));
        return command;
    }

    private static Command DeleteCommand(Context c)
    {
        var name = NameArgument("The vDisk to delete");
        var yes = new Option<bool>("--yes", "-y") { Description = "Do not ask for confirmation (required when stdin is not a terminal)" };
        var command = new Command("delete", "Delete a vDisk and all its data; its LUNs disappear from their targets (not for a vDisk of an NFS file: remove the file)") { name, yes };
        command.SetAction((parse, ct) => c.RunAsync(parse, async client =>
        {
            string vdisk = parse.GetRequiredValue(name);
            if (!parse.GetValue(yes))
            {
                if (!c.Env.InputIsTerminal)
                {
                    c.Env.Error.WriteLine($"appliance: refusing to delete vDisk '{vdisk}' without confirmation: stdin is not a terminal, so pass --yes");
                    return CliExitCode.Invalid;
                }
                // Ask only about a vDisk that exists and may be deleted; a typo should say so before the question.
                IReadOnlyList<VDiskInfo> all = await client.ListVDisksAsync(ct).ConfigureAwait(false);
                VDiskInfo? info = all.FirstOrDefault(v => v.Name == vdisk) ?? throw new AdminException(AdminError.NotFound, $"no vDisk is named '{vdisk}'");
                if (info.NfsFile is { } file)
                    throw new AdminException(AdminError.Conflict, $"{vdisk} holds the data of NFS file {file.Path} in export {file.Export} ({file.Export}:{file.Path}); it is managed only through the file: remove the file over NFS to delete its data");
                c.Env.Error.Write($"Delete vDisk '{vdisk}' and all its data? [y/N] ");
                string answer = (await c.Env.In.ReadLineAsync(ct).ConfigureAwait(false) ?? "").Trim();
                if (!answer.Equals("y", StringComparison.OrdinalIgnoreCase) && !answer.Equals("yes", StringComparison.OrdinalIgnoreCase))
                {
                    c.Env.Error.WriteLine($"appliance: vDisk '{vdisk}' was not deleted");
                    return CliExitCode.Failed;
                }
            }
            await client.DeleteVDiskAsync(vdisk, ct).ConfigureAwait(false);
            c.Env.Out.WriteLine($"Deleted vDisk '{vdisk}'.");
            return CliExitCode.Ok;
        }));
        return command;
    }

    internal static Table Table(IReadOnlyList<VDiskInfo> vdisks)
    {
        // Borderless, columns three spaces apart, like kubectl or docker ps; --json is for scripts.
        var table = new Table().Border(TableBorder.None);
        foreach (string header in (string[])["NAME", "ID", "CONTAINER", "SIZE", "USED", "ALLOCATED", "BLOCK SIZE", "THIN", "EXPORTS"])
            table.AddColumn(new TableColumn(header).Padding(0, 0, 3, 0));
        foreach (int right in (int[])[1, 3, 4, 5, 6])
            table.Columns[right].RightAligned();
        foreach (VDiskInfo v in vdisks)
        {
            // An NFS file's vDisk: its size is the file's, and where it is exported is the file's path.
            string exports = v.NfsFile is { } f ? $"NFS file {f.Export}:{f.Path}"
                : v.Exports.Count == 0 ? "-" : string.Join(", ", v.Exports);
            table.AddRow(
                new Text(v.Name),
                new Text(v.Id.ToString(CultureInfo.InvariantCulture)),
                new Text(v.Container),
                new Text(v.NfsFile is { } file ? ByteSize.Format(file.SizeBytes) : ByteSize.Format(v.CapacityBytes)),
                new Text(ByteSize.Format(v.UsedBytes)),
                new Text(ByteSize.Format(v.AllocatedBytes)),
                new Text(v.LogicalBlockSize.ToString(CultureInfo.InvariantCulture)),
                new Text(v.Thin ? "yes" : "no"),
                new Text(exports));
        }
        return table;
    }

    private static Argument<string> NameArgument(string description) => new("NAME") { Description = description };

    private static Option<long> SizeOption(string description) => new("--size")
    {
        Description = description + " (B, KiB, MiB, GiB, TiB or KB, MB, GB, TB)",
        HelpName = "SIZE",
        Required = true,
        CustomParser = ParseSize,
    };

    private static int ParseInt(ArgumentResult result, string option, Func<int, string?> check)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value))
        {
            result.AddError($"{option}: '{text}' is not a whole number");
            return 0;
        }
        if (check(value) is { } problem)
            result.AddError($"{option} {value} {problem}");
        return value;
    }

    private static long ParseSize(ArgumentResult result)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (!ByteSize.TryParse(text, out long bytes, out string? error))
        {
            result.AddError($"--size: {error}");
            return 0;
        }
        if (bytes <= 0)
            result.AddError($"--size: '{text}' is not a usable size: it must be greater than 0");
        return bytes;
    }

    // What every subcommand shares: where to write, and how to reach the appliance.
    internal sealed class Context(CliEnvironment env, Option<string?> socket, Option<string?> dataDir)
    {
        public CliEnvironment Env { get; } = env;

        public async Task<int> RunAsync(ParseResult parse, Func<AdminClient, Task<int>> action)
        {
            string path = SocketLocator.Resolve(parse.GetValue(socket), parse.GetValue(dataDir), Env.GetVariable);
            if (SocketLocator.Check(path) is { } problem)
            {
                Env.Error.WriteLine($"appliance: {problem}");
                return CliExitCode.Invalid;
            }
            using var client = new AdminClient(path);
            try
            {
                return await action(client).ConfigureAwait(false);
            }
            catch (AdminException e)
            {
                Env.Error.WriteLine($"appliance: {e.Message}");
                return CliExitCode.Of(e.Error);
            }
            catch (AdminProtocolException e)
            {
                Env.Error.WriteLine($"appliance: {e.Message}");
                return CliExitCode.Failed;
            }
        }
    }
}
