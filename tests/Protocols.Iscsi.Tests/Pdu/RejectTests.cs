using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Iscsi.Tests.Support;

namespace StorageAppliance.Protocols.Iscsi.Tests.Pdu;

/// <summary>Reject (RFC 7143 11.17) and Asynchronous Message (11.9) writers.</summary>
public class RejectTests
{
    [Test]
    public void Reject_golden_bytes()
    {
        var bhs = new byte[48];
        bhs.AsSpan().Fill(0xEE);
        RejectPdu.WriteHeader(bhs, RejectReason.DataDigestError, 48);
        Assert.That(Wire.Show(bhs), Is.EqualTo(Wire.Show(Wire.Hex("""
            3f 80 02 00 | 00 00 00 30
            00 00 00 00 | 00 00 00 00
            ff ff ff ff | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            """))));
    }

    [TestCase(RejectReason.DataDigestError, 0x02)]
    [TestCase(RejectReason.SnackReject, 0x03)]
    [TestCase(RejectReason.ProtocolError, 0x04)]
    [TestCase(RejectReason.CommandNotSupported, 0x05)]
    [TestCase(RejectReason.ImmediateCommandReject, 0x06)]
    [TestCase(RejectReason.TaskInProgress, 0x07)]
    [TestCase(RejectReason.InvalidDataAck, 0x08)]
    [TestCase(RejectReason.InvalidPduField, 0x09)]
    [TestCase(RejectReason.LongOperationReject, 0x0a)]
    [TestCase(RejectReason.WaitingForLogout, 0x0c)]
    public void Reject_reason_codes_match_rfc7143(RejectReason reason, byte wire)
    {
        var bhs = new byte[48];
        RejectPdu.WriteHeader(bhs, reason, 48);
        Assert.That(bhs[2], Is.EqualTo(wire));
    }

    [Test]
    public void Async_message_golden_bytes()
    {
        var bhs = new byte[48];
        bhs.AsSpan().Fill(0xEE);
        AsyncMessage.WriteHeader(bhs, lun: 0x0002000000000000UL, AsyncEvent.LogoutRequest, p1: 0x0102, p2: 0x0304, p3: 0x0506, dataSegmentLength: 0);
        Assert.That(Wire.Show(bhs), Is.EqualTo(Wire.Show(Wire.Hex("""
            32 80 00 00 | 00 00 00 00
            00 02 00 00 | 00 00 00 00
            ff ff ff ff | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            00 00 00 00 | 01 00 01 02
            03 04 05 06 | 00 00 00 00
            """))));
    }
}
