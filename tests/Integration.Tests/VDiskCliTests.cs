using System.Text.Json;

namespace StorageAppliance.Integration.Tests;

/// <summary>
/// <c>appliance vdisk create|list|resize|delete</c> end to end: the CLI process talks to a running
/// <c>appliance run</c> over its admin socket, and libiscsi's clients see the result on the wire.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class VDiskCliTests
{
    private const string Target = ApplianceProcess.DefaultTarget;

    [Test]
    public void Create_export_resize_restart_and_delete_are_seen_by_iscsi_clients()
    {
        var appliance = ApplianceProcess.Start(ApplianceProcess.SimpleConfig("64MiB"));
        try
        {
            var create = appliance.Cli("vdisk", "create", "extra", "--container", "default", "--size", "32MiB", "--target", Target, "--lun", "3");
            Assert.That(create.ExitCode, Is.EqualTo(0), create.All);
            Assert.That(create.Stdout, Does.Contain("Created vDisk 'extra'").And.Contain($"exported as {Target}:3"));

            var ls = Client.Run("iscsi-ls", "-s", $"iscsi://{appliance.Portal}");
            Assert.That(ls.ExitCode, Is.EqualTo(0), ls.All);
            Assert.That(ls.Stdout, Does.Contain("Lun:3    Type:DIRECT_ACCESS"), "discovery shows the new LUN");
            var inq = Client.Run("iscsi-inq", appliance.Url(lun: 3));
            Assert.That(inq.ExitCode, Is.EqualTo(0), inq.All);
            Assert.That(inq.Stdout, Does.Contain("Peripheral Device Type:DIRECT_ACCESS"));
            AssertCapacity(appliance, 3, 32L << 20);

            var io = Client.Run("qemu-io", ["-f", "raw", "-c", "write -P 0x5a 1M 1M", appliance.Url(lun: 3)]);
            Assert.That(io.ExitCode, Is.EqualTo(0), io.All);

            var list = ListJson(appliance);
            var extra = list.Single(v => v.GetProperty("name").GetString() == "extra");
            Assert.That(extra.GetProperty("capacityBytes").GetInt64(), Is.EqualTo(32L << 20));
            Assert.That(extra.GetProperty("exports").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { $"{Target}:3" }));
            Assert.That(list.Select(v => v.GetProperty("name").GetString()), Is.EquivalentTo(new[] { "disk0", "extra" }));
            var table = appliance.Cli("vdisk", "list");
            Assert.That(table.ExitCode, Is.EqualTo(0), table.All);
            Assert.That(table.Stdout, Does.Contain("extra").And.Contain("32 MiB").And.Contain($"{Target}:3"), table.Stdout);

            var resize = appliance.Cli("vdisk", "resize", "extra", "--size", "48MiB");
            Assert.That(resize.ExitCode, Is.EqualTo(0), resize.All);
            Assert.That(resize.Stdout, Does.Contain("Resized vDisk 'extra' to 48 MiB (50331648 bytes)"));
            AssertCapacity(appliance, 3, 48L << 20);

            // The run-time export, the new size and the data survive a restart.
            appliance.Stop();
            appliance = appliance.Restart();
            AssertCapacity(appliance, 3, 48L << 20);
            io = Client.Run("qemu-io", ["-f", "raw", "-c", "read -P 0x5a 1M 1M", "-c", "read -P 0 0 1M", appliance.Url(lun: 3)]);
            Assert.That(io.ExitCode, Is.EqualTo(0), io.All);
            Assert.That(io.All, Does.Not.Contain("Pattern verification failed"), io.All);

            var delete = appliance.Cli("vdisk", "delete", "extra", "--yes");
            Assert.That(delete.ExitCode, Is.EqualTo(0), delete.All);
            Assert.That(delete.Stdout, Does.Contain("Deleted vDisk 'extra'."));
            ls = Client.Run("iscsi-ls", "-s", $"iscsi://{appliance.Portal}");
            Assert.That(ls.Stdout, Does.Contain("Lun:0 ").And.Not.Contain("Lun:3 "), "the LUN is gone from discovery");
            Assert.That(Client.Run("iscsi-readcapacity16", appliance.Url(lun: 3)).ExitCode, Is.Not.EqualTo(0), "LUN 3 no longer answers");
            Assert.That(ListJson(appliance).Select(v => v.GetProperty("name").GetString()), Is.EqualTo(new[] { "disk0" }));

            // ...and it stays deleted after a restart.
            appliance.Stop();
            appliance = appliance.Restart();
            Assert.That(ListJson(appliance).Select(v => v.GetProperty("name").GetString()), Is.EqualTo(new[] { "disk0" }));
            ls = Client.Run("iscsi-ls", "-s", $"iscsi://{appliance.Portal}");
            Assert.That(ls.Stdout, Does.Not.Contain("Lun:3 "));
        }
        finally
        {
            appliance.Dispose();
        }
    }

    [Test]
    public void Mistakes_exit_non_zero_with_a_clear_message()
    {
        using var appliance = ApplianceProcess.Start(ApplianceProcess.SimpleConfig("64MiB"));
        var ok = appliance.Cli("vdisk", "create", "twice", "--container", "default", "--size", "16MiB");
        Assert.That(ok.ExitCode, Is.EqualTo(0), ok.All);

        AssertFails(appliance.Cli("vdisk", "create", "twice", "--container", "default", "--size", "16MiB"), 4, "already exists");
        AssertFails(appliance.Cli("vdisk", "create", "other", "--container", "nope", "--size", "16MiB"), 3, "no container named nope");
        AssertFails(appliance.Cli("vdisk", "create", "other", "--container", "default", "--size", "12parsecs"), 2, "--size");
        AssertFails(appliance.Cli("vdisk", "create", "other", "--container", "default", "--size", "0"), 2, "--size");
        AssertFails(appliance.Cli("vdisk", "create", "other", "--container", "default", "--size", "1000"), 2, "multiple of the block size");
        AssertFails(appliance.Cli("vdisk", "create", "other", "--container", "default", "--size", "16MiB", "--target", Target, "--lun", "0"), 4, "LUN 0");
        AssertFails(appliance.Cli("vdisk", "create", "other", "--size", "16MiB", "--target", "iqn.2026-11.test:nope"), 3, "no iSCSI target named iqn.2026-11.test:nope");
        AssertFails(appliance.Cli("vdisk", "resize", "nope", "--size", "16MiB"), 3, "no vDisk named nope");
        AssertFails(appliance.Cli("vdisk", "resize", "twice", "--size", "8MiB"), 2, "--shrink");
        AssertFails(appliance.Cli("vdisk", "delete", "nope", "--yes"), 3, "nope");
        AssertFails(appliance.Cli("vdisk", "delete", "disk0", "--yes"), 4, "remove it from the config");
        AssertFails(appliance.Cli("vdisk", "delete", "twice"), 2, "--yes");

        // None of the refused requests changed anything.
        var names = ListJson(appliance).Select(v => v.GetProperty("name").GetString());
        Assert.That(names, Is.EquivalentTo(new[] { "disk0", "twice" }));
        Assert.That(ListJson(appliance).Single(v => v.GetProperty("name").GetString() == "twice").GetProperty("capacityBytes").GetInt64(), Is.EqualTo(16L << 20));

        // With the appliance gone, the CLI says so instead of hanging.
        appliance.Stop();
        AssertFails(appliance.Cli("vdisk", "list"), 6, "admin");
    }

    /// <summary>
    /// The README's quick start, as a new user types it: the default config (NFS moved to free ports, no
    /// portmapper), the appliance started in a folder, and the README's <c>out/appliance vdisk</c> lines run
    /// verbatim from that folder (the CLI finds ./data/admin.sock as it does after <c>make run</c>).
    /// </summary>
    [Test]
    public void Readme_quick_start_vdisk_commands_work_as_written()
    {
        string readme = File.ReadAllText(Path.Combine(Paths.RepoRoot, "README.md"));
        int quickStart = readme.IndexOf("## Quick start", StringComparison.Ordinal);
        Assert.That(quickStart, Is.GreaterThanOrEqualTo(0), "the README has a quick start");
        string section = readme[quickStart..readme.IndexOf("\n## ", quickStart + 1, StringComparison.Ordinal)];
        var commands = section.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("out/appliance vdisk ", StringComparison.Ordinal)).ToList();
        Assert.That(commands, Has.Count.GreaterThanOrEqualTo(2), "the quick start shows vdisk create and list");
        Assert.That(commands[0], Does.StartWith("out/appliance vdisk create "));

        string config = File.ReadAllText(Path.Combine(Paths.RepoRoot, "config", "appliance.yaml"));
        using var appliance = ApplianceProcess.Start(config, portmapper: "off");
        const string readmeTarget = "iqn.2026-11.io.storageappliance:default";
        var outputs = new List<Client.Result>();
        foreach (string line in commands)
        {
            // Shell words: the examples use no quotes; a trailing "# ..." is a comment.
            string words = line.Contains(" #", StringComparison.Ordinal) ? line[..line.IndexOf(" #", StringComparison.Ordinal)] : line;
            string[] argv = words.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var r = Client.Run(Paths.Appliance, argv[1..], TimeSpan.FromSeconds(60), workDir: appliance.WorkDir);
            Assert.That(r.ExitCode, Is.EqualTo(0), $"{line}\n{r.All}");
            outputs.Add(r);
        }
        Assert.That(outputs[0].Stdout, Does.Contain("Created vDisk 'disk1'").And.Contain($"exported as {readmeTarget}:1"), outputs[0].All);
        var ls = Client.Run("iscsi-ls", "-s", $"iscsi://{appliance.Portal}");
        Assert.That(ls.Stdout, Does.Contain("Lun:1 "), "the new vDisk is LUN 1, the first free one");
        var cap = Client.Run("iscsi-readcapacity16", appliance.Url(readmeTarget, lun: 1));
        Assert.That(cap.Stdout, Does.Contain($"Total size:{20L << 30}"), cap.All);
    }

    [Test]
    public void Create_defaults_container_and_lun_and_refuses_names_against_the_rule()
    {
        // Two containers: the appliance can choose only through the target.
        using var appliance = ApplianceProcess.Start(ApplianceProcess.SimpleConfig("64MiB", containerExtra: "  - name: second"));

        AssertFails(appliance.Cli("vdisk", "create", "loose", "--size", "16MiB"), 2, "there are 2 containers (default, second): name one with --container");
        var viaTarget = appliance.Cli("vdisk", "create", "b", "--size", "16MiB", "--target", Target);
        Assert.That(viaTarget.ExitCode, Is.EqualTo(0), viaTarget.All);
        Assert.That(viaTarget.Stdout, Does.Contain("in container default").And.Contain($"exported as {Target}:1"), "disk0's container, and LUN 1 after disk0's 0");
        var named = appliance.Cli("vdisk", "create", "c", "--size", "16MiB", "--container", "second", "--target", Target);
        Assert.That(named.ExitCode, Is.EqualTo(0), named.All);
        Assert.That(named.Stdout, Does.Contain("in container second").And.Contain($"exported as {Target}:2"));
        Assert.That(Client.Run("iscsi-ls", "-s", $"iscsi://{appliance.Portal}").Stdout, Does.Contain("Lun:1 ").And.Contain("Lun:2 "));
        // Mixed containers behind the target now: the choice is the operator's again.
        AssertFails(appliance.Cli("vdisk", "create", "d", "--size", "16MiB", "--target", Target), 2, "name one with --container");

        // The CLI refuses a reserved or malformed name before it connects...
        AssertFails(appliance.Cli("vdisk", "create", "nfs-0000000000000001", "--container", "default", "--size", "16MiB"), 2, "reserved for the vDisks of NFS files");
        AssertFails(appliance.Cli("vdisk", "create", "no/slash", "--container", "default", "--size", "16MiB"), 2, "is not a valid vDisk name");
        // ...and the appliance refuses it from any other client of the admin socket.
        foreach (string name in new[] { "nfs-0000000000000001", "no/slash", "x" + new string('y', 64) })
        {
            var curl = Client.Run("curl", "-sS", "--unix-socket", Path.Combine(appliance.DataDir, "admin.sock"), "-X", "POST", "-H", "Content-Type: application/json",
                "-d", $$"""{"name":"{{name}}","container":"default","capacityBytes":16777216}""", "-w", "\n%{http_code}", "http://localhost/v1/vdisks");
            Assert.That(curl.ExitCode, Is.EqualTo(0), curl.All);
            Assert.That(curl.Stdout, Does.Contain("\"error\":\"Invalid\"").And.EndWith("400"), curl.Stdout);
        }

        Assert.That(ListJson(appliance).Select(v => v.GetProperty("name").GetString()), Is.EquivalentTo(new[] { "disk0", "b", "c" }));
    }

    private static void AssertFails(Client.Result r, int exitCode, string message)
    {
        Assert.That(r.ExitCode, Is.EqualTo(exitCode), r.All);
        Assert.That(r.Stderr, Does.Contain(message), r.All);
        Assert.That(r.Stderr.TrimStart(), Does.StartWith("appliance: ").Or.Contain("--size").Or.Contain("--yes"), r.All);
    }

    private static void AssertCapacity(ApplianceProcess appliance, int lun, long bytes)
    {
        var cap = Client.Run("iscsi-readcapacity16", appliance.Url(lun: lun));
        Assert.That(cap.ExitCode, Is.EqualTo(0), cap.All);
        Assert.That(cap.Stdout, Does.Contain($"Total size:{bytes}"), cap.Stdout);
    }

    private static List<JsonElement> ListJson(ApplianceProcess appliance)
    {
        var r = appliance.Cli("vdisk", "list", "--json");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.All);
        return JsonDocument.Parse(r.Stdout).RootElement.EnumerateArray().ToList();
    }
}
