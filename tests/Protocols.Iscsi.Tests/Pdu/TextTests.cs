using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Iscsi.Tests.Support;

namespace StorageAppliance.Protocols.Iscsi.Tests.Pdu;

/// <summary>Text Request (RFC 7143 11.10) and Text Response (11.11).</summary>
public class TextTests
{
    // Immediate, final SendTargets=All: ITT 0x0badcafe, TTT reserved, CmdSN 3, ExpStatSN 4.
    private static readonly byte[] SendTargets = Wire.Hex("""
        44 80 00 00 | 00 00 00 10
        00 00 00 00 | 00 00 00 00
        0b ad ca fe | ff ff ff ff
        00 00 00 03 | 00 00 00 04
        00 00 00 00 | 00 00 00 00
        00 00 00 00 | 00 00 00 00
        """);

    // Continuation request (C=1, F=0) naming the target's TTT 0x77.
    private static readonly byte[] Continued = Wire.Hex("""
        04 40 00 00 | 00 00 00 00
        00 00 00 00 | 00 00 00 01
        00 00 00 01 | 00 00 00 77
        00 00 00 05 | 00 00 00 06
        00 00 00 00 | 00 00 00 00
        00 00 00 00 | 00 00 00 00
        """);

    [Test]
    public void Text_request_fields_at_a_nonzero_offset()
    {
        var h = Wire.Header(Wire.Embed(SendTargets, 1, 1), 1);
        Assert.That(h.Opcode, Is.EqualTo(IscsiOpcode.TextRequest));
        var r = new TextRequest(h);
        Assert.Multiple(() =>
        {
            Assert.That(r.Immediate, Is.True);
            Assert.That(r.Final, Is.True);
            Assert.That(r.Continue, Is.False);
            Assert.That(r.Lun, Is.EqualTo(0UL));
            Assert.That(r.InitiatorTaskTag, Is.EqualTo(0x0badcafeu));
            Assert.That(r.TargetTransferTag, Is.EqualTo(BasicHeaderSegment.ReservedTag));
            Assert.That(r.CmdSN, Is.EqualTo(3u));
            Assert.That(r.ExpStatSN, Is.EqualTo(4u));
        });
    }

    [Test]
    public void Continued_text_request_fields()
    {
        var r = new TextRequest(Wire.Header(Continued));
        Assert.That(r.Immediate, Is.False);
        Assert.That(r.Final, Is.False);
        Assert.That(r.Continue, Is.True);
        Assert.That(r.Lun, Is.EqualTo(1UL));
        Assert.That(r.TargetTransferTag, Is.EqualTo(0x77u));
    }

    [Test]
    public void Text_request_read_at_every_split_point()
    {
        FrameAssert.ReadsCompletely(Wire.Pdu(SendTargets, "SendTargets=All\0"u8), new FramingOptions(), frame =>
            Assert.That(Wire.Text(frame.Data), Is.EqualTo("SendTargets=All\0")));
    }

    [Test]
    public void Text_response_golden_bytes()
    {
        var bhs = new byte[48];
        bhs.AsSpan().Fill(0xEE);
        TextResponse.WriteHeader(bhs, final: false, @continue: true, lun: 0x0001000000000000UL, itt: 0x0badcafe, ttt: 0x12345678, dataSegmentLength: 300);
        Assert.That(Wire.Show(bhs), Is.EqualTo(Wire.Show(Wire.Hex("""
            24 40 00 00 | 00 00 01 2c
            00 01 00 00 | 00 00 00 00
            0b ad ca fe | 12 34 56 78
            00 00 00 00 | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            """))));
    }

    [Test]
    public void Text_response_final()
    {
        var bhs = new byte[48];
        TextResponse.WriteHeader(bhs, final: true, @continue: false, 0, 1, BasicHeaderSegment.ReservedTag, 0);
        Assert.That(bhs[1], Is.EqualTo(0x80));
        Assert.That(bhs.AsSpan(20, 4).ToArray(), Is.EqualTo(new byte[] { 0xff, 0xff, 0xff, 0xff }));
    }
}
