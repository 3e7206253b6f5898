using StorageAppliance.Protocols.Iscsi.Negotiation;
using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Iscsi.Tests.Support;

namespace StorageAppliance.Protocols.Iscsi.Tests.Protocol;

/// <summary>Digest errors, oversized and truncated PDUs and garbage (RFC 7143 7.8, 11.17): each costs at most its own connection.</summary>
public class ErrorHandlingProtocolTests
{
    private static readonly (string, string)[] Digests = [("HeaderDigest", "CRC32C"), ("DataDigest", "CRC32C")];

    [Test]
    public async Task Digests_are_used_in_both_directions_once_negotiated()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync(Digests);
        Assert.That(i.Negotiated["HeaderDigest"], Is.EqualTo("CRC32C"));
        Assert.That(i.Negotiated["DataDigest"], Is.EqualTo("CRC32C"));
        Assert.That(i.Receive.HeaderDigest && i.Receive.DataDigest, Is.True);
        // Our reader only frames the target's PDUs with both digests present and correct.
        await i.PingAsync([1, 2, 3, 4, 5]);
        byte[] data = new byte[1536];
        new Random(3).NextBytes(data);
        var write = await i.CommandAsync(Pdus.Write10(0, 3), 1536, write: data, immediateLength: 1536);
        Assert.That(write.Status, Is.Zero);
        Assert.That((await i.CommandAsync(Pdus.Read10(0, 3), 1536, read: true)).DataIn, Is.EqualTo(data));
    }

    [Test]
    public async Task Large_pdus_carry_correct_digests_in_both_directions()
    {
        var f = TargetFixture.Create(new TargetLimits { MaxRecvDataSegmentLength = 65536 });
        var i = await f.LoggedInAsync([.. Digests, ("MaxRecvDataSegmentLength", "65536"), ("ImmediateData", "No"), ("MaxBurstLength", "262144")]);
        byte[] data = new byte[96 * 1024 + 512];
        new Random(11).NextBytes(data);
        ushort blocks = (ushort)(data.Length / 512);
        var write = await i.CommandAsync(Pdus.Write10(1000, blocks), (uint)data.Length, write: data);
        Assert.That(write.Status, Is.Zero);
        var read = await i.CommandAsync(Pdus.Read10(1000, blocks), (uint)data.Length, read: true);
        Assert.That(read.Status, Is.Zero);
        Assert.That(read.DataIns.Select(d => d.Data.Length), Is.EqualTo(new[] { 65536, data.Length - 65536 }), "segments above 8 KiB take the target's large-PDU path");
        Assert.That(read.DataIn, Is.EqualTo(data));
    }

    [Test]
    public async Task Wrong_header_digest_closes_that_connection_and_another_session_keeps_working()
    {
        var f = TargetFixture.Create();
        var damaged = f.Connect();
        await damaged.LoginAsync(TargetFixture.TargetName, Digests);
        var other = await f.LoggedInAsync(Digests);

        byte[] pdu = Wire.Pdu(Pdus.NopOut(damaged.NextItt(), BasicHeaderSegment.ReservedTag, damaged.CmdSN, damaged.ExpStatSN), headerDigest: true);
        pdu[49] ^= 0x20;
        await damaged.SendRawAsync(pdu);
        await damaged.ExpectClosedAsync();
        Assert.That(f.Log.Messages(3004), Has.Some.Contains("header digest error"));

        await other.PingAsync([7]);
        Assert.That((await other.CommandAsync(Pdus.TestUnitReady(), 0)).Status, Is.Zero);
        Assert.That(f.Server.SessionCount, Is.EqualTo(1));
        f.AssertNoFaults();
    }

    [Test]
    public async Task Wrong_data_digest_on_data_out_is_rejected_and_the_command_ends_with_check_condition()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync(("HeaderDigest", "None"), ("DataDigest", "CRC32C"), ("ImmediateData", "No"));
        Assert.That(i.SendDataDigest, Is.True);
        uint itt = i.NextItt();
        await i.SendAsync(Pdus.ScsiCommand(Pdus.Write10(50, 1), itt, 512, i.CmdSN++, i.ExpStatSN, false, true));
        var r2t = await i.ReceiveAsync();
        Assert.That(r2t.Opcode, Is.EqualTo(IscsiOpcode.ReadyToTransfer));

        byte[] data = Enumerable.Repeat((byte)0x5A, 512).ToArray();
        byte[] dataOut = Pdus.DataOut(true, itt, r2t.Ttt, i.ExpStatSN, 0, 0, 512);
        byte[] pdu = Wire.Pdu(dataOut, data, dataDigest: true);
        pdu[^1] ^= 0xFF;
        await i.SendRawAsync(pdu);

        var reject = await i.ReceiveAsync();
        Assert.That(reject.Opcode, Is.EqualTo(IscsiOpcode.Reject));
        Assert.That(reject.RejectReason, Is.EqualTo(RejectReason.DataDigestError));
        Assert.That((byte)reject.RejectReason, Is.EqualTo(0x02));
        Assert.That(reject.Itt, Is.EqualTo(BasicHeaderSegment.ReservedTag));
        Assert.That(reject.Data, Is.EqualTo(dataOut), "the Reject carries the header of the damaged PDU");

        var status = await i.ReceiveAsync();
        Assert.That(status.Opcode, Is.EqualTo(IscsiOpcode.ScsiResponse));
        Assert.That(status.Itt, Is.EqualTo(itt));
        Assert.That(status.Status, Is.EqualTo(0x02), "CHECK CONDITION");
        var sense = status.Sense();
        Assert.That(sense[2] & 0x0F, Is.EqualTo(0xB), "ABORTED COMMAND");
        Assert.That(sense[12], Is.EqualTo(0x47));
        Assert.That(sense[13], Is.EqualTo(0x05), "PROTOCOL SERVICE CRC ERROR");
        Assert.That(f.Disk.Writes, Is.Zero, "nothing damaged reaches the disk");

        await i.PingAsync([1]);
        f.AssertNoFaults();
    }

    [Test]
    public async Task Wrong_data_digest_on_a_nop_out_is_rejected_and_the_connection_goes_on()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        await i.LoginAsync(TargetFixture.TargetName, Digests);
        byte[] bhs = Pdus.NopOut(i.NextItt(), BasicHeaderSegment.ReservedTag, i.CmdSN, i.ExpStatSN, 4);
        byte[] pdu = Wire.Pdu(bhs, new byte[] { 1, 2, 3, 4 }, headerDigest: true, dataDigest: true);
        pdu[52] ^= 0x01; // first data byte
        await i.SendRawAsync(pdu);
        var reject = await i.ReceiveAsync();
        Assert.That(reject.Opcode, Is.EqualTo(IscsiOpcode.Reject));
        Assert.That(reject.RejectReason, Is.EqualTo(RejectReason.DataDigestError));
        await i.PingAsync([4, 3, 2, 1]);
    }

    [Test]
    public async Task Wrong_data_digest_on_immediate_data_rejects_and_fails_the_write()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync(("DataDigest", "CRC32C"), ("ImmediateData", "Yes"));
        uint itt = i.NextItt();
        byte[] bhs = Pdus.ScsiCommand(Pdus.Write10(8, 1), itt, 512, i.CmdSN++, i.ExpStatSN, false, true, 512);
        byte[] pdu = Wire.Pdu(bhs, new byte[512], dataDigest: true);
        pdu[100] ^= 0x08;
        await i.SendRawAsync(pdu);
        var reject = await i.ReceiveAsync();
        Assert.That(reject.Opcode, Is.EqualTo(IscsiOpcode.Reject));
        Assert.That(reject.RejectReason, Is.EqualTo(RejectReason.DataDigestError));
        var status = await i.ReceiveAsync();
        Assert.That(status.Opcode, Is.EqualTo(IscsiOpcode.ScsiResponse));
        Assert.That(status.Itt, Is.EqualTo(itt));
        Assert.That(status.Status, Is.EqualTo(0x02));
        Assert.That(status.Sense()[12], Is.EqualTo(0x47));
        Assert.That(f.Disk.Writes, Is.Zero);
        Assert.That((await i.CommandAsync(Pdus.TestUnitReady(), 0)).Status, Is.Zero, "the window moved on");
    }

    [Test]
    public async Task Data_segment_over_the_limit_is_rejected_and_the_connection_keeps_working()
    {
        var f = TargetFixture.Create(new TargetLimits { MaxRecvDataSegmentLength = 8192 });
        var i = f.Connect();
        await i.LoginAsync(TargetFixture.TargetName);
        Assert.That(i.TargetMaxRecvDataSegmentLength, Is.EqualTo(8192));

        byte[] bhs = Pdus.NopOut(i.NextItt(), BasicHeaderSegment.ReservedTag, i.CmdSN, i.ExpStatSN, 8193);
        byte[] pdu = Wire.Pdu(bhs, new byte[8193]);
        // Deliver it in pieces, so the target must skip bytes that arrive after it rejected the header.
        await i.SendRawAsync(pdu.AsMemory(0, 48));
        await i.SendRawAsync(pdu.AsMemory(48, 4000));
        await i.SendRawAsync(pdu.AsMemory(4048));

        var reject = await i.ReceiveAsync();
        Assert.That(reject.Opcode, Is.EqualTo(IscsiOpcode.Reject));
        Assert.That(reject.RejectReason, Is.EqualTo(RejectReason.ProtocolError));
        Assert.That(reject.Data, Is.EqualTo(bhs));
        await i.PingAsync(new byte[8192]);
        Assert.That((await i.CommandAsync(Pdus.TestUnitReady(), 0)).Status, Is.EqualTo(0x02), "still framed: the next command is answered");
    }

    [Test]
    public async Task Write_with_immediate_data_over_the_limit_is_rejected_and_fails()
    {
        var f = TargetFixture.Create(new TargetLimits { MaxRecvDataSegmentLength = 4096, FirstBurstLength = 65536 });
        var i = await f.LoggedInAsync(("FirstBurstLength", "65536"));
        uint itt = i.NextItt();
        byte[] bhs = Pdus.ScsiCommand(Pdus.Write10(0, 16), itt, 8192, i.CmdSN++, i.ExpStatSN, false, true, 8192);
        await i.SendAsync(bhs, new byte[8192]);
        var reject = await i.ReceiveAsync();
        Assert.That(reject.Opcode, Is.EqualTo(IscsiOpcode.Reject));
        Assert.That(reject.RejectReason, Is.EqualTo(RejectReason.ProtocolError));
        var status = await i.ReceiveAsync();
        Assert.That(status.Opcode, Is.EqualTo(IscsiOpcode.ScsiResponse));
        Assert.That(status.Itt, Is.EqualTo(itt));
        Assert.That(status.Status, Is.EqualTo(0x02));
        Assert.That(f.Disk.Writes, Is.Zero);
        await i.PingAsync();
    }

    [Test]
    public async Task Login_pdu_over_8192_bytes_closes_the_connection()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        var bhs = Pdus.Login(true, false, LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase, i.Isid, 0, 1, 1, 1, 0, 8196);
        await i.SendAsync(bhs, new byte[8196]);
        await i.ExpectClosedAsync();
    }

    [Test]
    public async Task Truncated_pdu_then_end_of_stream_closes_cleanly()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync();
        byte[] pdu = Wire.Pdu(Pdus.NopOut(i.NextItt(), BasicHeaderSegment.ReservedTag, i.CmdSN, i.ExpStatSN, 100), new byte[100]);
        await i.SendRawAsync(pdu.AsMemory(0, 70));
        i.CloseOutput();
        await i.ExpectClosedAsync();
        Assert.That(f.Log.Messages(3004), Has.Some.Contains("in the middle of a PDU"));
        Assert.That(f.Server.SessionCount, Is.Zero);
        Assert.That(f.Server.ConnectionCount, Is.Zero);
        f.AssertNoFaults();
    }

    [Test]
    public async Task Truncated_header_during_login_closes_cleanly()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        await i.SendRawAsync(new byte[] { 0x43, 0x87, 0, 0, 0, 0 });
        i.CloseOutput();
        await i.ExpectClosedAsync();
        f.AssertNoFaults();
    }

    [Test]
    public async Task End_of_stream_between_pdus_closes_cleanly()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync();
        i.CloseOutput();
        await i.ExpectClosedAsync();
        Assert.That(f.Server.SessionCount, Is.Zero);
    }

    [Test]
    public async Task Headers_with_invalid_opcodes_are_each_rejected_and_other_sessions_are_unaffected()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync();
        var other = await f.LoggedInAsync();
        var random = new Random(7143);
        byte[] invalid = [0x07, 0x08, 0x0B, 0x0F, 0x11, 0x1C, 0x1F, 0x20, 0x21, 0x25, 0x31, 0x3E, 0x3F];
        foreach (byte opcode in invalid)
        {
            var bhs = new byte[48];
            random.NextBytes(bhs);
            bhs[0] = (byte)((bhs[0] & 0xC0) | opcode);
            bhs[4] = 0; // no AHS and no data, so the stream stays framed
            bhs[5] = bhs[6] = bhs[7] = 0;
            await i.SendAsync(bhs);
            var reject = await i.ReceiveAsync();
            Assert.That(reject.Opcode, Is.EqualTo(IscsiOpcode.Reject), $"opcode {opcode:x2}");
            Assert.That(reject.RejectReason, Is.EqualTo(RejectReason.CommandNotSupported), $"opcode {opcode:x2}");
            Assert.That(reject.Data, Is.EqualTo(bhs));
        }
        await i.PingAsync();
        await other.PingAsync();
        f.AssertNoFaults();
    }

    [Test]
    public async Task Snack_is_rejected_at_error_recovery_level_0()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync();
        var bhs = new byte[48];
        bhs[0] = (byte)IscsiOpcode.Snack;
        bhs[1] = 0x80;
        await i.SendAsync(bhs);
        var reject = await i.ReceiveAsync();
        Assert.That(reject.Opcode, Is.EqualTo(IscsiOpcode.Reject));
        Assert.That(reject.RejectReason, Is.EqualTo(RejectReason.ProtocolError));
    }

    [Test]
    public async Task Data_out_for_no_command_is_rejected()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync();
        var bhs = Pdus.DataOut(true, 0x5555, 0x6666, i.ExpStatSN, 0, 0, 4);
        await i.SendAsync(bhs, new byte[4]);
        var reject = await i.ReceiveAsync();
        Assert.That(reject.Opcode, Is.EqualTo(IscsiOpcode.Reject));
        Assert.That(reject.RejectReason, Is.EqualTo(RejectReason.InvalidPduField));
        await i.PingAsync();
    }

    [Test]
    public async Task Random_bytes_after_login_never_fault_the_target_and_other_sessions_keep_working()
    {
        var f = TargetFixture.Create();
        var other = await f.LoggedInAsync();
        byte[] before = f.Disk.Bytes.ToArray();
        for (int seed = 0; seed < 8; seed++)
        {
            var i = await f.LoggedInAsync();
            var random = new Random(seed);
            for (int n = 0; n < 64; n++)
            {
                var block = new byte[48];
                random.NextBytes(block);
                // Keep the garbage from being a well-formed SCSI command or task management request: those may
                // legitimately change the LU (a write, a stop, a target reset) that the other session checks.
                if ((block[0] & 0x3F) is 0x01 or 0x02)
                    block[0] = (byte)((block[0] & 0xC0) | 0x3D);
                await i.SendRawAsync(block);
            }
            i.CloseOutput();
            var answers = await i.DrainUntilClosedAsync();
            Assert.That(answers.Select(a => a.Opcode), Is.All.AnyOf(IscsiOpcode.Reject, IscsiOpcode.NopIn, IscsiOpcode.TextResponse, IscsiOpcode.LogoutResponse),
                $"seed {seed}");
        }
        await other.PingAsync([42]);
        Assert.That((await other.CommandAsync(Pdus.TestUnitReady(), 0)).Status, Is.Zero);
        Assert.That(f.Disk.Bytes.ToArray(), Is.EqualTo(before));
        Assert.That(f.Server.SessionCount, Is.EqualTo(1));
        f.AssertNoFaults();
    }

    [Test]
    public async Task Random_bytes_instead_of_a_login_never_fault_the_target()
    {
        var f = TargetFixture.Create();
        var other = await f.LoggedInAsync();
        for (int seed = 100; seed < 132; seed++)
        {
            var i = f.Connect();
            var random = new Random(seed);
            var garbage = new byte[48 * 4];
            random.NextBytes(garbage);
            if (seed % 2 == 0)
                garbage[0] = (byte)(0x40 | (byte)IscsiOpcode.LoginRequest); // a login header with random fields
            await i.SendRawAsync(garbage);
            i.CloseOutput();
            var answers = await i.DrainUntilClosedAsync();
            Assert.That(answers.Select(a => a.Opcode), Is.All.EqualTo(IscsiOpcode.LoginResponse), $"seed {seed}");
        }
        await other.PingAsync();
        Assert.That(f.Server.ConnectionCount, Is.EqualTo(1));
        f.AssertNoFaults();
    }
}
