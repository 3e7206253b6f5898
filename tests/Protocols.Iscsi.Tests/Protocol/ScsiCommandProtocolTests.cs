using StorageAppliance.Protocols.Iscsi.Negotiation;
using StorageAppliance.Protocols.Iscsi.Pdu;

namespace StorageAppliance.Protocols.Iscsi.Tests.Protocol;

/// <summary>SCSI Command, R2T, Data-Out, Data-In and SCSI Response (RFC 7143 11.3-11.8) end to end.</summary>
public class ScsiCommandProtocolTests
{
    private static byte[] Pattern(int length, byte seed)
    {
        var data = new byte[length];
        for (int i = 0; i < length; i++)
            data[i] = (byte)(seed + i * 31 + i / 512);
        return data;
    }

    private static void AssertGood(TestInitiator.ScsiResult r)
    {
        Assert.That(r.Status, Is.EqualTo(0x00), () => r.Final.Opcode == IscsiOpcode.ScsiResponse && r.Sense.Length >= 14
            ? $"CHECK CONDITION key {r.SenseKey:x} ASC {r.Asc:x2}/{r.Ascq:x2}"
            : $"status {r.Status:x2}");
        Assert.That(r.Final.Response, Is.EqualTo(ScsiResponse.CommandCompleted));
    }

    [Test]
    public async Task Test_unit_ready_reports_the_power_on_unit_attention_once_then_good()
    {
        var f = TargetFixture.Create();
        var i = f.Connect();
        await i.LoginAsync(TargetFixture.TargetName);

        var first = await i.CommandAsync(Pdus.TestUnitReady(), 0);
        Assert.That(first.Final.Opcode, Is.EqualTo(IscsiOpcode.ScsiResponse));
        Assert.That(first.Status, Is.EqualTo(0x02), "CHECK CONDITION");
        Assert.That(first.Final.Data.Length, Is.EqualTo(2 + first.Sense.Length), "SenseLength prefix then sense");
        Assert.That(first.SenseKey, Is.EqualTo(0x6), "UNIT ATTENTION");
        Assert.That(first.Asc, Is.EqualTo(0x29), "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED");

        var second = await i.CommandAsync(Pdus.TestUnitReady(), 0);
        AssertGood(second);
        Assert.That(second.Final.Data, Is.Empty);
        Assert.That(second.Final.Flags, Is.EqualTo(0x80), "no residual for a command without data");
        Assert.That(second.Final.StatSN, Is.EqualTo(first.Final.StatSN + 1));
        Assert.That(second.Final.ExpCmdSN, Is.EqualTo(i.CmdSN));
    }

