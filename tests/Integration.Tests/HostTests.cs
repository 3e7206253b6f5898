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

    [Test]
    public void Port_in_use_fails_startup_with_a_clear_message()
    {
        var blocker = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        blocker.Start();
        int port = ((System.Net.IPEndPoint)blocker.LocalEndpoint).Port;
        try
        {
            string dir = Directory.CreateTempSubdirectory("sa-port-").FullName;
            var r = Client.Run(Paths.Appliance, ["run", "--iscsi-listen", $"127.0.0.1:{port}", "--data-dir", dir], TimeSpan.FromSeconds(60));
            Assert.That(r.ExitCode, Is.EqualTo(1), r.All);
            Assert.That(r.All, Does.Contain($"cannot listen on 127.0.0.1:{port}"));
            Directory.Delete(dir, true);
        }
        finally
        {
            blocker.Stop();
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
