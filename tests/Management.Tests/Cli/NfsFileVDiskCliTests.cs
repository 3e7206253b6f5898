using System.Text.Json;
using StorageAppliance.Management.Tests.Admin;

namespace StorageAppliance.Management.Tests.Cli;

// `appliance vdisk list|delete|resize` of a vDisk that holds an NFS file's data, over the admin API on a
// real socket: the file's path and size are shown, and delete and resize are refused with the file named
// (the appliance refuses them; the interactive delete says so before asking).
public class NfsFileVDiskCliTests
{
    private const string Name = "nfs-000000000000002a";

    private AdminServer _server = null!;

    [SetUp]
    public async Task StartAsync()
    {
        _server = await AdminServer.StartAsync();
        _server.Admin.AddNfsFileVDisk(Name, "/vmstore", "/vm1/disk.vmdk", 3L << 20);
    }

    [TearDown]
    public async Task StopAsync() => await _server.DisposeAsync();

    private Task<VDiskCliTests.Result> VDisk(params string[] args) => VDiskCliTests.RunAsync(["vdisk", .. args, "--socket", _server.SocketPath]);

    [Test]
    public async Task List_ShowsTheFilesPathAndSizeNotTheAddressSpace()
    {
        var r = await VDisk("list");

        Assert.That((r.Exit, r.Err), Is.EqualTo((0, "")));
        string row = r.Out.Split('\n').Single(l => l.StartsWith(Name, StringComparison.Ordinal));
        Assert.That(System.Text.RegularExpressions.Regex.Split(row.Trim(), @"\s{2,}"),
            Is.EqualTo(new[] { Name, "2", "default", "3 MiB", "3 MiB", "3 MiB", "512", "yes", "NFS file /vmstore:/vm1/disk.vmdk" }));
        Assert.That(r.Out, Does.Contain("NFS files: SIZE is the file's size (its vDisk addresses up to 16 TiB, the most the file may grow to)"));
        Assert.That(r.Out, Does.Contain("delete and resize are refused; QoS may be set"));
    }

    [Test]
    public async Task List_WithoutNfsFiles_HasNoNote()
    {
        string dir = AdminServer.NewDirectory();
        await using AdminServer plain = await AdminServer.StartAsync(dir, new FakeApplianceAdmin());
        var r = await VDiskCliTests.RunAsync(["vdisk", "list", "--socket", plain.SocketPath]);
        Assert.That(r.Exit, Is.EqualTo(0));
        Assert.That(r.Out, Does.Not.Contain("NFS"));
    }

    [Test]
    public async Task List_Json_HasTheNfsFile()
    {
        var r = await VDisk("list", "--json");

        Assert.That(r.Exit, Is.EqualTo(0), r.Err);
        var disks = JsonDocument.Parse(r.Out).RootElement.EnumerateArray().ToList();
        var file = disks.Single(d => d.GetProperty("name").GetString() == Name).GetProperty("nfsFile");
        Assert.That((file.GetProperty("export").GetString(), file.GetProperty("path").GetString(), file.GetProperty("sizeBytes").GetInt64()),
            Is.EqualTo(("/vmstore", "/vm1/disk.vmdk", 3L << 20)));
        Assert.That(disks.Single(d => d.GetProperty("name").GetString() == "disk0").GetProperty("nfsFile").ValueKind, Is.EqualTo(JsonValueKind.Null));
    }

    [Test]
    public async Task Delete_IsRefusedNamingTheFile()
    {
        var r = await VDisk("delete", Name, "--yes");

        Assert.That(r.Exit, Is.EqualTo(4), r.Err);
        Assert.That(r.Err, Is.EqualTo($"appliance: {Name} holds the data of NFS file /vm1/disk.vmdk in export /vmstore (/vmstore:/vm1/disk.vmdk); " +
            "it is managed only through the file: remove the file over NFS to delete its data\n"));
        Assert.That(r.Out, Is.Empty);
        Assert.That(_server.Admin.Deleted, Is.Empty);
    }

    [Test]
    public async Task Delete_OnATerminal_IsRefusedBeforeAsking()
    {
        var r = await VDiskCliTests.RunAsync(["vdisk", "delete", Name, "--socket", _server.SocketPath], input: "y\n", terminal: true);

        Assert.That(r.Exit, Is.EqualTo(4), r.Err);
        Assert.That(r.Err, Does.Not.Contain("[y/N]").And.Contain("/vmstore:/vm1/disk.vmdk").And.Contain("managed only through the file"));
        Assert.That(_server.Admin.Deleted, Is.Empty);
    }

    [Test]
    public async Task Resize_IsRefusedNamingTheFile()
    {
        var r = await VDisk("resize", Name, "--size", "32TiB");

        Assert.That(r.Exit, Is.EqualTo(4), r.Err);
        Assert.That(r.Err, Does.Contain("/vmstore:/vm1/disk.vmdk").And.Contain("truncate or extend the file over NFS"));
        Assert.That(ListCapacity(), Is.EqualTo(16L << 40));
    }

    [Test]
    public async Task Qos_IsAllowed()
    {
        var r = await VDisk("qos", Name, "--iops", "100");
        Assert.That(r.Exit, Is.EqualTo(0), r.Err);
    }

    private long ListCapacity() => _server.Admin.ListVDisks().Single(v => v.Name == Name).CapacityBytes;
}
