using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Iscsi.Tests.Support;

namespace StorageAppliance.Protocols.Iscsi.Tests.Pdu;

/// <summary>Logout Request (RFC 7143 11.14) and Logout Response (11.15).</summary>
public class LogoutTests
{
    // Immediate logout closing connection CID 0x0102: ITT 0x99, CmdSN 0x10, ExpStatSN 0x20.
    private static readonly byte[] CloseConnection = Wire.Hex("""
        46 81 00 00 | 00 00 00 00
        00 00 00 00 | 00 00 00 00
        00 00 00 99 | 01 02 00 00
        00 00 00 10 | 00 00 00 20
        00 00 00 00 | 00 00 00 00
        00 00 00 00 | 00 00 00 00
        """);

    [Test]
    public void Logout_request_fields_at_a_nonzero_offset()
    {
        var h = Wire.Header(Wire.Embed(CloseConnection, 9, 9), 9);
        Assert.That(h.Opcode, Is.EqualTo(IscsiOpcode.LogoutRequest));
        var r = new LogoutRequest(h);
        Assert.Multiple(() =>
        {
            Assert.That(r.Immediate, Is.True);
            Assert.That(r.Reason, Is.EqualTo(LogoutReason.CloseConnection));
            Assert.That(r.InitiatorTaskTag, Is.EqualTo(0x99u));
            Assert.That(r.Cid, Is.EqualTo(0x0102));
            Assert.That(r.CmdSN, Is.EqualTo(0x10u));
            Assert.That(r.ExpStatSN, Is.EqualTo(0x20u));
        });
    }

    [Test]
    public void Logout_reason_close_session_and_recovery()
    {
        var bytes = (byte[])CloseConnection.Clone();
        bytes[1] = 0x80;
        Assert.That(new LogoutRequest(Wire.Header(bytes)).Reason, Is.EqualTo(LogoutReason.CloseSession));
        bytes[1] = 0x82;
        Assert.That(new LogoutRequest(Wire.Header(bytes)).Reason, Is.EqualTo(LogoutReason.RemoveConnectionForRecovery));
    }

    [Test]
    public void Logout_request_read_at_every_split_point()
    {
        FrameAssert.ReadsCompletely(Wire.Pdu(CloseConnection, headerDigest: true), new FramingOptions { HeaderDigest = true },
            frame => Assert.That(new LogoutRequest(frame.Header).Cid, Is.EqualTo(0x0102)));
    }

    [Test]
    public void Logout_response_golden_bytes()
    {
        var bhs = new byte[48];
        bhs.AsSpan().Fill(0xEE);
        LogoutResponse.WriteHeader(bhs, 0x99, LogoutResponseCode.CidNotFound, time2Wait: 2, time2Retain: 0x0102);
        Assert.That(Wire.Show(bhs), Is.EqualTo(Wire.Show(Wire.Hex("""
            26 80 01 00 | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            00 00 00 99 | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            00 02 01 02 | 00 00 00 00
            """))));
    }
}
