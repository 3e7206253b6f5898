using StorageAppliance.Protocols.Iscsi.Negotiation;
using StorageAppliance.Protocols.Iscsi.Pdu;

namespace StorageAppliance.Protocols.Iscsi.Tests.Protocol;

/// <summary>Command numbering (RFC 7143 4.2.2), NOP ping (11.18-11.19), Text and Logout (11.10-11.15).</summary>
public class SequencingProtocolTests
{
    [Test]
    public async Task CmdSN_above_the_window_is_silently_ignored()
    {
        var f = TargetFixture.Create(queueDepth: 16);
        var i = await f.LoggedInAsync();
        uint exp = i.CmdSN;
        // MaxCmdSN is ExpCmdSN + 15: one past it is out of the window.
        await i.SendAsync(Pdus.ScsiCommand(Pdus.TestUnitReady(), i.NextItt(), 0, exp + 16, i.ExpStatSN, false, false));
        await i.SendAsync(Pdus.ScsiCommand(Pdus.TestUnitReady(), i.NextItt(), 0, exp + 1000, i.ExpStatSN, false, false));
        var ping = await i.PingAsync();
        Assert.That(ping.ExpCmdSN, Is.EqualTo(exp), "ignored commands do not move ExpCmdSN");
        var r = await i.CommandAsync(Pdus.TestUnitReady(), 0);
        Assert.That(r.Status, Is.Zero);
        Assert.That(r.Final.ExpCmdSN, Is.EqualTo(exp + 1));
    }

