using StorageAppliance.Protocols.Iscsi.Pdu;

namespace StorageAppliance.Protocols.Iscsi.Tests.Protocol;

/// <summary>Task Management Function Request/Response (RFC 7143 11.5-11.6) end to end.</summary>
public class TaskManagementProtocolTests
{
    private static async Task<TargetPdu> TmfAsync(TestInitiator i, TaskManagementFunction function, uint referencedItt = BasicHeaderSegment.ReservedTag,
        uint? refCmdSN = null, ulong lun = 0)
    {
        uint itt = i.NextItt();
        await i.SendAsync(Pdus.TaskManagement(function, itt, referencedItt, i.CmdSN, i.ExpStatSN, refCmdSN ?? i.CmdSN - 1, immediate: true, lun: lun));
        var response = await i.ReceiveAsync();
        Assert.That(response.Opcode, Is.EqualTo(IscsiOpcode.TaskManagementResponse), $"got {response}");
        Assert.That(response.Itt, Is.EqualTo(itt));
        Assert.That(response.Final, Is.True);
        return response;
    }

    [Test]
    public async Task Abort_task_of_an_unknown_itt_answers_task_does_not_exist()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync();
        // RefCmdSN names a command that was already completed, so it cannot be "not yet received".
        var response = await TmfAsync(i, TaskManagementFunction.AbortTask, referencedItt: 0xABCDEF, refCmdSN: i.CmdSN - 1);
        Assert.That(response.Response, Is.EqualTo((byte)TaskManagementResponse.TaskDoesNotExist));
    }

    [Test]
    public async Task Abort_task_of_a_command_waiting_for_data_completes_and_its_data_is_dropped()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync(("ImmediateData", "No"));
        uint itt = i.NextItt();
        uint cmdSN = i.CmdSN++;
        await i.SendAsync(Pdus.ScsiCommand(Pdus.Write10(0, 2), itt, 1024, cmdSN, i.ExpStatSN, false, true));
        var r2t = await i.ReceiveAsync();
        Assert.That(r2t.Opcode, Is.EqualTo(IscsiOpcode.ReadyToTransfer));

        var response = await TmfAsync(i, TaskManagementFunction.AbortTask, referencedItt: itt, refCmdSN: cmdSN);
        Assert.That(response.Response, Is.EqualTo((byte)TaskManagementResponse.FunctionComplete));

        // SAM-5: an aborted task ends without a response; its late Data-Out is discarded without a Reject.
        await i.SendDataOutAsync(itt, r2t.Ttt, new byte[1024], 0, 1024);
        await i.PingAsync();
        Assert.That(f.Disk.Writes, Is.Zero);
        Assert.That((await i.CommandAsync(Pdus.TestUnitReady(), 0)).Status, Is.Zero, "the session goes on");
    }

    [Test]
    public async Task Lun_reset_completes_and_the_next_command_sees_the_reset_unit_attention()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync();
        var response = await TmfAsync(i, TaskManagementFunction.LogicalUnitReset);
        Assert.That(response.Response, Is.EqualTo((byte)TaskManagementResponse.FunctionComplete));
        var tur = await i.CommandAsync(Pdus.TestUnitReady(), 0);
        Assert.That(tur.Status, Is.EqualTo(0x02));
        Assert.That(tur.SenseKey, Is.EqualTo(0x6));
        Assert.That(tur.Asc, Is.EqualTo(0x29));
        Assert.That(tur.Ascq, Is.EqualTo(0x03), "BUS DEVICE RESET FUNCTION OCCURRED");
    }

    [Test]
    public async Task Lun_reset_of_a_missing_lun_answers_lun_does_not_exist()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync();
        var response = await TmfAsync(i, TaskManagementFunction.LogicalUnitReset, lun: 9);
        Assert.That(response.Response, Is.EqualTo((byte)TaskManagementResponse.LunDoesNotExist));
    }

    [Test]
    public async Task Abort_task_set_and_clear_task_set_complete()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync();
        Assert.That((await TmfAsync(i, TaskManagementFunction.AbortTaskSet)).Response, Is.EqualTo((byte)TaskManagementResponse.FunctionComplete));
        Assert.That((await TmfAsync(i, TaskManagementFunction.ClearTaskSet)).Response, Is.EqualTo((byte)TaskManagementResponse.FunctionComplete));
        Assert.That((await TmfAsync(i, TaskManagementFunction.ClearAca)).Response, Is.EqualTo((byte)TaskManagementResponse.FunctionComplete));
    }

    [Test]
    public async Task Task_reassign_is_not_supported_at_error_recovery_level_0()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync();
        var response = await TmfAsync(i, TaskManagementFunction.TaskReassign, referencedItt: 1);
        Assert.That(response.Response, Is.EqualTo((byte)TaskManagementResponse.TaskAllegianceReassignmentNotSupported));
    }

    [Test]
    public async Task Unknown_function_is_rejected()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync();
        var response = await TmfAsync(i, (TaskManagementFunction)20);
        Assert.That(response.Response, Is.AnyOf((byte)TaskManagementResponse.FunctionRejected, (byte)TaskManagementResponse.FunctionNotSupported));
    }

    [Test]
    public async Task Target_warm_reset_resets_every_lun()
    {
        var f = TargetFixture.Create();
        var i = await f.LoggedInAsync();
        var response = await TmfAsync(i, TaskManagementFunction.TargetWarmReset);
        Assert.That(response.Response, Is.EqualTo((byte)TaskManagementResponse.FunctionComplete));
        var tur = await i.CommandAsync(Pdus.TestUnitReady(), 0);
        Assert.That(tur.SenseKey, Is.EqualTo(0x6));
        Assert.That(tur.Asc, Is.EqualTo(0x29));
    }
}
