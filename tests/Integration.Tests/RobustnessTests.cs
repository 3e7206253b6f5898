using System.Buffers.Binary;
using System.Diagnostics;

namespace StorageAppliance.Integration.Tests;

/// <summary>
/// Bad input affects only its own connection: malformed, truncated and oversized PDUs get a Reject or
/// close that connection with a logged reason, while the appliance and every other session go on.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class RobustnessTests
{
    private ApplianceProcess _appliance = null!;

    [OneTimeSetUp]
    public void Start() => _appliance = ApplianceProcess.Start(ApplianceProcess.SimpleConfig("1GiB"));

    [OneTimeTearDown]
    public void Stop() => _appliance.Dispose();

    [Test]
    public void Unknown_opcode_gets_a_reject_and_the_connection_keeps_working()
    {
        using var raw = new RawInitiator(_appliance.IscsiPort);
        Assert.That(raw.Login("iqn.2026-11.test:raw1", ApplianceProcess.DefaultTarget), Is.EqualTo(0));
        var bhs = new byte[48];
        bhs[0] = 0x1c; // vendor-specific initiator opcode
        bhs[1] = 0x80;
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(16), raw.NextItt());
        raw.Send(bhs, [], raw.HeaderDigest);
        var (h, data) = raw.ReceivePdu(raw.HeaderDigest);
        Assert.That(h[0] & 0x3f, Is.EqualTo(0x3f), "a Reject PDU");
        Assert.That(h[2], Is.EqualTo(0x05), "reason: command not supported");
        Assert.That(data.Take(48), Is.EqualTo(bhs), "the Reject carries the rejected header");
        Assert.That(raw.TestUnitReady(), Is.EqualTo(0x02).Or.EqualTo(0x00), "the session still answers commands");
    }

    [Test]
    public void Data_segment_over_the_negotiated_limit_is_rejected_and_skipped()
    {
        using var raw = new RawInitiator(_appliance.IscsiPort);
        Assert.That(raw.Login("iqn.2026-11.test:raw2", ApplianceProcess.DefaultTarget), Is.EqualTo(0));
        // A NOP-Out with 1 MiB of ping data: over the 256 KiB the target declared.
        var bhs = new byte[48];
        bhs[0] = 0x40; // immediate NOP-Out
        bhs[1] = 0x80;
        RawInitiator.SetLength(bhs, 1 << 20);
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(16), raw.NextItt());
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(20), 0xffffffff);
        raw.Send(bhs, new byte[1 << 20], raw.HeaderDigest);
        var (h, _) = raw.ReceivePdu(raw.HeaderDigest);
        Assert.That(h[0] & 0x3f, Is.EqualTo(0x3f));
        Assert.That(h[2], Is.EqualTo(0x04), "reason: protocol error");
        // The stream stayed framed: the next command on the same connection works.
        byte status = raw.TestUnitReady();
        Assert.That(status, Is.EqualTo(0x02).Or.EqualTo(0x00));
        Assert.That(_appliance.LogWhenContains("exceeds MaxRecvDataSegmentLength"), Does.Contain("exceeds MaxRecvDataSegmentLength"));
    }

    [Test]
    public void Wrong_header_digest_closes_only_that_connection()
    {
        using var raw = new RawInitiator(_appliance.IscsiPort);
        Assert.That(raw.Login("iqn.2026-11.test:raw3", ApplianceProcess.DefaultTarget, headerDigest: "CRC32C"), Is.EqualTo(0));
        Assert.That(raw.HeaderDigest, Is.True);
        var bhs = new byte[48];
        bhs[0] = 0x00;
        bhs[1] = 0x80;
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(16), raw.NextItt());
        var wrong = new byte[52];
        bhs.CopyTo(wrong, 0);
        wrong[48] = 0xde; wrong[49] = 0xad; wrong[50] = 0xbe; wrong[51] = 0xef;
        raw.SendRaw(wrong);
        Assert.That(raw.WaitForClose(TimeSpan.FromSeconds(10)), Is.True);
        WaitForLog("header digest error");
        AssertOthersStillWork();
    }

    [Test]
    public void Truncated_pdu_then_disconnect_is_logged_and_harmless()
    {
        using (var raw = new RawInitiator(_appliance.IscsiPort))
        {
            Assert.That(raw.Login("iqn.2026-11.test:raw4", ApplianceProcess.DefaultTarget), Is.EqualTo(0));
            raw.SendRaw(new byte[20]); // less than a header
        }
        WaitForLog("in the middle of a PDU");
        AssertOthersStillWork();
    }

    [Test]
    public void Garbage_before_login_closes_the_connection()
    {
        using var raw = new RawInitiator(_appliance.IscsiPort);
        var junk = new byte[48 * 4];
        new Random(7).NextBytes(junk);
        junk[0] = 0x01; // a SCSI command before login
        for (int i = 4; i < 8; i++)
            junk[i] = 0;
        raw.SendRaw(junk);
        Assert.That(raw.WaitForClose(TimeSpan.FromSeconds(10)), Is.True);
        AssertOthersStillWork();
    }

    [Test]
    public void Malformed_traffic_during_a_verified_fio_run_does_not_disturb_it()
    {
        string filename = _appliance.Url().Replace(":", "\\:", StringComparison.Ordinal);
        var fio = Task.Run(() => Client.Run(Paths.Fio,
        [
            "--name=bystander", "--ioengine=libiscsi", $"--filename={filename}", "--rw=randwrite", "--bs=4k",
            "--iodepth=16", "--size=128m", "--verify=crc32c", "--do_verify=1", "--verify_fatal=1",
        ], TimeSpan.FromMinutes(5)));

        // Malformed on purpose, never a valid command: a valid reset or write from another initiator
        // would rightly disturb fio (a reset raises a unit attention for every initiator).
        var sw = Stopwatch.StartNew();
        int rounds = 0;
        while (!fio.IsCompleted && sw.Elapsed < TimeSpan.FromMinutes(2))
        {
            using var raw = new RawInitiator(_appliance.IscsiPort);
            if (raw.Login($"iqn.2026-11.test:noise{rounds}", ApplianceProcess.DefaultTarget) == 0)
                SendMalformed(raw, rounds);
            rounds++;
        }
        var r = fio.Result;
        Assert.That(rounds, Is.GreaterThan(0));
        Assert.That(r.ExitCode, Is.EqualTo(0), r.All);
        Assert.That(r.Stdout, Does.Contain("err= 0"));
        Assert.That(_appliance.HasExited, Is.False);
    }

    /// <summary>One of several kinds of broken PDU, chosen by <paramref name="kind"/>.</summary>
    private static void SendMalformed(RawInitiator raw, int kind)
    {
        var bhs = new byte[48];
        BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(16), raw.NextItt());
        switch (kind % 6)
        {
            case 0: // unknown opcode with data
                bhs[0] = 0x1d;
                RawInitiator.SetLength(bhs, 100);
                raw.Send(bhs, new byte[100], raw.HeaderDigest);
                break;
            case 1: // Data-Out for a command that does not exist
                bhs[0] = 0x05;
                bhs[1] = 0x80;
                RawInitiator.SetLength(bhs, 512);
                raw.Send(bhs, new byte[512], raw.HeaderDigest);
                break;
            case 2: // SNACK at ErrorRecoveryLevel 0
                bhs[0] = 0x10;
                bhs[1] = 0x80;
                raw.Send(bhs, [], raw.HeaderDigest);
                break;
            case 3: // a header cut short, then the socket closes
                raw.SendRaw(bhs.AsSpan(0, 30).ToArray());
                break;
            case 4: // a text request that is not key=value
                bhs[0] = 0x44;
                bhs[1] = 0x80;
                BinaryPrimitives.WriteUInt32BigEndian(bhs.AsSpan(20), 0xffffffff);
                byte[] junk = "no equals sign here\0=\0"u8.ToArray();
                RawInitiator.SetLength(bhs, junk.Length);
                raw.Send(bhs, junk, raw.HeaderDigest);
                break;
            default: // a login request in full feature phase
                bhs[0] = 0x43;
                raw.Send(bhs, [], raw.HeaderDigest);
                break;
        }
    }

    private void AssertOthersStillWork()
    {
        var r = Client.Run("iscsi-inq", _appliance.Url());
        Assert.That(r.ExitCode, Is.EqualTo(0), "another session must keep working: " + r.All);
        Assert.That(_appliance.HasExited, Is.False);
    }

    private void WaitForLog(string text) => Assert.That(_appliance.LogWhenContains(text), Does.Contain(text));
}
