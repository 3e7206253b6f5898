using System.Diagnostics;

namespace StorageAppliance.Integration.Tests;

/// <summary>The appliance as an operator meets it: a broken config stops it with a clear error; Ctrl-C stops it cleanly.</summary>
[TestFixture]
public sealed class HostTests
{
    private static Client.Result RunWithConfig(string yaml)
    {
        string dir = Directory.CreateTempSubdirectory("sa-cfg-").FullName;
        string path = Path.Combine(dir, "bad.yaml");
        File.WriteAllText(path, yaml);
        try
        {
            return Client.Run(Paths.Appliance, ["run", "--config", path, "--data-dir", Path.Combine(dir, "data")], TimeSpan.FromSeconds(60));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Test]
    public void Unknown_key_stops_startup_with_exit_code_2_naming_file_line_and_key()
    {
        var r = RunWithConfig(ApplianceProcess.SimpleConfig().Replace("  name: test-appliance", "  name: test-appliance\n  colour: blue", StringComparison.Ordinal));
        Assert.That(r.ExitCode, Is.EqualTo(2), r.All);
        Assert.That(r.Stderr, Does.Match(@"bad\.yaml:3:3: appliance\.colour: "));
    }

    [Test]
    public void Bad_size_stops_startup_with_exit_code_2()
    {
        var r = RunWithConfig(ApplianceProcess.SimpleConfig("8XB"));
        Assert.That(r.ExitCode, Is.EqualTo(2), r.All);
        Assert.That(r.Stderr, Does.Contain("vdisks[0].size").And.Contain("8XB"));
    }

    [Test]
    public void Duplicate_vdisk_name_stops_startup_with_exit_code_2()
    {
        string yaml = ApplianceProcess.SimpleConfig().Replace("vdisks:\n", "vdisks:\n  - name: disk0\n    container: default\n    size: 1GiB\n", StringComparison.Ordinal);
        var r = RunWithConfig(yaml);
        Assert.That(r.ExitCode, Is.EqualTo(2), r.All);
        Assert.That(r.Stderr, Does.Contain("disk0").And.Contain("vdisks[1].name"));
    }

    [Test]
    public void Bad_listen_option_stops_startup_with_exit_code_2()
    {
        var r = Client.Run(Paths.Appliance, ["run", "--iscsi-listen", "localhost:notaport", "--data-dir", Path.GetTempPath()], TimeSpan.FromSeconds(60));
        Assert.That(r.ExitCode, Is.EqualTo(2), r.All);
        Assert.That(r.Stderr, Does.Contain("--iscsi-listen"));
    }

    // A start on free NFS ports without a portmapper, so only the iSCSI port decides whether it can start.
    private static Client.Result RunOnPort(int iscsiPort, string dataDir)
    {
        int nfs = ApplianceProcess.FreePort();
        return Client.Run(Paths.Appliance, ["run", "--iscsi-listen", $"127.0.0.1:{iscsiPort}", "--data-dir", dataDir,
            "--nfs-listen", $"127.0.0.1:{nfs}", "--nfs-mount-port", "0", "--portmapper", "off"], TimeSpan.FromSeconds(120));
    }

    private static System.Net.Sockets.TcpListener Blocker(out int port)
    {
        var blocker = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        blocker.Start();
        port = ((System.Net.IPEndPoint)blocker.LocalEndpoint).Port;
        return blocker;
    }

    [Test]
    public void Port_in_use_fails_startup_with_a_clear_message_and_no_stack_trace()
    {
        using var blocker = Blocker(out int port);
        string dir = Directory.CreateTempSubdirectory("sa-port-").FullName;
        try
        {
            var r = RunOnPort(port, dir);
            Assert.That(r.ExitCode, Is.EqualTo(1), r.All);
            Assert.That(r.Stderr.Trim(), Is.EqualTo($"appliance: cannot start: iSCSI cannot listen on 127.0.0.1:{port}: Address already in use"), "one line on stderr");
            // Neither stream shows .NET frames or exception type names (the log goes to stdout).
            Assert.That(r.All, Does.Not.Contain("   at ").And.Not.Contain("Exception").And.Not.Contain("Hosting failed to start"), r.All);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Test]
    public void Failed_start_on_a_fresh_data_dir_leaves_nothing_behind()
    {
        using var blocker = Blocker(out int port);
        string parent = Directory.CreateTempSubdirectory("sa-fresh-").FullName;
        try
        {
            // Two levels that do not exist yet: the start makes both, and must take both away again.
            string made = Path.Combine(parent, "new");
            var r = RunOnPort(port, Path.Combine(made, "data"));
            Assert.That(r.ExitCode, Is.EqualTo(1), r.All);
            Assert.That(r.Stdout, Does.Contain("metadata.db created"), "the start got as far as creating the metadata store");
            Assert.That(Directory.Exists(made), Is.False, "the folders the failed start created are gone: " +
                string.Join(", ", Directory.Exists(made) ? Directory.EnumerateFileSystemEntries(made, "*", SearchOption.AllDirectories) : []));
            Assert.That(Directory.EnumerateFileSystemEntries(parent), Is.Empty);

            // An empty folder given as the data dir stays, and stays empty.
            string empty = Directory.CreateDirectory(Path.Combine(parent, "empty")).FullName;
            r = RunOnPort(port, empty);
            Assert.That(r.ExitCode, Is.EqualTo(1), r.All);
            Assert.That(Directory.Exists(empty), Is.True);
            Assert.That(Directory.EnumerateFileSystemEntries(empty), Is.Empty);
        }
        finally
        {
            Directory.Delete(parent, true);
        }
    }

    [Test]
    public void Failed_start_on_an_existing_data_dir_leaves_its_data_untouched()
    {
        var appliance = ApplianceProcess.Start(ApplianceProcess.SimpleConfig("64MiB"));
        try
        {
            var io = Client.Run("qemu-io", ["-f", "raw", "-c", "write -P 0x6b 0 1M", appliance.Url()]);
            Assert.That(io.ExitCode, Is.EqualTo(0), io.All);
            appliance.Stop();
            var before = Directory.EnumerateFileSystemEntries(appliance.DataDir, "*", SearchOption.AllDirectories)
                .Select(p => Path.GetRelativePath(appliance.DataDir, p)).ToList();
            Assert.That(before, Does.Contain("metadata.db"));

            using (var blocker = Blocker(out int port))
            {
                var r = Client.Run(Paths.Appliance, ["run", "--config", appliance.ConfigPath, "--iscsi-listen", $"127.0.0.1:{port}", "--data-dir", appliance.DataDir],
                    TimeSpan.FromSeconds(120));
                Assert.That(r.ExitCode, Is.EqualTo(1), r.All);
            }

            var after = Directory.EnumerateFileSystemEntries(appliance.DataDir, "*", SearchOption.AllDirectories)
                .Select(p => Path.GetRelativePath(appliance.DataDir, p)).ToList();
            // Every open of the journal starts a new segment and deletes fully drained ones, whether or not the
            // start goes on to serve; every other file that was there must still be there.
            static bool Kept(string path) => !path.EndsWith(".jnl", StringComparison.Ordinal);
            Assert.That(after.Where(Kept), Is.SupersetOf(before.Where(Kept)), "nothing that was there is gone");
            appliance = appliance.Restart();
            io = Client.Run("qemu-io", ["-f", "raw", "-c", "read -P 0x6b 0 1M", appliance.Url()]);
            Assert.That(io.ExitCode, Is.EqualTo(0), io.All);
            Assert.That(io.All, Does.Not.Contain("Pattern verification failed"), "the data written before the failed start reads back");
        }
        finally
        {
            appliance.Dispose();
        }
    }

    [Test]
    public void Ctrl_c_stops_cleanly_and_logs_out_a_connected_initiator()
    {
        using var appliance = ApplianceProcess.Start(ApplianceProcess.SimpleConfig("64MiB"));
        using var raw = new RawInitiator(appliance.IscsiPort);
        Assert.That(raw.Login("iqn.2026-11.test:ctrlc", ApplianceProcess.DefaultTarget), Is.EqualTo(0));
        // One command answered: the session is in full feature phase on the target's side too (the final
        // login response can reach us a moment before the target records the phase change).
        raw.ClearUnitAttentions();
        Assert.That(raw.TestUnitReady(), Is.EqualTo(0));
        var sw = Stopwatch.StartNew();
        using (Process.Start("kill", $"-INT {appliance.Pid}")) { }
        // The initiator is asked to log out (Async Message, event 1) before the appliance goes.
        byte[] h;
        try
        {
            (h, _) = raw.ReceivePdu(raw.HeaderDigest);
        }
        catch (EndOfStreamException)
        {
            Thread.Sleep(1000);
            Assert.Fail("the connection closed without an Async Message; appliance log:\n" + appliance.Log);
            throw;
        }
        Assert.That(h[0] & 0x3f, Is.EqualTo(0x32), "an Async Message");
        Assert.That(h[36], Is.EqualTo(1), "AsyncEvent 1: logout requested");
        Assert.That(raw.WaitForClose(TimeSpan.FromSeconds(20)), Is.True);
        Assert.That(appliance.Signal("0", TimeSpan.FromSeconds(20)) || appliance.HasExited, Is.True);
        var exited = SpinWait.SpinUntil(() => appliance.HasExited, TimeSpan.FromSeconds(20));
        Assert.That(exited, Is.True, "the appliance exits after Ctrl-C");
        Assert.That(appliance.ExitCode, Is.EqualTo(0));
        Assert.That(appliance.LogWhenContains("appliance stopped"), Does.Contain("appliance stopped"));
    }
}