    [Test]
    public async Task CmdSN_below_the_window_is_silently_ignored()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync();
        uint used = i.CmdSN - 1; // the TEST UNIT READY of LoggedInAsync
        var bhs = Pdus.ScsiCommand(Pdus.Read10(0, 1), i.NextItt(), 512, used, i.ExpStatSN, true, false);
        await i.SendAsync(bhs);
        await i.PingAsync();
        Assert.That((await i.CommandAsync(Pdus.TestUnitReady(), 0)).Status, Is.Zero);
    }

    [Test]
    public async Task Data_out_of_an_ignored_write_is_dropped_silently()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync(("InitialR2T", "No"), ("ImmediateData", "Yes"));
        uint itt = i.NextItt();
        await i.SendAsync(Pdus.ScsiCommand(Pdus.Write10(0, 2), itt, 1024, i.CmdSN + 5000, i.ExpStatSN, false, true, final: false));
        await i.SendAsync(Pdus.DataOut(true, itt, BasicHeaderSegment.ReservedTag, i.ExpStatSN, 0, 0, 1024), new byte[1024]);
        await i.PingAsync(); // no Reject came before the ping's answer
        Assert.That(f.Disk.Writes, Is.Zero);
    }

    [Test]
    public async Task Window_stays_at_the_queue_depth_when_idle_and_stat_sn_counts_responses()
    {
        var f = TargetFixture.Create(queueDepth: 8);
        var i = await f.LoggedInAsync();
        var statSNs = new List<uint>();
        for (int n = 0; n < 5; n++)
        {
            var r = await i.CommandAsync(Pdus.TestUnitReady(), 0);
            Assert.That(r.Final.MaxCmdSN - r.Final.ExpCmdSN + 1, Is.EqualTo(8u));
            statSNs.Add(r.Final.StatSN);
        }
        Assert.That(statSNs.Zip(statSNs.Skip(1), (a, b) => b - a), Is.All.EqualTo(1u));
    }

    [Test]
    public async Task Pipelined_commands_fill_the_window_and_all_complete()
    {
        var f = TargetFixture.Create(queueDepth: 8);
        var i = await f.LoggedInAsync();
        var itts = new HashSet<uint>();
        for (int n = 0; n < 8; n++)
        {
            uint itt = i.NextItt();
            itts.Add(itt);
            await i.SendAsync(Pdus.ScsiCommand(Pdus.Read10((uint)n, 1), itt, 512, i.CmdSN++, i.ExpStatSN, true, false));
        }
        for (int n = 0; n < 8; n++)
        {
            var pdu = await i.ReceiveAsync();
            Assert.That(pdu.HasStatus, Is.True);
            Assert.That(itts.Remove(pdu.Itt), Is.True, $"one answer per command, got {pdu}");
        }
        Assert.That(itts, Is.Empty);
    }

    [Test]
    public async Task Nop_out_ping_is_echoed_with_its_data()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        await i.LoginAsync(TargetFixture.TargetName);
        uint itt = i.NextItt();
        byte[] data = "hello, target"u8.ToArray();
        await i.SendAsync(Pdus.NopOut(itt, BasicHeaderSegment.ReservedTag, i.CmdSN++, i.ExpStatSN, data.Length, immediate: false, lun: 3), data);
        var nopIn = await i.ReceiveAsync();
        Assert.Multiple(() =>
        {
            Assert.That(nopIn.Opcode, Is.EqualTo(IscsiOpcode.NopIn));
            Assert.That(nopIn.Final, Is.True);
            Assert.That(nopIn.Itt, Is.EqualTo(itt));
            Assert.That(nopIn.Ttt, Is.EqualTo(BasicHeaderSegment.ReservedTag));
            Assert.That(nopIn.Header[9], Is.EqualTo(3), "LUN echoed");
            Assert.That(nopIn.Data, Is.EqualTo(data));
            Assert.That(nopIn.ExpCmdSN, Is.EqualTo(i.CmdSN), "a non-immediate NOP-Out takes a CmdSN");
        });
    }

    [Test]
    public async Task Nop_out_without_a_tag_is_not_answered()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        await i.LoginAsync(TargetFixture.TargetName);
        await i.SendAsync(Pdus.NopOut(BasicHeaderSegment.ReservedTag, BasicHeaderSegment.ReservedTag, i.CmdSN, i.ExpStatSN));
        var pong = await i.PingAsync([9]);
        Assert.That(pong.Data, Is.EqualTo(new byte[] { 9 }), "the first answer is the tagged ping's");
    }

    [Test]
    public async Task Text_request_in_full_feature_phase_negotiates_and_rejects_login_only_keys()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        await i.LoginAsync(TargetFixture.TargetName);
        var response = await i.TextAsync(("MaxRecvDataSegmentLength", "16384"), ("MaxBurstLength", "4096"), ("X-com.example.k", "v"));
        Assert.That(response.Final, Is.True);
        var keys = response.Keys();
        Assert.That(keys["MaxRecvDataSegmentLength"], Is.EqualTo("262144"));
        Assert.That(keys["MaxBurstLength"], Is.EqualTo("Reject"));
        Assert.That(keys["X-com.example.k"], Is.EqualTo("NotUnderstood"));
    }

    [Test]
    public async Task Long_text_response_comes_in_parts_within_the_initiator_limit()
    {
        var f = TargetFixture.Create();
        for (int n = 0; n < 40; n++)
            f.AddTarget($"iqn.2026-01.io.storageappliance.test:extra-target-number-{n:D3}");
        var i = f.Connect();
        await i.LoginAsync(null, ("MaxRecvDataSegmentLength", "512"));
        byte[] request = TestInitiator.Text([("SendTargets", "All")]);
        uint itt = i.NextItt();
        await i.SendAsync(Pdus.Text(itt, BasicHeaderSegment.ReservedTag, i.CmdSN, i.ExpStatSN, request.Length), request);
        var all = new List<byte>();
        int parts = 0;
        while (true)
        {
            var part = await i.ReceiveAsync();
            parts++;
            Assert.That(part.Opcode, Is.EqualTo(IscsiOpcode.TextResponse));
            Assert.That(part.Data.Length, Is.LessThanOrEqualTo(512));
            all.AddRange(part.Data);
            if (part.Final)
            {
                Assert.That(part.Ttt, Is.EqualTo(BasicHeaderSegment.ReservedTag));
                break;
            }
            Assert.That(part.Flags & 0x40, Is.EqualTo(0x40), "C bit while more follows");
            Assert.That(part.Ttt, Is.Not.EqualTo(BasicHeaderSegment.ReservedTag));
            // Ask for the next part: same ITT, the target's TTT, empty text.
            await i.SendAsync(Pdus.Text(itt, part.Ttt, i.CmdSN, i.ExpStatSN, 0));
        }
        Assert.That(parts, Is.GreaterThan(1));
        var pairs = new List<KeyValuePair<string, string>>();
        Assert.That(TextParameters.TryParse(all.ToArray(), pairs, out string? error), Is.True, error);
        Assert.That(pairs.Count(p => p.Key == "TargetName"), Is.EqualTo(41));
    }

    [Test]
    public async Task Text_request_continued_with_the_C_bit_is_answered_as_a_whole()
    {
        // RFC 7143 11.10.4: the initiator answers the target's (empty) Text Response with the rest of its text and
        // the Target Transfer Tag that response carried. IscsiConnection.Misc.cs OnTextRequest takes any request with
        // that TTT as "send me the next part of your response": the rest of the request text is dropped, an empty
        // final response comes back, and the first part stays in _textIn to corrupt the next request.
        var f = TargetFixture.Create();
        var i = f.Connect();
        await i.LoginAsync(null);
        byte[] text = TestInitiator.Text([("SendTargets", "All")]);
        uint itt = i.NextItt();
        await i.SendAsync(Pdus.Text(itt, BasicHeaderSegment.ReservedTag, i.CmdSN, i.ExpStatSN, 7, final: false, @continue: true), text.AsMemory(0, 7));
        var invitation = await i.ReceiveAsync();
        Assert.That(invitation.Opcode, Is.EqualTo(IscsiOpcode.TextResponse));
        Assert.That(invitation.Final, Is.False);
        Assert.That(invitation.Ttt, Is.Not.EqualTo(BasicHeaderSegment.ReservedTag));
        Assert.That(invitation.Data, Is.Empty);

        await i.SendAsync(Pdus.Text(itt, invitation.Ttt, i.CmdSN, i.ExpStatSN, text.Length - 7), text.AsMemory(7));
        var answer = await i.ReceiveAsync();
        Assert.That(answer.Final, Is.True);
        Assert.That(answer.Pairs(), Does.Contain(KeyValuePair.Create("TargetName", TargetFixture.TargetName)));
    }

    [Test]
    public async Task Text_request_continued_with_the_C_bit_does_not_leak_into_the_next_request()
    {
        // Same bug as above, second symptom: the first part of the continued request, left in _textIn, is
        // prepended to the next request ("SendTarSendTargets=All" comes back NotUnderstood).
        var f = TargetFixture.Create();
        var i = f.Connect();
        await i.LoginAsync(null);
        byte[] text = TestInitiator.Text([("SendTargets", "All")]);
        uint itt = i.NextItt();
        await i.SendAsync(Pdus.Text(itt, BasicHeaderSegment.ReservedTag, i.CmdSN, i.ExpStatSN, 7, final: false, @continue: true), text.AsMemory(0, 7));
        var invitation = await i.ReceiveAsync();
        await i.SendAsync(Pdus.Text(itt, invitation.Ttt, i.CmdSN, i.ExpStatSN, text.Length - 7), text.AsMemory(7));
        await i.ReceiveAsync();
        var fresh = await i.TextAsync(("SendTargets", "All"));
        Assert.That(fresh.Pairs(), Does.Contain(KeyValuePair.Create("TargetName", TargetFixture.TargetName)));
    }

    [Test]
    public async Task Rejected_command_in_a_discovery_session_keeps_the_window_at_the_queue_depth()
    {
        // IscsiConnection.Commands.cs OnScsiCommand, discovery branch: the command is rejected and its slot retired
        // (MaxCmdSN + 1) without its CmdSN being accepted (ExpCmdSN stays), so every rejected command widens the
        // window by one; the TaskInProgress branch below it does Accept then Retire.
        var f = TargetFixture.Create(queueDepth: 16);
        var i = f.Connect();
        await i.LoginAsync(null);
        for (int n = 0; n < 3; n++)
        {
            await i.SendAsync(Pdus.ScsiCommand(Pdus.TestUnitReady(), i.NextItt(), 0, i.CmdSN++, i.ExpStatSN, false, false));
            var reject = await i.ReceiveAsync();
            Assert.That(reject.Opcode, Is.EqualTo(IscsiOpcode.Reject));
        }
        var ping = await i.PingAsync();
        Assert.That(ping.MaxCmdSN - ping.ExpCmdSN + 1, Is.EqualTo(16u), $"ExpCmdSN {ping.ExpCmdSN}, MaxCmdSN {ping.MaxCmdSN}");
        Assert.That(ping.ExpCmdSN, Is.EqualTo(i.CmdSN), "the rejected commands' CmdSNs were used");
    }

    [Test]
    public async Task Immediate_command_does_not_take_a_CmdSN()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync();
        uint itt = i.NextItt();
        await i.SendAsync(Pdus.ScsiCommand(Pdus.TestUnitReady(), itt, 0, i.CmdSN, i.ExpStatSN, false, false, immediate: true));
        var response = await i.ReceiveAsync();
        Assert.That(response.Itt, Is.EqualTo(itt));
        Assert.That(response.Status, Is.Zero);
        Assert.That(response.ExpCmdSN, Is.EqualTo(i.CmdSN), "ExpCmdSN does not move for an immediate command");
        Assert.That((await i.CommandAsync(Pdus.TestUnitReady(), 0)).Status, Is.Zero, "the same CmdSN is still free");
    }

    [Test]
    public async Task Reusing_the_tag_of_a_command_in_progress_is_rejected_with_task_in_progress()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync(("ImmediateData", "No"));
        uint itt = i.NextItt();
        await i.SendAsync(Pdus.ScsiCommand(Pdus.Write10(0, 1), itt, 512, i.CmdSN++, i.ExpStatSN, false, true));
        var r2t = await i.ReceiveAsync();
        Assert.That(r2t.Opcode, Is.EqualTo(IscsiOpcode.ReadyToTransfer));

        var duplicate = Pdus.ScsiCommand(Pdus.TestUnitReady(), itt, 0, i.CmdSN++, i.ExpStatSN, false, false);
        await i.SendAsync(duplicate);
        var reject = await i.ReceiveAsync();
        Assert.That(reject.Opcode, Is.EqualTo(IscsiOpcode.Reject));
        Assert.That(reject.RejectReason, Is.EqualTo(RejectReason.TaskInProgress));
        Assert.That(reject.Data, Is.EqualTo(duplicate));

        byte[] data = Enumerable.Repeat((byte)0x33, 512).ToArray();
        await i.SendDataOutAsync(itt, r2t.Ttt, data, 0, 512);
        var status = await i.ReceiveAsync();
        Assert.That(status.Itt, Is.EqualTo(itt));
        Assert.That(status.Status, Is.Zero, "the first command is unaffected");
        Assert.That(f.Disk.Bytes[..512].ToArray(), Is.EqualTo(data));
    }

    [TestCase(1u, 0u, (byte)0x4B, (byte)0x00)] // DataSN 1 where 0 was due: DATA PHASE ERROR
    [TestCase(0u, 512u, (byte)0x4B, (byte)0x05)] // offset 512 where 0 was due: DATA OFFSET ERROR
    public async Task Data_out_out_of_sequence_fails_the_command(uint dataSN, uint offset, byte asc, byte ascq)
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync(("ImmediateData", "No"));
        uint itt = i.NextItt();
        await i.SendAsync(Pdus.ScsiCommand(Pdus.Write10(0, 2), itt, 1024, i.CmdSN++, i.ExpStatSN, false, true));
        var r2t = await i.ReceiveAsync();
        await i.SendAsync(Pdus.DataOut(false, itt, r2t.Ttt, i.ExpStatSN, dataSN, offset, 512), new byte[512]);
        await i.SendAsync(Pdus.DataOut(true, itt, r2t.Ttt, i.ExpStatSN, dataSN + 1, 512, 512), new byte[512]);
        var status = await i.ReceiveAsync();
        Assert.That(status.Opcode, Is.EqualTo(IscsiOpcode.ScsiResponse));
        Assert.That(status.Status, Is.EqualTo(0x02));
        var sense = status.Sense();
        Assert.That(sense[2] & 0x0F, Is.EqualTo(0xB), "ABORTED COMMAND");
        Assert.That((sense[12], sense[13]), Is.EqualTo((asc, ascq)));
        Assert.That(f.Disk.Writes, Is.Zero);
    }

    [Test]
    public async Task Data_out_with_an_unknown_target_transfer_tag_is_rejected()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync(("ImmediateData", "No"));
        uint itt = i.NextItt();
        await i.SendAsync(Pdus.ScsiCommand(Pdus.Write10(0, 1), itt, 512, i.CmdSN++, i.ExpStatSN, false, true));
        var r2t = await i.ReceiveAsync();
        await i.SendAsync(Pdus.DataOut(true, itt, r2t.Ttt + 1, i.ExpStatSN, 0, 0, 512), new byte[512]);
        var reject = await i.ReceiveAsync();
        Assert.That(reject.Opcode, Is.EqualTo(IscsiOpcode.Reject));
        Assert.That(reject.RejectReason, Is.EqualTo(RejectReason.InvalidPduField));
        await i.SendDataOutAsync(itt, r2t.Ttt, new byte[512], 0, 512);
        var status = await i.ReceiveAsync();
        Assert.That(status.Status, Is.EqualTo(0x02), "the command fails: its data phase saw a bad TTT");
    }

    [Test]
    public async Task Idle_connection_is_pinged_and_the_answer_keeps_it_open()
    {
        var f = TargetFixture.Create(nopInInterval: TimeSpan.FromMilliseconds(400), nopInTimeout: TimeSpan.FromSeconds(5));
        var i = f.Connect();
        await i.LoginAsync(TargetFixture.TargetName);
        var ping = await i.ReceiveAsync();
        Assert.That(ping.Opcode, Is.EqualTo(IscsiOpcode.NopIn));
        Assert.That(ping.Itt, Is.EqualTo(BasicHeaderSegment.ReservedTag), "a target ping carries no ITT");
        Assert.That(ping.Ttt, Is.Not.EqualTo(BasicHeaderSegment.ReservedTag), "and asks for an answer with its TTT");
        Assert.That(ping.StatSN, Is.EqualTo(i.ExpStatSN), "it carries the next StatSN without taking it (RFC 7143 11.19.3)");
        await i.SendAsync(Pdus.NopOut(BasicHeaderSegment.ReservedTag, ping.Ttt, i.CmdSN, i.ExpStatSN));
        var pong = await i.PingAsync([1]);
        Assert.That(pong.StatSN, Is.EqualTo(ping.StatSN), "the ping did not advance StatSN");
    }

    [Test]
    public async Task Unanswered_ping_drops_the_connection()
    {
        var f = TargetFixture.Create(nopInInterval: TimeSpan.FromMilliseconds(100), nopInTimeout: TimeSpan.FromMilliseconds(300));
        var i = f.Connect();
        await i.LoginAsync(TargetFixture.TargetName);
        var pdus = await i.DrainUntilClosedAsync(TimeSpan.FromSeconds(5));
        Assert.That(pdus, Is.Not.Empty);
        Assert.That(pdus.Select(p => p.Opcode), Is.All.EqualTo(IscsiOpcode.NopIn));
        Assert.That(f.Log.Messages(3004), Has.Some.Contains("NOP-In ping not answered"));
    }

    [Test]
    public async Task MaxRecvDataSegmentLength_declared_in_full_feature_phase_applies_to_the_next_data_in()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync();
        Assert.That((await i.CommandAsync(Pdus.Read10(0, 8), 4096, read: true)).DataIns, Has.Count.EqualTo(1));
        var text = await i.TextAsync(("MaxRecvDataSegmentLength", "1024"));
        Assert.That(text.Keys()["MaxRecvDataSegmentLength"], Is.EqualTo("262144"));
        var read = await i.CommandAsync(Pdus.Read10(0, 8), 4096, read: true);
        Assert.That(read.DataIns.Select(d => d.Data.Length), Is.EqualTo(new[] { 1024, 1024, 1024, 1024 }));
    }

    [Test]
    public async Task Logout_is_answered_then_the_connection_closes_and_the_session_ends()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync(("DefaultTime2Wait", "5"), ("DefaultTime2Retain", "7"));
        Assert.That(f.Server.SessionCount, Is.EqualTo(1));
        uint itt = i.NextItt();
        await i.SendAsync(Pdus.Logout(LogoutReason.CloseSession, itt, i.Cid, i.CmdSN, i.ExpStatSN));
        var response = await i.ReceiveAsync();
        Assert.Multiple(() =>
        {
            Assert.That(response.Opcode, Is.EqualTo(IscsiOpcode.LogoutResponse));
            Assert.That(response.Itt, Is.EqualTo(itt));
            Assert.That(response.Response, Is.EqualTo((byte)LogoutResponseCode.Success));
            Assert.That(response.U16(40), Is.EqualTo(5), "Time2Wait");
            Assert.That(response.U16(42), Is.EqualTo(7), "Time2Retain");
        });
        await i.ExpectClosedAsync();
        Assert.That(f.Server.SessionCount, Is.Zero);
        Assert.That(f.Server.ConnectionCount, Is.Zero);
    }

    [Test]
    public async Task Logout_of_another_cid_and_for_recovery_keep_the_connection()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        await i.LoginAsync(TargetFixture.TargetName);
        await i.SendAsync(Pdus.Logout(LogoutReason.CloseConnection, 1, (ushort)(i.Cid + 1), i.CmdSN, i.ExpStatSN));
        Assert.That((await i.ReceiveAsync()).Response, Is.EqualTo((byte)LogoutResponseCode.CidNotFound));
        await i.SendAsync(Pdus.Logout(LogoutReason.RemoveConnectionForRecovery, 2, i.Cid, i.CmdSN, i.ExpStatSN));
        Assert.That((await i.ReceiveAsync()).Response, Is.EqualTo((byte)LogoutResponseCode.RecoveryNotSupported));
        await i.PingAsync();
    }

    [Test]
    public async Task Logout_of_a_discovery_session()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        await i.LoginAsync(null);
        await i.SendAsync(Pdus.Logout(LogoutReason.CloseSession, 5, i.Cid, i.CmdSN, i.ExpStatSN));
        Assert.That((await i.ReceiveAsync()).Opcode, Is.EqualTo(IscsiOpcode.LogoutResponse));
        await i.ExpectClosedAsync();
    }
}
