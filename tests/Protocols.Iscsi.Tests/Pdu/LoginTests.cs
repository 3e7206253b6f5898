using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Iscsi.Tests.Support;

namespace StorageAppliance.Protocols.Iscsi.Tests.Pdu;

/// <summary>Login Request (RFC 7143 11.12) parsing and Login Response (11.13) writing.</summary>
public class LoginTests
{
    private const string Text = "InitiatorName=iqn.1994-05.com.example:h1\0SessionType=Normal\0AuthMethod=None\0";

    // Security stage, transit to operational: T=1 C=0 CSG=0 NSG=1.
    private static readonly byte[] SecurityHeader = Wire.Hex("""
        43 81 00 00 | 00 00 00 4c
        80 12 34 56 | 78 9a 00 00
        0a 0b 0c 0d | 01 02 00 00
        11 22 33 44 | 55 66 77 88
        00 00 00 00 | 00 00 00 00
        00 00 00 00 | 00 00 00 00
        """);

    // Operational stage, transit to full feature, joining TSIH 0x1234; Version-max 2, Version-min 1.
    private static readonly byte[] OperationalHeader = Wire.Hex("""
        43 87 02 01 | 00 00 00 05
        00 02 3d 00 | 00 01 12 34
        ff ff ff fe | ab cd 00 00
        80 00 00 01 | 00 00 00 00
        00 00 00 00 | 00 00 00 00
        00 00 00 00 | 00 00 00 00
        """);

    // C=1 (text continues), T=0, CSG=1.
    private static readonly byte[] ContinueHeader = Wire.Hex("""
        43 44 00 00 | 00 00 00 00
        00 00 00 00 | 00 00 00 00
        00 00 00 01 | 00 00 00 00
        00 00 00 00 | 00 00 00 00
        00 00 00 00 | 00 00 00 00
        00 00 00 00 | 00 00 00 00
        """);

    [Test]
    public void Login_request_fields_at_a_nonzero_offset()
    {
        byte[] big = Wire.Embed(SecurityHeader, 13, 7);
        var h = Wire.Header(big, 13);
        Assert.That(h.Opcode, Is.EqualTo(IscsiOpcode.LoginRequest));
        Assert.That(h.Immediate, Is.True);
        var r = new LoginRequest(h);
        Assert.Multiple(() =>
        {
            Assert.That(r.Transit, Is.True);
            Assert.That(r.Continue, Is.False);
            Assert.That(r.CurrentStage, Is.EqualTo(LoginStage.SecurityNegotiation));
            Assert.That(r.NextStage, Is.EqualTo(LoginStage.LoginOperationalNegotiation));
            Assert.That(r.VersionMax, Is.EqualTo(0));
            Assert.That(r.VersionMin, Is.EqualTo(0));
            Assert.That(r.Isid, Is.EqualTo(0x80123456789aUL));
            Assert.That(r.Tsih, Is.EqualTo(0));
            Assert.That(r.InitiatorTaskTag, Is.EqualTo(0x0a0b0c0du));
            Assert.That(r.Cid, Is.EqualTo(0x0102));
            Assert.That(r.CmdSN, Is.EqualTo(0x11223344u));
            Assert.That(r.ExpStatSN, Is.EqualTo(0x55667788u));
            Assert.That(r.DataSegmentLength, Is.EqualTo(Text.Length));
        });
    }

    [Test]
    public void Login_request_operational_stage_fields()
    {
        var r = new LoginRequest(Wire.Header(OperationalHeader));
        Assert.Multiple(() =>
        {
            Assert.That(r.Transit, Is.True);
            Assert.That(r.CurrentStage, Is.EqualTo(LoginStage.LoginOperationalNegotiation));
            Assert.That(r.NextStage, Is.EqualTo(LoginStage.FullFeaturePhase));
            Assert.That(r.VersionMax, Is.EqualTo(2));
            Assert.That(r.VersionMin, Is.EqualTo(1));
            Assert.That(r.Isid, Is.EqualTo(0x00023d000001UL));
            Assert.That(r.Tsih, Is.EqualTo(0x1234));
            Assert.That(r.InitiatorTaskTag, Is.EqualTo(0xfffffffeu));
            Assert.That(r.Cid, Is.EqualTo(0xabcd));
            Assert.That(r.CmdSN, Is.EqualTo(0x80000001u));
            Assert.That(r.DataSegmentLength, Is.EqualTo(5));
        });
    }

