using System.Security.Cryptography;
using System.Text.Json;

namespace StorageAppliance.Integration.Tests;

/// <summary>
/// The vDisk that holds an NFS file's data belongs to the file: the real appliance refuses to delete or
/// resize it through <c>appliance vdisk</c> (naming the file), lists it by the file's path and size,
/// reserves the nfs- prefix, and its Curator scan finds a file whose vDisk is missing and a vDisk whose
/// file is gone. Files are written by libnfs's nfs-cp.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class NfsFileVDiskTests
{
    private const int Conflict = 4;
    private const int Invalid = 2;

    private static void Require(string tool)
    {
        if (!File.Exists("/usr/bin/" + tool))
            Assert.Ignore($"{tool} is not installed (tests/setup/install-deps.sh installs it)");
    }

    private static Client.Result Nfs(string tool, params string[] args) => Client.Run("/usr/bin/" + tool, args, TimeSpan.FromMinutes(3));

    private static string Sha(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(f));
    }

    private static string Upload(ApplianceProcess appliance, string name, int size, int seed)
    {
        string local = Path.Combine(appliance.WorkDir, "local-" + name);
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        File.WriteAllBytes(local, data);
        var up = Nfs("nfs-cp", local, appliance.NfsUrl("/vmstore/" + name));
        Assert.That(up.ExitCode, Is.EqualTo(0), up.All);
        return local;
    }

    private static List<JsonElement> ListJson(ApplianceProcess appliance)
    {
        var r = appliance.Cli("vdisk", "list", "--json");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.All);
        return JsonDocument.Parse(r.Stdout).RootElement.EnumerateArray().ToList();
    }

    /// <summary>The name of the vDisk that holds /vmstore/<paramref name="file"/>, from <c>vdisk list --json</c>.</summary>
    private static string VDiskOf(ApplianceProcess appliance, string file)
    {
        var list = ListJson(appliance);
        var match = list.Where(v => v.TryGetProperty("nfsFile", out var f) && f.ValueKind == JsonValueKind.Object
            && f.GetProperty("export").GetString() == "/vmstore" && f.GetProperty("path").GetString() == "/" + file).ToList();
        Assert.That(match, Has.Count.EqualTo(1), $"vdisk list shows /vmstore:/{file}: " + string.Join("\n", list));
        return match[0].GetProperty("name").GetString()!;
    }

    private static void AssertFails(Client.Result r, int exitCode, params string[] texts)
    {
        Assert.That(r.ExitCode, Is.EqualTo(exitCode), r.All);
        Assert.That(r.Stderr.TrimStart(), Does.StartWith("appliance: "), r.All);
        foreach (var t in texts)
            Assert.That(r.Stderr, Does.Contain(t), r.All);
    }

    [Test]
    public void The_vdisk_of_an_nfs_file_is_refused_to_vdisk_delete_and_resize_and_listed_by_the_files_path()
    {
        Require("nfs-cp");
        using var appliance = ApplianceProcess.Start(ApplianceProcess.NfsConfig(), portmapper: "off");
        string local = Upload(appliance, "guarded.img", (1 << 20) + 7, 1);
        string name = VDiskOf(appliance, "guarded.img");
        Assert.That(name, Does.Match("^nfs-[0-9a-f]{16}$"));
        var entry = ListJson(appliance).Single(v => v.GetProperty("name").GetString() == name);
        Assert.That(entry.GetProperty("nfsFile").GetProperty("sizeBytes").GetInt64(), Is.EqualTo((1L << 20) + 7));

        var table = appliance.Cli("vdisk", "list");
        Assert.That(table.ExitCode, Is.EqualTo(0), table.All);
        string row = table.Stdout.Split('\n').Single(l => l.StartsWith(name, StringComparison.Ordinal));
        Assert.That(row, Does.Contain("NFS file /vmstore:/guarded.img").And.Not.Contain("16 TiB"), "the file's size, not its address space: " + row);
        Assert.That(table.Stdout, Does.Contain("SIZE is the file's size").And.Contain("delete and resize are refused"));

        string[] why = ["holds the data of NFS file /guarded.img in export /vmstore", "/vmstore:/guarded.img", "managed only through the file"];
        AssertFails(appliance.Cli("vdisk", "delete", name, "--yes"), Conflict, [.. why, "remove the file over NFS"]);
        AssertFails(appliance.Cli("vdisk", "resize", name, "--size", "1GiB"), Conflict, [.. why, "truncate or extend the file"]);
        AssertFails(appliance.Cli("vdisk", "resize", name, "--size", "1MiB", "--shrink"), Conflict, why);
        // A vDisk made under an NFS data name would become a future file's contents.
        AssertFails(appliance.Cli("vdisk", "create", "nfs-00000000000fffff", "--container", "default", "--size", "1MiB"), Invalid, "reserved for the vDisks of NFS files");
        AssertFails(appliance.Cli("vdisk", "create", "NFS-mine", "--container", "default", "--size", "1MiB"), Invalid, "reserved");
        // QoS is allowed: it changes no data.
        var qos = appliance.Cli("vdisk", "qos", name, "--iops", "5000");
        Assert.That(qos.ExitCode, Is.EqualTo(0), qos.All);

        // Nothing changed: the file reads back whole, and the audit has nothing to say.
        string back = Path.Combine(appliance.WorkDir, "back");
        var down = Nfs("nfs-cp", appliance.NfsUrl("/vmstore/guarded.img"), back);
        Assert.That(down.ExitCode, Is.EqualTo(0), down.All);
        Assert.That(Sha(back), Is.EqualTo(Sha(local)));
        Assert.That(ListJson(appliance).Select(v => v.GetProperty("name").GetString()), Does.Contain(name));
        var scan = appliance.Cli("curator", "scan", "--no-scrub");
        Assert.That(scan.ExitCode, Is.EqualTo(0), scan.All);
        Assert.That(scan.Stdout, Does.Not.Contain("problem:"), scan.Stdout);
    }

    [Test]
    public async Task Curator_scan_reports_a_file_whose_vdisk_is_missing_and_a_vdisk_whose_file_is_gone()
    {
        Require("nfs-cp");
        var appliance = ApplianceProcess.Start(ApplianceProcess.NfsConfig(), portmapper: "off");
        try
        {
            Upload(appliance, "a.img", 300_000, 2);
            string a = VDiskOf(appliance, "a.img");
            appliance.Stop();
            // A namespace from before b.img existed and a.img was removed, as a restore from a backup
            // would bring back: a.img is named but its vDisk is gone, and b.img's vDisk names no file.
            string saved = Path.Combine(appliance.WorkDir, "namespace-backup");
            Directory.CreateDirectory(saved);
            foreach (var f in Directory.GetFiles(appliance.DataDir, "nfs-namespace.db*"))
                File.Copy(f, Path.Combine(saved, Path.GetFileName(f)));
            appliance = appliance.Restart();

            Upload(appliance, "b.img", 200_000, 3);
            string b = VDiskOf(appliance, "b.img");
            await using (var c = await NfsApplianceTests.RawNfs.ConnectAsync(appliance))
            {
                var root = await c.MountAsync("/vmstore");
                Assert.That(await c.RemoveAsync(root, "a.img"), Is.EqualTo(0u));
            }
            Assert.That(ListJson(appliance).Select(v => v.GetProperty("name").GetString()), Does.Not.Contain(a), "removing the file deleted its vDisk");
            appliance.Stop();
            foreach (var f in Directory.GetFiles(appliance.DataDir, "nfs-namespace.db*"))
                File.Delete(f);
            foreach (var f in Directory.GetFiles(saved))
                File.Copy(f, Path.Combine(appliance.DataDir, Path.GetFileName(f)));
            appliance = appliance.Restart();

            var scan = appliance.Cli("curator", "scan", "--no-scrub");
            Assert.That(scan.ExitCode, Is.EqualTo(1), "problems make the scan exit 1: " + scan.All);
            Assert.That(scan.Stdout, Does.Contain("problem: NFS file /vmstore:/a.img (300000 bytes").And.Contain($"its vDisk {a} is missing"), scan.Stdout);
            Assert.That(scan.Stdout, Does.Contain($"problem: vDisk {b} holds the data of NFS file id").And.Contain("no longer exists"), scan.Stdout);
            var status = appliance.Cli("curator", "status", "--json");
            Assert.That(status.ExitCode, Is.EqualTo(0), status.All);
            Assert.That(status.Stdout, Does.Contain("/vmstore:/a.img"), "the last report keeps the NFS problems");

            // Reading the file fails rather than returning zeros.
            var read = Nfs("nfs-cp", appliance.NfsUrl("/vmstore/a.img"), Path.Combine(appliance.WorkDir, "a-back"));
            Assert.That(read.ExitCode, Is.Not.EqualTo(0), read.All);
            Assert.That(read.All, Does.Contain("Failed to read"), read.All);
            Assert.That(appliance.LogWhenContains("its data is lost"), Does.Contain("data vDisk " + a + " is missing"));

            // The orphan may be deleted (its file is gone); the lost file is fixed by removing it.
            var delete = appliance.Cli("vdisk", "delete", b, "--yes");
            Assert.That(delete.ExitCode, Is.EqualTo(0), delete.All);
            await using (var c = await NfsApplianceTests.RawNfs.ConnectAsync(appliance))
            {
                var root = await c.MountAsync("/vmstore");
                Assert.That(await c.RemoveAsync(root, "a.img"), Is.EqualTo(0u));
            }
            scan = appliance.Cli("curator", "scan", "--no-scrub");
            Assert.That(scan.ExitCode, Is.EqualTo(0), scan.All);
        }
        finally
        {
            appliance.Dispose();
        }
    }
}
