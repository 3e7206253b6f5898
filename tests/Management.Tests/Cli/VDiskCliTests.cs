using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using StorageAppliance.Common;
using StorageAppliance.Management.Admin;
using StorageAppliance.Management.Cli;
using StorageAppliance.Management.Tests.Admin;

namespace StorageAppliance.Management.Tests.Cli;

// `appliance vdisk ...` parsed and run as the Host runs it (CliRunner), against the admin API on a
// real socket over the fake appliance: exit codes, stdout, stderr.
public class VDiskCliTests
{
    private AdminServer _server = null!;

    private FakeApplianceAdmin Admin => _server.Admin;

    private string Socket => _server.SocketPath;

    [SetUp]
    public async Task StartAsync() => _server = await AdminServer.StartAsync();

    [TearDown]
    public async Task StopAsync() => await _server.DisposeAsync();

    internal sealed record Result(int Exit, string Out, string Err)
    {
        public string[] ErrLines => Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    internal static async Task<Result> RunAsync(string[] args, string input = "", bool terminal = false, Dictionary<string, string>? variables = null)
    {
        var stdout = new StringWriter { NewLine = "\n" };
        var stderr = new StringWriter { NewLine = "\n" };
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(stdout),
        });
        console.Profile.Width = 200;
        var env = new CliEnvironment
        {
            Out = stdout,
            Error = stderr,
            In = new StringReader(input),
            InputIsTerminal = terminal,
            GetVariable = name => variables is not null && variables.TryGetValue(name, out string? v) ? v : null,
            Console = console,
        };
        var root = new RootCommand("test") { VDiskCommands.Create(env), VDiskCommands.CreateStats(env), CuratorCommands.Create(env) };
        int exit = await CliRunner.InvokeAsync(root, args, env);
        return new Result(exit, stdout.ToString(), stderr.ToString());
    }

    private Task<Result> VDisk(params string[] args) => RunAsync(["vdisk", .. args, "--socket", Socket]);

    private static void Fails(Result r, int exit, string error)
    {
        Assert.Multiple(() =>
        {
            Assert.That(r.Exit, Is.EqualTo(exit), r.Err);
            Assert.That(r.ErrLines, Has.Length.EqualTo(1), "one line on stderr");
            Assert.That(r.Err, Does.StartWith("appliance: ").And.Contain(error));
            Assert.That(r.Out, Is.Empty);
        });
    }

    // --- list ---------------------------------------------------------------------------------

    [Test]
    public async Task List_PrintsATableOfEveryColumn()
    {
        Result r = await VDisk("list");

        Assert.That((r.Exit, r.Err), Is.EqualTo((0, "")));
        string[] lines = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string header = lines.Single(l => l.Contains("NAME"));
        string row = lines.Single(l => l.Contains("disk0"));
        Assert.That(header.Split(' ', StringSplitOptions.RemoveEmptyEntries),
            Is.EqualTo(new[] { "NAME", "ID", "CONTAINER", "SIZE", "USED", "ALLOCATED", "BLOCK", "SIZE", "THIN", "EXPORTS" }));
        Assert.That(System.Text.RegularExpressions.Regex.Split(row.Trim(), @"\s{2,}"),
            Is.EqualTo(new[] { "disk0", "1", "default", "8 GiB", "4 KiB", "1 MiB", "512", "yes", $"{FakeApplianceAdmin.Target}/0" }));
    }

    [Test]
    public async Task List_Json_PrintsTheApiList()
    {
        await VDisk("create", "web", "--container", "default", "--size", "1GiB");

        Result r = await VDisk("list", "--json");

        Assert.That(r.Exit, Is.EqualTo(0), r.Err);
        JsonElement[] disks = [.. JsonDocument.Parse(r.Out).RootElement.EnumerateArray()];
        Assert.That(disks.Select(d => (d.GetProperty("name").GetString(), d.GetProperty("capacityBytes").GetInt64(), d.GetProperty("fromConfig").GetBoolean())),
            Is.EqualTo(new[] { ("disk0", 8L << 30, true), ("web", 1L << 30, false) }));
    }

    [Test]
    public async Task List_WithNoVDisks_SaysSo()
    {
        string dir = AdminServer.NewDirectory();
        await using AdminServer empty = await AdminServer.StartAsync(dir, new FakeApplianceAdmin(withConfigDisk: false));

        Result r = await RunAsync(["vdisk", "list", "--socket", empty.SocketPath]);
        Result json = await RunAsync(["vdisk", "list", "--json", "--socket", empty.SocketPath]);

        Assert.That((r.Exit, r.Out), Is.EqualTo((0, "No vDisks.\n")));
        Assert.That((json.Exit, json.Out.Trim()), Is.EqualTo((0, "[]")));
    }

    // --- create -------------------------------------------------------------------------------

    [Test]
    public async Task Create_SendsEveryOption_AndReportsTheNewVDisk()
    {
        Result r = await VDisk("create", "web01", "--container", "default", "--size", "10GiB", "--block-size", "4096", "--thick",
            "--target", FakeApplianceAdmin.Target, "--lun", "3");

        Assert.That((r.Exit, r.Err), Is.EqualTo((0, "")));
        Assert.That(Admin.LastCreate, Is.EqualTo(new VDiskCreateRequest("web01", 10L << 30, "default", 4096, false, FakeApplianceAdmin.Target, 3)));
        Assert.That(r.Out, Is.EqualTo($"Created vDisk 'web01' (id 2): 10 GiB in container default, thick, 4096-byte blocks, exported as {FakeApplianceAdmin.Target}/3.\n"));
    }

    [Test]
    public async Task Create_Defaults_AreThin512AndNotExported()
    {
        Result r = await VDisk("create", "scratch", "--container", "default", "--size", "1.5GiB");

        Assert.That(r.Exit, Is.EqualTo(0), r.Err);
        Assert.That(Admin.LastCreate, Is.EqualTo(new VDiskCreateRequest("scratch", 3L << 29, "default", 512, true, null, null)));
        Assert.That(r.Out, Does.Contain("1.5 GiB in container default, thin, 512-byte blocks, not exported."));
    }

    [TestCase("10XB", "--size: '10XB' has an unknown unit 'XB'")]
    [TestCase("big", "--size: 'big' is not a size")]
    [TestCase("0", "--size: '0' is not a usable size: it must be greater than 0")]
    public async Task Create_BadSize_ExitsTwoWithoutCallingTheAppliance(string size, string error)
    {
        Result r = await VDisk("create", "x", "--container", "default", "--size", size);

        Fails(r, 2, error);
        Assert.That(Admin.LastCreate, Is.Null);
    }

    [TestCase(new[] { "create", "x", "--container", "default" }, "--size")]
    [TestCase(new[] { "create", "--container", "default", "--size", "1GiB" }, "NAME")]
    [TestCase(new[] { "create", "x", "--container", "default", "--size", "1GiB", "--block-size", "1024" }, "--block-size 1024 is not supported (use 512 or 4096)")]
    [TestCase(new[] { "create", "x", "--container", "default", "--size", "1GiB", "--lun", "1" }, "--lun needs --target")]
    [TestCase(new[] { "create", "x", "--container", "default", "--size", "1GiB", "--target", "t", "--lun", "16384" }, "--lun 16384 is out of range (0..16383)")]
    [TestCase(new[] { "create", "x", "--container", "default", "--size", "1GiB", "--lun", "one", "--target", "t" }, "--lun: 'one' is not a whole number")]
    [TestCase(new[] { "frobnicate" }, "Unrecognized command or argument 'frobnicate'")]
    [TestCase(new[] { "create" }, "Option '--size' is required; Required argument 'NAME' missing for command: 'create' (see 'appliance vdisk create --help')")]
    [TestCase(new[] { "create", "nfs-0000000000000001", "--size", "1GiB" }, "'nfs-0000000000000001' is not a valid vDisk name: names starting with 'nfs-' are reserved for the vDisks of NFS files")]
    [TestCase(new[] { "create", "bad name", "--size", "1GiB" }, "'bad name' is not a valid vDisk name: use 1 to 64 letters, digits, '.', '_' or '-'")]
    [TestCase(new[] { "create", "a/b", "--size", "1GiB" }, "'a/b' is not a valid vDisk name")]
    [TestCase(new[] { "create", "..", "--size", "1GiB" }, "'..' is not a valid vDisk name")]
    [TestCase(new[] { "create", "x123456789x123456789x123456789x123456789x123456789x123456789x1234", "--size", "1GiB" }, "is not a valid vDisk name")]
    public async Task UsageErrors_ExitTwoWithTheReasonOnOneLine(string[] args, string error)
    {
        Result r = await VDisk(args);

        Fails(r, 2, error);
        Assert.That(r.Err, Does.Contain("--help"));
        Assert.That(Admin.LastCreate, Is.Null);
    }

    [Test]
    public async Task Create_Existing_ExitsFour()
    {
        Fails(await VDisk("create", "disk0", "--container", "default", "--size", "1GiB"), 4, "appliance: a vDisk named 'disk0' exists");
    }

    [Test]
    public async Task Create_InAMissingContainer_ExitsThree()
    {
        Fails(await VDisk("create", "x", "--container", "gold", "--size", "1GiB"), 3, "appliance: no container is named 'gold'");
    }

    [Test]
    public async Task Create_WithoutRoom_ExitsFive()
    {
        Fails(await VDisk("create", "x", "--container", "small", "--size", "2GiB", "--thick"), 5, "appliance: container 'small' has 1 GiB free");
    }

    [Test]
    public async Task Create_RefusedAsInvalidByTheAppliance_ExitsTwo()
    {
        // A 4096-byte block size with a size that is no multiple of it passes the CLI; the appliance refuses it.
        Fails(await VDisk("create", "x", "--container", "default", "--size", "6KiB", "--block-size", "4096"), 2, "appliance: size 6144 is not a positive multiple of 4096");
        Assert.That(Admin.LastCreate, Is.Not.Null, "the appliance, not the CLI, refused it");
    }

    [Test]
    public async Task Create_WithoutContainer_LetsTheApplianceChoose()
    {
        Result r = await VDisk("create", "web", "--size", "1GiB", "--target", FakeApplianceAdmin.Target);

        Assert.That(r.Exit, Is.EqualTo(0), r.Err);
        Assert.That(Admin.LastCreate, Is.EqualTo(new VDiskCreateRequest("web", 1L << 30, Target: FakeApplianceAdmin.Target)), "no container and no LUN sent");
        Assert.That(r.Out, Does.Contain("in container default"));
    }

    [Test]
    public async Task Create_WithoutContainer_WhenTheApplianceCannotChoose_ExitsTwoWithTheChoices()
    {
        Fails(await VDisk("create", "web", "--size", "1GiB"), 2, "appliance: there are 2 containers (default, small): name one with --container");
    }

    [TestCase("vdisk", "list")]
    [TestCase("vdisk", "qos")]
    [TestCase("stats")]
    [TestCase("curator", "scan")]
    [TestCase("curator", "status")]
    public async Task Help_OfEveryCommandThatTalksToTheAppliance_SaysWhereItLooksForTheSocket(params string[] command)
    {
        Result r = await RunAsync([.. command, "--help"]);

        Assert.That(r.Exit, Is.EqualTo(0), r.Err);
        Assert.That(r.Out, Does.Contain("(default: --data-dir/admin.sock, else $APPLIANCE_SOCKET, else ./data/admin.sock)"));
    }

    [Test]
    public async Task Create_Help_StatesTheNameRuleAndTheDefaults()
    {
        Result r = await RunAsync(["vdisk", "create", "--help"]);

        Assert.That(r.Exit, Is.EqualTo(0), r.Err);
        Assert.That(r.Out, Does.Contain("not starting with 'nfs-'").And.Contain("default: the only container").And.Contain("default: the target's first free one"));
        Assert.That(r.Out, Does.Not.Contain("--container <NAME> (REQUIRED)"));
    }

    [Test]
    public async Task ApplianceStarting_ExitsSix()
    {
        Admin.Starting = true;

        Fails(await VDisk("list"), 6, "appliance: the appliance is starting");
    }

    [Test]
    public async Task ApplianceFailure_ExitsOneWithItsMessage()
    {
        Admin.Fault = new InvalidOperationException("metadata store closed");

        Fails(await VDisk("list"), 1, "appliance: the appliance failed to handle the request: metadata store closed");
    }

    // --- resize -------------------------------------------------------------------------------

    [Test]
    public async Task Resize_Grows()
    {
        Result r = await VDisk("resize", "disk0", "--size", "16GiB");

        Assert.That((r.Exit, r.Out), Is.EqualTo((0, "Resized vDisk 'disk0' to 16 GiB (17179869184 bytes).\n")), r.Err);
        Assert.That(Admin.LastResize, Is.EqualTo(("disk0", 16L << 30, false)));
    }

    [Test]
    public async Task Resize_Smaller_NeedsShrink()
    {
        Result refused = await VDisk("resize", "disk0", "--size", "4GiB");
        Result shrunk = await VDisk("resize", "disk0", "--size", "4GiB", "--shrink");

        Fails(refused, 2, "needs allowShrink");
        Assert.That(shrunk.Exit, Is.EqualTo(0), shrunk.Err);
        Assert.That(Admin.LastResize, Is.EqualTo(("disk0", 4L << 30, true)));
    }

    [Test]
    public async Task Resize_Missing_ExitsThree()
    {
        Fails(await VDisk("resize", "nope", "--size", "1GiB"), 3, "appliance: no vDisk is named 'nope'");
    }

    // --- delete -------------------------------------------------------------------------------

    [Test]
    public async Task Delete_WithYes_DeletesWithoutAsking()
    {
        await VDisk("create", "tmp", "--container", "default", "--size", "1GiB");

        Result r = await RunAsync(["vdisk", "delete", "tmp", "--yes", "--socket", Socket], terminal: true);

        Assert.That((r.Exit, r.Out, r.Err), Is.EqualTo((0, "Deleted vDisk 'tmp'.\n", "")));
        Assert.That(Admin.Deleted, Is.EqualTo(new[] { "tmp" }));
    }

    [Test]
    public async Task Delete_NotOnATerminalWithoutYes_Refuses()
    {
        await VDisk("create", "tmp", "--container", "default", "--size", "1GiB");

        Result r = await RunAsync(["vdisk", "delete", "tmp", "--socket", Socket], input: "y\n", terminal: false);

        Fails(r, 2, "refusing to delete vDisk 'tmp' without confirmation: stdin is not a terminal, so pass --yes");
        Assert.That(Admin.Deleted, Is.Empty);
    }

    [TestCase("y\n")]
    [TestCase("YES\n")]
    public async Task Delete_OnATerminal_AsksAndDeletesOnYes(string answer)
    {
        await VDisk("create", "tmp", "--container", "default", "--size", "1GiB");

        Result r = await RunAsync(["vdisk", "delete", "tmp", "--socket", Socket], input: answer, terminal: true);

        Assert.That((r.Exit, r.Out), Is.EqualTo((0, "Deleted vDisk 'tmp'.\n")));
        Assert.That(r.Err, Is.EqualTo("Delete vDisk 'tmp' and all its data? [y/N] "));
        Assert.That(Admin.Deleted, Is.EqualTo(new[] { "tmp" }));
    }

    [TestCase("n\n")]
    [TestCase("\n")]
    [TestCase("")]
    [TestCase("yep\n")]
    public async Task Delete_OnATerminal_KeepsTheVDiskUnlessTheAnswerIsYes(string answer)
    {
        await VDisk("create", "tmp", "--container", "default", "--size", "1GiB");

        Result r = await RunAsync(["vdisk", "delete", "tmp", "--socket", Socket], input: answer, terminal: true);

        Assert.That(r.Exit, Is.EqualTo(1));
        Assert.That(r.Err, Does.EndWith("appliance: vDisk 'tmp' was not deleted\n"));
        Assert.That(Admin.Deleted, Is.Empty);
    }

    [Test]
    public async Task Delete_OnATerminal_OfAMissingVDisk_SaysSoWithoutAsking()
    {
        Result r = await RunAsync(["vdisk", "delete", "nope", "--socket", Socket], input: "y\n", terminal: true);

        Fails(r, 3, "appliance: no vDisk is named 'nope'");
        Assert.That(r.Err, Does.Not.Contain("[y/N]"));
    }

    [Test]
    public async Task Delete_ConfigDefined_ExitsFour()
    {
        Fails(await VDisk("delete", "disk0", "--yes"), 4, "appliance: vDisk 'disk0' is defined in the config file; remove it there");
    }

    // --- finding the socket -------------------------------------------------------------------

    [Test]
    public async Task NothingListening_ExitsSixWithTheDocumentedLine()
    {
        string missing = Path.Combine(_server.Directory, "none.sock");

        Result r = await RunAsync(["vdisk", "list", "--socket", missing]);

        Assert.That((r.Exit, r.Err), Is.EqualTo((6, $"appliance: cannot reach the appliance at {missing}: is it running?\n")));
    }

    [Test]
    public async Task NoOptionAndNoVariable_UsesDataAdminSockInTheCurrentFolder()
    {
        Assume.That(File.Exists("data/admin.sock"), Is.False);

        Result r = await RunAsync(["vdisk", "list"]);

        Assert.That((r.Exit, r.Err), Is.EqualTo((6, "appliance: cannot reach the appliance at ./data/admin.sock: is it running?\n")));
    }

    [Test]
    public async Task StaleSocketFile_ExitsSix()
    {
        string stale = Path.Combine(_server.Directory, "stale.sock");
        using (var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified))
        {
            s.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(stale + ".bound"));
            File.Move(stale + ".bound", stale);
        }

        Result r = await RunAsync(["vdisk", "list", "--socket", stale]);

        Assert.That((r.Exit, r.Err), Is.EqualTo((6, $"appliance: cannot reach the appliance at {stale}: is it running?\n")));
    }

    [Test]
    public async Task DataDirOption_FindsAdminSockInIt()
    {
        Result r = await RunAsync(["vdisk", "list", "--json", "--data-dir", _server.Directory]);

        Assert.That(r.Exit, Is.EqualTo(0), r.Err);
        Assert.That(r.Out, Does.Contain("\"disk0\""));
    }

    [Test]
    public async Task EnvironmentVariable_IsUsedWhenNoOptionIsGiven()
    {
        Result r = await RunAsync(["vdisk", "list", "--json"], variables: new() { ["APPLIANCE_SOCKET"] = Socket });

        Assert.That(r.Exit, Is.EqualTo(0), r.Err);
        Assert.That(r.Out, Does.Contain("\"disk0\""));
    }

    [Test]
    public async Task SocketOption_WinsOverDataDirAndTheVariable()
    {
        string elsewhere = Path.Combine(_server.Directory, "elsewhere");

        Result r = await RunAsync(["vdisk", "list", "--socket", Socket, "--data-dir", elsewhere], variables: new() { ["APPLIANCE_SOCKET"] = elsewhere });

        Assert.That(r.Exit, Is.EqualTo(0), r.Err);
    }

    [Test]
    public async Task SocketPathTooLong_ExitsTwo()
    {
        Fails(await RunAsync(["vdisk", "list", "--socket", "/tmp/" + new string('s', 120)]), 2, "a Unix socket path is at most 107");
    }

    [TestCase("/s", "/d", "/e", "/s")]
    [TestCase(null, "/d", "/e", "/d/admin.sock")]
    [TestCase(null, null, "/e", "/e")]
    [TestCase(null, null, "", "./data/admin.sock")]
    [TestCase(null, null, null, "./data/admin.sock")]
    public void SocketLocator_TakesSocketThenDataDirThenTheVariableThenTheDefault(string? socket, string? dataDir, string? variable, string expected)
    {
        Assert.That(SocketLocator.Resolve(socket, dataDir, name => name == "APPLIANCE_SOCKET" ? variable : null), Is.EqualTo(expected));
    }

    // --- qos and stats --------------------------------------------------------------------------

    [Test]
    public async Task Qos_SendsOnlyTheGivenFields()
    {
        Result r = await VDisk("qos", "disk0", "--class", "low", "--iops", "1000", "--bandwidth", "64MiB/s", "--max-outstanding", "8");

        Assert.That((r.Exit, r.Err), Is.EqualTo((0, "")));
        Assert.That(Admin.LastQos, Is.EqualTo(("disk0", new VDiskQosRequest("low", null, 1000, 64L << 20, null, null, 8))));
        Assert.That(r.Out, Is.EqualTo("vDisk 'disk0': class low, weight 1, IOPS 1000, bandwidth 64 MiB/s, max outstanding 8.\n"));
    }

    [Test]
    public async Task Qos_RefusesABadClassAndWeight()
    {
        Fails(await VDisk("qos", "disk0", "--class", "urgent"), 2, "urgent");
        Fails(await VDisk("qos", "disk0", "--weight", "0"), 2, "--weight 0 is out of range (1..10000)");
        Fails(await VDisk("qos", "nope", "--weight", "2"), 3, "no vDisk is named 'nope'");
    }

    [Test]
    public async Task Stats_ShowsRatesFromTwoSamples()
    {
        Result r = await RunAsync(["stats", "--interval", "0.01", "--socket", Socket]);

        Assert.That((r.Exit, r.Err), Is.EqualTo((0, "")));
        string row = r.Out.Split('\n').Single(l => l.TrimStart().StartsWith("disk0", StringComparison.Ordinal));
        // The fake serves 100 reads and 400 KiB per call, 10 ms apart: 10,000 IOPS and 40,000 KiB/s.
        Assert.That(System.Text.RegularExpressions.Regex.Split(row.Trim(), @"\s{2,}"),
            Is.EqualTo(new[] { "disk0", "high", "1", "10000", ByteSize.Format(40960000) + "/s", "2", "4", "40us/120us", "40us/120us", "0" }));
        Assert.That(r.Out, Does.Contain("iqn.2026-12.test:client"));
    }

    [Test]
    public async Task CuratorScan_PrintsWhatThePassFoundAndFixed_AndExitsNonZeroOnAProblem()
    {
        Result r = await RunAsync(["curator", "scan", "--socket", Socket]);

        Assert.That(r.Exit, Is.EqualTo(1), "the fake's scrub reports a corrupt extent: " + r.Err);
        Assert.That(r.Out, Does.Match(@"blocks reduced \(post-process\)\s+1 \(1 MiB\)"));
        Assert.That(r.Out, Does.Match(@"unreferenced extents collected\s+3 \(12 KiB\)"));
        Assert.That(r.Out, Does.Contain("problem: corrupt extent 4096:00 (ChecksumMismatch), used by vDisk a at offset 0"));

        Result clean = await RunAsync(["curator", "scan", "--no-scrub", "--json", "--socket", Socket]);
        Assert.That(clean.Exit, Is.EqualTo(0), clean.Err + clean.Out);
        JsonElement root = JsonDocument.Parse(clean.Out).RootElement;
        Assert.That((root.GetProperty("scrubbed").GetBoolean(), root.GetProperty("blocksReduced").GetInt32(), root.GetProperty("problems").GetArrayLength()),
            Is.EqualTo((false, 2, 0)), "the second pass, without scrub");
    }

    [Test]
    public async Task Stats_Json_IsTheApiBody()
    {
        Result r = await RunAsync(["stats", "--json", "--interval", "0", "--socket", Socket]);

        Assert.That(r.Exit, Is.EqualTo(0), r.Err);
        JsonElement root = JsonDocument.Parse(r.Out).RootElement;
        Assert.That(root.GetProperty("vDisks")[0].GetProperty("queueTime").GetProperty("p99Micros").GetInt64(), Is.EqualTo(120));
        Assert.That(root.GetProperty("clients")[0].GetProperty("protocol").GetString(), Is.EqualTo("Iscsi"));
    }
}
