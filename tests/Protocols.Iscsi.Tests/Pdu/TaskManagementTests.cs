using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Iscsi.Tests.Support;

namespace StorageAppliance.Protocols.Iscsi.Tests.Pdu;

/// <summary>Task Management Function Request (RFC 7143 11.5) and Response (11.6).</summary>
public class TaskManagementTests
{
    // Immediate ABORT TASK on LUN 2, ITT 0x21, referencing ITT 0x20 (RefCmdSN 0x30), CmdSN 0x31, ExpStatSN 0x40, ExpDataSN 5.
    private static readonly byte[] AbortTask = Wire.Hex("""
        42 81 00 00 | 00 00 00 00
        00 02 00 00 | 00 00 00 00
        00 00 00 21 | 00 00 00 20
        00 00 00 31 | 00 00 00 40
        00 00 00 30 | 00 00 00 05
        00 00 00 00 | 00 00 00 00
        """);

    // Non-immediate LOGICAL UNIT RESET, referenced tag reserved.
    private static readonly byte[] LunReset = Wire.Hex("""
        02 85 00 00 | 00 00 00 00
        00 00 00 00 | 00 00 00 00
        00 00 00 22 | ff ff ff ff
        00 00 00 32 | 00 00 00 41
        00 00 00 00 | 00 00 00 00
        00 00 00 00 | 00 00 00 00
        """);

    [Test]
    public void Abort_task_fields_at_a_nonzero_offset()
    {
        var h = Wire.Header(Wire.Embed(AbortTask, 17, 1), 17);
        Assert.That(h.Opcode, Is.EqualTo(IscsiOpcode.TaskManagementRequest));
        var r = new TaskManagementRequest(h);
        Assert.Multiple(() =>
        {
            Assert.That(r.Immediate, Is.True);
            Assert.That(r.Function, Is.EqualTo(TaskManagementFunction.AbortTask));
            Assert.That(r.Lun, Is.EqualTo(0x0002000000000000UL));
            Assert.That(r.InitiatorTaskTag, Is.EqualTo(0x21u));
            Assert.That(r.ReferencedTaskTag, Is.EqualTo(0x20u));
            Assert.That(r.CmdSN, Is.EqualTo(0x31u));
            Assert.That(r.ExpStatSN, Is.EqualTo(0x40u));
            Assert.That(r.RefCmdSN, Is.EqualTo(0x30u));
            Assert.That(r.ExpDataSN, Is.EqualTo(5u));
        });
    }

    [Test]
    public void Lun_reset_fields()
    {
        var r = new TaskManagementRequest(Wire.Header(LunReset));
        Assert.That(r.Immediate, Is.False);
        Assert.That(r.Function, Is.EqualTo(TaskManagementFunction.LogicalUnitReset));
        Assert.That(r.ReferencedTaskTag, Is.EqualTo(BasicHeaderSegment.ReservedTag));
        Assert.That(r.CmdSN, Is.EqualTo(0x32u));
    }

    [Test]
    public void Task_management_request_read_at_every_split_point_with_header_digest()
    {
        FrameAssert.ReadsCompletely(Wire.Pdu(AbortTask, headerDigest: true), new FramingOptions { HeaderDigest = true, DataDigest = true },
            frame => Assert.That(new TaskManagementRequest(frame.Header).ReferencedTaskTag, Is.EqualTo(0x20u)));
    }

    [Test]
    public void Task_management_response_golden_bytes()
    {
        var bhs = new byte[48];
        bhs.AsSpan().Fill(0xEE);
        TaskManagementResponsePdu.WriteHeader(bhs, 0x01020304, TaskManagementResponse.TaskDoesNotExist);
        Assert.That(Wire.Show(bhs), Is.EqualTo(Wire.Show(Wire.Hex("""
            22 80 01 00 | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            01 02 03 04 | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            """))));
    }

    [TestCase(TaskManagementResponse.FunctionComplete, 0)]
    [TestCase(TaskManagementResponse.LunDoesNotExist, 2)]
    [TestCase(TaskManagementResponse.TaskAllegianceReassignmentNotSupported, 4)]
    [TestCase(TaskManagementResponse.FunctionNotSupported, 5)]
    [TestCase(TaskManagementResponse.FunctionRejected, 255)]
    public void Task_management_response_codes(TaskManagementResponse response, byte wire)
    {
        var bhs = new byte[48];
        TaskManagementResponsePdu.WriteHeader(bhs, 1, response);
        Assert.That(bhs[2], Is.EqualTo(wire));
    }
}