    [Test]
    public async Task Inquiry_returns_data_with_status_in_the_last_data_in()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync();
        var r = await i.CommandAsync(Pdus.Inquiry(36), 36, read: true);
        AssertGood(r);
        Assert.That(r.Pdus, Has.Count.EqualTo(1), "phase collapse: no separate SCSI Response");
        Assert.That(r.Final.Opcode, Is.EqualTo(IscsiOpcode.DataIn));
        Assert.That(r.Final.Flags & 0x81, Is.EqualTo(0x81), "F and S bits");
        Assert.That(r.DataIn, Has.Length.EqualTo(36));
        Assert.That(r.DataIn[0] & 0x1F, Is.EqualTo(0x00), "direct-access block device");
        Assert.That(TestInitiator.Ascii(r.DataIn[8..16]), Is.EqualTo("STORAPPL"));
    }

    [Test]
    public async Task Write10_with_immediate_data_then_read10_returns_the_same_bytes()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync(("ImmediateData", "Yes"), ("InitialR2T", "Yes"));
        byte[] data = Pattern(2 * 512, 3);
        var write = await i.CommandAsync(Pdus.Write10(10, 2), (uint)data.Length, write: data, immediateLength: data.Length);
        AssertGood(write);
        Assert.That(write.R2Ts, Is.Empty, "all the data came with the command");
        Assert.That(write.Final.Opcode, Is.EqualTo(IscsiOpcode.ScsiResponse));
        Assert.That(write.Final.U32(36), Is.Zero, "ExpDataSN: no R2T was sent");
        Assert.That(f.Disk.Bytes.Slice(10 * 512, data.Length).ToArray(), Is.EqualTo(data));

        var read = await i.CommandAsync(Pdus.Read10(10, 2), (uint)data.Length, read: true);
        AssertGood(read);
        Assert.That(read.DataIn, Is.EqualTo(data));
    }

    [Test]
    public async Task Write10_without_immediate_data_is_solicited_with_an_r2t()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync(("ImmediateData", "No"), ("InitialR2T", "Yes"));
        Assert.That(i.Negotiated["ImmediateData"], Is.EqualTo("No"));
        byte[] data = Pattern(4 * 512, 5);
        var write = await i.CommandAsync(Pdus.Write10(100, 4), (uint)data.Length, write: data);
        AssertGood(write);
        var r2t = write.R2Ts.Single();
        Assert.Multiple(() =>
        {
            Assert.That(r2t.U32(36), Is.EqualTo(0u), "R2TSN");
            Assert.That(r2t.BufferOffset, Is.EqualTo(0u));
            Assert.That(r2t.DesiredLength, Is.EqualTo((uint)data.Length));
            Assert.That(r2t.Ttt, Is.Not.EqualTo(BasicHeaderSegment.ReservedTag));
            Assert.That(r2t.Final, Is.True);
            Assert.That(write.Final.U32(36), Is.EqualTo(1u), "ExpDataSN counts the R2Ts of a write");
        });
        Assert.That(f.Disk.Bytes.Slice(100 * 512, data.Length).ToArray(), Is.EqualTo(data));
        var read = await i.CommandAsync(Pdus.Read10(100, 4), (uint)data.Length, read: true);
        Assert.That(read.DataIn, Is.EqualTo(data));
    }

    [Test]
    public async Task Write_larger_than_FirstBurstLength_gets_an_r2t_for_the_rest()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync(("ImmediateData", "Yes"), ("InitialR2T", "Yes"), ("FirstBurstLength", "512"));
        Assert.That(i.Negotiated["FirstBurstLength"], Is.EqualTo("512"));
        byte[] data = Pattern(8 * 512, 7);
        var write = await i.CommandAsync(Pdus.Write10(0, 8), (uint)data.Length, write: data, immediateLength: 512);
        AssertGood(write);
        var r2t = write.R2Ts.Single();
        Assert.That(r2t.BufferOffset, Is.EqualTo(512u), "the immediate data is already in");
        Assert.That(r2t.DesiredLength, Is.EqualTo((uint)(data.Length - 512)));
        Assert.That(f.Disk.Bytes[..data.Length].ToArray(), Is.EqualTo(data));
    }

    [Test]
    public async Task Write_larger_than_MaxBurstLength_is_asked_for_in_several_r2ts()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync(("ImmediateData", "No"), ("MaxBurstLength", "1024"), ("FirstBurstLength", "512"));
        byte[] data = Pattern(4096, 9);
        var write = await i.CommandAsync(Pdus.Write10(40, 8), (uint)data.Length, write: data);
        AssertGood(write);
        Assert.That(write.R2Ts.Select(r => r.U32(36)), Is.EqualTo(new uint[] { 0, 1, 2, 3 }), "R2TSN counts up");
        Assert.That(write.R2Ts.Select(r => r.BufferOffset), Is.EqualTo(new uint[] { 0, 1024, 2048, 3072 }));
        Assert.That(write.R2Ts.Select(r => r.DesiredLength), Is.All.EqualTo(1024u));
        Assert.That(write.R2Ts.Select(r => r.Ttt).Distinct().Count(), Is.EqualTo(4), "each R2T has its own TTT");
        Assert.That(f.Disk.Bytes.Slice(40 * 512, data.Length).ToArray(), Is.EqualTo(data));
    }

    [Test]
    public async Task Unsolicited_data_out_with_InitialR2T_No()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync(("ImmediateData", "Yes"), ("InitialR2T", "No"), ("FirstBurstLength", "2048"));
        Assert.That(i.Negotiated["InitialR2T"], Is.EqualTo("No"));
        byte[] data = Pattern(4096, 11);
        uint itt = i.NextItt();
        // 512 immediate, 1536 unsolicited in two Data-Out PDUs (TTT 0xffffffff), then an R2T for the last 2048.
        await i.SendAsync(Pdus.ScsiCommand(Pdus.Write10(200, 8), itt, 4096, i.CmdSN++, i.ExpStatSN, false, true, 512, final: false), data.AsMemory(0, 512));
        await i.SendAsync(Pdus.DataOut(false, itt, BasicHeaderSegment.ReservedTag, i.ExpStatSN, 0, 512, 1024), data.AsMemory(512, 1024));
        await i.SendAsync(Pdus.DataOut(true, itt, BasicHeaderSegment.ReservedTag, i.ExpStatSN, 1, 1536, 512), data.AsMemory(1536, 512));
        var r2t = await i.ReceiveAsync();
        Assert.That(r2t.Opcode, Is.EqualTo(IscsiOpcode.ReadyToTransfer));
        Assert.That(r2t.BufferOffset, Is.EqualTo(2048u));
        Assert.That(r2t.DesiredLength, Is.EqualTo(2048u));
        await i.SendDataOutAsync(itt, r2t.Ttt, data, 2048, 2048);
        var status = await i.ReceiveAsync();
        Assert.That(status.Opcode, Is.EqualTo(IscsiOpcode.ScsiResponse));
        Assert.That(status.Status, Is.EqualTo(0));
        Assert.That(f.Disk.Bytes.Slice(200 * 512, data.Length).ToArray(), Is.EqualTo(data));
    }

    [Test]
    public async Task Data_in_is_split_by_the_initiator_MaxRecvDataSegmentLength_with_status_on_the_last()
    {
        var f = TargetFixture.Create();
        byte[] data = Pattern(4096, 13);
        data.CopyTo(f.Disk.Bytes[(300 * 512)..]);
        var i = await f.LoggedInAsync(("MaxRecvDataSegmentLength", "512"));
        var r = await i.CommandAsync(Pdus.Read10(300, 8), 4096, read: true);
        AssertGood(r);
        Assert.That(r.DataIns, Has.Count.EqualTo(8));
        Assert.That(r.DataIns.Select(d => d.Data.Length), Is.All.EqualTo(512));
        Assert.That(r.DataIns.Select(d => d.DataSN), Is.EqualTo(new uint[] { 0, 1, 2, 3, 4, 5, 6, 7 }));
        Assert.That(r.DataIns.Select(d => d.BufferOffset), Is.EqualTo(new uint[] { 0, 512, 1024, 1536, 2048, 2560, 3072, 3584 }));
        Assert.That(r.DataIns.Select(d => d.HasStatus), Is.EqualTo(new[] { false, false, false, false, false, false, false, true }));
        Assert.That(r.DataIns.Take(7).Select(d => d.StatSN), Is.All.EqualTo(0u), "StatSN is reserved without the S bit");
        Assert.That(r.DataIns[^1].StatSN, Is.Not.Zero);
        Assert.That(r.DataIns.Select(d => d.ExpCmdSN), Is.All.EqualTo(i.CmdSN));
        Assert.That(r.DataIn, Is.EqualTo(data));
    }

    [Test]
    public async Task Data_in_sequences_end_with_F_at_each_MaxBurstLength()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync(("MaxRecvDataSegmentLength", "512"), ("MaxBurstLength", "1024"), ("FirstBurstLength", "512"));
        var r = await i.CommandAsync(Pdus.Read10(0, 8), 4096, read: true);
        AssertGood(r);
        Assert.That(r.DataIns.Select(d => d.Final), Is.EqualTo(new[] { false, true, false, true, false, true, false, true }));
        Assert.That(r.DataIns.Select(d => d.DataSN), Is.EqualTo(new uint[] { 0, 1, 2, 3, 4, 5, 6, 7 }), "DataSN is not reset per sequence");
    }

    [Test]
    public async Task Read_with_a_smaller_expected_length_reports_overflow()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync();
        var r = await i.CommandAsync(Pdus.Read10(0, 2), 512, read: true);
        AssertGood(r);
        Assert.That(r.DataIn, Has.Length.EqualTo(512), "no more than the EDTL is sent");
        Assert.That(r.Final.Flags & 0x06, Is.EqualTo(0x04), "O bit");
        Assert.That(r.Final.ResidualCount, Is.EqualTo(512u));
    }

    [Test]
    public async Task Read_with_a_larger_expected_length_reports_underflow()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync();
        var r = await i.CommandAsync(Pdus.Read10(0, 2), 4096, read: true);
        AssertGood(r);
        Assert.That(r.DataIn, Has.Length.EqualTo(1024));
        Assert.That(r.Final.Flags & 0x06, Is.EqualTo(0x02), "U bit");
        Assert.That(r.Final.ResidualCount, Is.EqualTo(3072u));
    }

    [Test]
    public async Task Read_beyond_the_end_is_a_check_condition_in_a_scsi_response()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync();
        var r = await i.CommandAsync(Pdus.Read10(TargetFixture.Blocks - 1, 2), 1024, read: true);
        Assert.That(r.Final.Opcode, Is.EqualTo(IscsiOpcode.ScsiResponse), "no phase collapse with sense data");
        Assert.That(r.Status, Is.EqualTo(0x02));
        Assert.That(r.SenseKey, Is.EqualTo(0x5), "ILLEGAL REQUEST");
        Assert.That(r.Asc, Is.EqualTo(0x21), "LOGICAL BLOCK ADDRESS OUT OF RANGE");
    }

    [Test]
    public async Task Command_to_a_missing_lun_is_a_check_condition()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync();
        var r = await i.CommandAsync(Pdus.TestUnitReady(), 0, lun: 7);
        Assert.That(r.Status, Is.EqualTo(0x02));
        Assert.That(r.SenseKey, Is.EqualTo(0x5));
        Assert.That(r.Asc, Is.EqualTo(0x25), "LOGICAL UNIT NOT SUPPORTED");
    }

    [Test]
    public async Task Immediate_data_when_ImmediateData_is_No_fails_the_command()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync(("ImmediateData", "No"));
        byte[] data = Pattern(512, 1);
        uint itt = i.NextItt();
        await i.SendAsync(Pdus.ScsiCommand(Pdus.Write10(0, 1), itt, 512, i.CmdSN++, i.ExpStatSN, false, true, 512), data);
        var status = await i.ReceiveAsync();
        Assert.That(status.Opcode, Is.EqualTo(IscsiOpcode.ScsiResponse));
        Assert.That(status.Status, Is.EqualTo(0x02));
        var sense = status.Sense();
        Assert.That(sense[2] & 0x0F, Is.EqualTo(0xB), "ABORTED COMMAND");
        Assert.That(sense[12], Is.EqualTo(0x0C));
        Assert.That(sense[13], Is.EqualTo(0x0C), "UNEXPECTED UNSOLICITED DATA");
        Assert.That(f.Disk.Writes, Is.Zero);
    }

    [Test]
    public async Task Commands_in_flight_on_two_sessions_do_not_mix()
    {
        var f = TargetFixture.Create();
        var a = await f.LoggedInAsync();
        var b = await f.LoggedInAsync();
        byte[] da = Pattern(1024, 21), db = Pattern(1024, 22);
        var wa = a.CommandAsync(Pdus.Write10(500, 2), 1024, write: da, immediateLength: 1024);
        var wb = b.CommandAsync(Pdus.Write10(600, 2), 1024, write: db, immediateLength: 1024);
        AssertGood(await wa);
        AssertGood(await wb);
        Assert.That((await b.CommandAsync(Pdus.Read10(500, 2), 1024, read: true)).DataIn, Is.EqualTo(da));
        Assert.That((await a.CommandAsync(Pdus.Read10(600, 2), 1024, read: true)).DataIn, Is.EqualTo(db));
    }
}
