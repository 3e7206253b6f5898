using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using StorageAppliance.Common;
using StorageAppliance.Management.Admin;

namespace StorageAppliance.Management.Cli;

/// <summary><c>appliance curator scan|status</c>: run a Curator pass now and watch it, or see the last one.</summary>
public static class CuratorCommands
{
    public static Command Create(CliEnvironment env)
    {
        var socket = new Option<string?>("--socket") { Description = SocketLocator.OptionDescription, HelpName = "PATH" };
        var dataDir = new Option<string?>("--data-dir") { Description = "The appliance's data directory; its admin socket is DIR/admin.sock", HelpName = "DIR" };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON (no progress lines)" };
        // status shows no progress lines, so its --json says only what it prints.
        var statusJson = new Option<bool>("--json") { Description = "Print the status and the last report as JSON" };
        var noScrub = new Option<bool>("--no-scrub") { Description = "Skip reading every extent back to verify its checksums" };
        var c = new VDiskCommands.Context(env, socket, dataDir);

        var scan = new Command("scan", "Run a Curator pass now: reduce quiet blocks, audit reference counts, collect unreferenced extents, compact extent groups and (unless --no-scrub) verify every checksum; shows progress, then what it found and fixed")
        {
            socket, dataDir, json, noScrub,
        };
        scan.SetAction((parse, ct) => c.RunAsync(parse, async client =>
        {
            var run = client.RunCuratorScanAsync(!parse.GetValue(noScrub), ct);
            bool quiet = parse.GetValue(json);
            string last = "";
            while (!run.IsCompleted)
            {
                await Task.WhenAny(run, Task.Delay(500, ct)).ConfigureAwait(false);
                if (quiet || run.IsCompleted)
                    continue;
                CuratorStatusInfo s;
                try
                {
                    s = await client.GetCuratorStatusAsync(ct).ConfigureAwait(false);
                }
                catch (AdminProtocolException)
                {
                    continue;
                }
                string line = s.Running ? $"{s.Phase}: {s.Done}/{s.Total}" : "waiting for the pass in progress";
                if (line != last)
                    c.Env.Out.WriteLine(line);
                last = line;
            }
            CuratorReportInfo report = await run.ConfigureAwait(false);
            if (quiet)
            {
                c.Env.Out.WriteLine(JsonSerializer.Serialize(report, AdminJsonContext.Indented.CuratorReportInfo));
                return report.Problems.Count == 0 ? CliExitCode.Ok : CliExitCode.Failed;
            }
            Print(c.Env, report);
            return report.Problems.Count == 0 ? CliExitCode.Ok : CliExitCode.Failed;
        }));

        var status = new Command("status", "Show the Curator's pass in progress and its last report") { socket, dataDir, statusJson };
        status.SetAction((parse, ct) => c.RunAsync(parse, async client =>
        {
            CuratorStatusInfo s = await client.GetCuratorStatusAsync(ct).ConfigureAwait(false);
            if (parse.GetValue(statusJson))
            {
                c.Env.Out.WriteLine(JsonSerializer.Serialize(s, AdminJsonContext.Indented.CuratorStatusInfo));
                return CliExitCode.Ok;
            }
            c.Env.Out.WriteLine(s.Running ? $"running: {s.Phase}, {s.Done}/{s.Total}" : "idle");
            if (s.Last is { } r)
                Print(c.Env, r);
            return CliExitCode.Ok;
        }));

        return new Command("curator", "The Curator: background passes over the metadata (garbage collection, compaction, post-process data reduction, scrub)")
        {
            scan, status,
        };
    }

    private static void Print(CliEnvironment env, CuratorReportInfo r)
    {
        var inv = CultureInfo.InvariantCulture;
        var table = new Table().Border(TableBorder.None).HideHeaders();
        table.AddColumn(new TableColumn("what").Padding(0, 0, 3, 0));
        table.AddColumn(new TableColumn("figure").RightAligned());
        void Row(string what, string figure) => table.AddRow(Markup.Escape(what), Markup.Escape(figure));
        Row("pass started", r.Started.ToString("u", inv));
        Row("took", r.Seconds.ToString("0.0", inv) + " s");
        Row("blocks reduced (post-process)", $"{r.BlocksReduced} ({ByteSize.Format(r.BytesReduced)})");
        Row("reference counts corrected", r.ReferencesFixed.ToString(inv));
        Row("orphan slots freed", r.OrphanSlotsFreed.ToString(inv));
        Row("unreferenced extents collected", $"{r.ExtentsCollected} ({ByteSize.Format(r.BytesCollected)})");
        Row("empty packs freed", r.PacksFreed.ToString(inv));
        Row("packs compacted", $"{r.PacksCompacted} ({ByteSize.Format(r.BytesMoved)} moved)");
        Row("extents verified", r.Scrubbed ? r.ExtentsVerified.ToString(inv) : "(no scrub)");
        Row("slot blocks verified", r.Scrubbed ? r.BlocksVerified.ToString(inv) : "(no scrub)");
        Row("problems", r.Problems.Count.ToString(inv));
        env.Console.Write(table);
        foreach (var p in r.Problems)
            env.Out.WriteLine("problem: " + p);
    }
}