    [Test]
    public void Login_request_continue_bit()
    {
        var r = new LoginRequest(Wire.Header(ContinueHeader));
        Assert.That(r.Continue, Is.True);
        Assert.That(r.Transit, Is.False);
        Assert.That(r.CurrentStage, Is.EqualTo(LoginStage.LoginOperationalNegotiation));
    }

    [Test]
    public void Login_request_read_at_every_split_point()
    {
        byte[] pdu = Wire.Pdu(SecurityHeader, System.Text.Encoding.ASCII.GetBytes(Text));
        Assert.That(pdu.Length, Is.EqualTo(48 + 76));
        FrameAssert.ReadsCompletely(pdu, new FramingOptions(), frame =>
        {
            Assert.That(frame.Header.Opcode, Is.EqualTo(IscsiOpcode.LoginRequest));
            Assert.That(new LoginRequest(frame.Header).Isid, Is.EqualTo(0x80123456789aUL));
            Assert.That(frame.Ahs.IsEmpty, Is.True);
            Assert.That(Wire.Text(frame.Data), Is.EqualTo(Text));
        });
    }

    [Test]
    public void Login_request_with_padding_read_at_every_split_point()
    {
        byte[] pdu = Wire.Pdu(OperationalHeader, "X-a=b"u8);
        Assert.That(pdu.Length, Is.EqualTo(48 + 8), "5 data bytes are padded to 8");
        FrameAssert.ReadsCompletely(pdu, new FramingOptions(), frame =>
        {
            Assert.That(frame.Data.Length, Is.EqualTo(5), "padding is not part of the data");
            Assert.That(Wire.Text(frame.Data), Is.EqualTo("X-a=b"));
        });
    }

    [Test]
    public void Login_response_success_with_transit_golden_bytes()
    {
        var bhs = new byte[48];
        bhs.AsSpan().Fill(0xEE); // every byte the writer does not set must come out zero
        LoginResponse.WriteHeader(bhs, transit: true, @continue: false, LoginStage.LoginOperationalNegotiation, LoginStage.FullFeaturePhase,
            isid: 0x80123456789aUL, tsih: 0x0102, itt: 0x0a0b0c0d, LoginStatus.Success, dataSegmentLength: 0x0123);
        Assert.That(Wire.Show(bhs), Is.EqualTo(Wire.Show(Wire.Hex("""
            23 87 00 00 | 00 00 01 23
            80 12 34 56 | 78 9a 01 02
            0a 0b 0c 0d | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            """))));
    }

    [Test]
    public void Login_response_failure_golden_bytes()
    {
        var bhs = new byte[48];
        bhs.AsSpan().Fill(0xEE);
        // No transit: NSG must be zero even though one is passed (RFC 7143 11.13.3: NSG is valid only with T=1).
        LoginResponse.WriteHeader(bhs, transit: false, @continue: false, LoginStage.SecurityNegotiation, LoginStage.LoginOperationalNegotiation,
            isid: 0x1UL, tsih: 0, itt: 0xffffffff, LoginStatus.AuthorizationFailure, dataSegmentLength: 0);
        Assert.That(Wire.Show(bhs), Is.EqualTo(Wire.Show(Wire.Hex("""
            23 00 00 00 | 00 00 00 00
            00 00 00 00 | 00 01 00 00
            ff ff ff ff | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            00 00 00 00 | 02 02 00 00
            00 00 00 00 | 00 00 00 00
            """))));
    }

    [Test]
    public void Login_response_continue_bit()
    {
        var bhs = new byte[48];
        LoginResponse.WriteHeader(bhs, transit: false, @continue: true, LoginStage.LoginOperationalNegotiation, LoginStage.SecurityNegotiation,
            0, 0, 1, LoginStatus.Success, 0);
        Assert.That(bhs[1], Is.EqualTo(0x44));
    }

    [TestCase(LoginStatus.AuthenticationFailure, 0x02, 0x01)]
    [TestCase(LoginStatus.NotFound, 0x02, 0x03)]
    [TestCase(LoginStatus.MissingParameter, 0x02, 0x07)]
    [TestCase(LoginStatus.ServiceUnavailable, 0x03, 0x01)]
    [TestCase(LoginStatus.TargetMovedTemporarily, 0x01, 0x01)]
    public void Login_response_status_class_and_detail(LoginStatus status, byte statusClass, byte detail)
    {
        var bhs = new byte[48];
        LoginResponse.WriteHeader(bhs, false, false, LoginStage.SecurityNegotiation, LoginStage.SecurityNegotiation, 0, 0, 0, status, 0);
        Assert.That(bhs[36], Is.EqualTo(statusClass));
        Assert.That(bhs[37], Is.EqualTo(detail));
    }
}
