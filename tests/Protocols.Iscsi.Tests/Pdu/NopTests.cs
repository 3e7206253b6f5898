using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Iscsi.Tests.Support;

namespace StorageAppliance.Protocols.Iscsi.Tests.Pdu;

/// <summary>NOP-Out (RFC 7143 11.18) and NOP-In (11.19).</summary>
public class NopTests
{
    // Immediate ping with 5 bytes of data: ITT 0x42, TTT reserved, CmdSN 0x0a, ExpStatSN 0x0b.
    private static readonly byte[] Ping = Wire.Hex("""
        40 80 00 00 | 00 00 00 05
        00 00 00 00 | 00 00 00 00
        00 00 00 42 | ff ff ff ff
        00 00 00 0a | 00 00 00 0b
        00 00 00 00 | 00 00 00 00
        00 00 00 00 | 00 00 00 00
        """);

    // Answer to the target's NOP-In 0x5555: ITT reserved, TTT echoed.
    private static readonly byte[] Answer = Wire.Hex("""
        40 80 00 00 | 00 00 00 00
        00 00 00 00 | 00 00 00 00
        ff ff ff ff | 00 00 55 55
        00 00 00 0c | 00 00 00 0d
        00 00 00 00 | 00 00 00 00
        00 00 00 00 | 00 00 00 00
        """);

    [Test]
    public void Ping_fields_at_a_nonzero_offset()
    {
        var h = Wire.Header(Wire.Embed(Ping, 2, 2), 2);
        Assert.That(h.Opcode, Is.EqualTo(IscsiOpcode.NopOut));
        var n = new NopOut(h);
        Assert.Multiple(() =>
        {
            Assert.That(n.Immediate, Is.True);
            Assert.That(n.Lun, Is.EqualTo(0UL));
            Assert.That(n.InitiatorTaskTag, Is.EqualTo(0x42u));
            Assert.That(n.TargetTransferTag, Is.EqualTo(BasicHeaderSegment.ReservedTag));
            Assert.That(n.CmdSN, Is.EqualTo(0x0au));
            Assert.That(n.ExpStatSN, Is.EqualTo(0x0bu));
            Assert.That(n.DataSegmentLength, Is.EqualTo(5));
        });
    }

    [Test]
    public void Answer_to_target_ping_fields()
    {
        var n = new NopOut(Wire.Header(Answer));
        Assert.That(n.InitiatorTaskTag, Is.EqualTo(BasicHeaderSegment.ReservedTag));
        Assert.That(n.TargetTransferTag, Is.EqualTo(0x5555u));
        Assert.That(n.DataSegmentLength, Is.EqualTo(0));
    }

    [Test]
    public void Ping_read_at_every_split_point_with_both_digests()
    {
        FrameAssert.ReadsCompletely(Wire.Pdu(Ping, "ping!"u8, headerDigest: true, dataDigest: true),
            new FramingOptions { HeaderDigest = true, DataDigest = true },
            frame => Assert.That(Wire.Text(frame.Data), Is.EqualTo("ping!")));
    }

    [Test]
    public void Answer_without_data_has_no_data_digest()
    {
        // RFC 7143 11.1: the data digest is present only with a data segment.
        byte[] pdu = Wire.Pdu(Answer, headerDigest: true, dataDigest: true);
        Assert.That(pdu.Length, Is.EqualTo(52));
        FrameAssert.ReadsCompletely(pdu, new FramingOptions { HeaderDigest = true, DataDigest = true },
            frame => Assert.That(frame.Data.IsEmpty, Is.True));
    }

    [Test]
    public void Nop_in_golden_bytes()
    {
        var bhs = new byte[48];
        bhs.AsSpan().Fill(0xEE);
        NopIn.WriteHeader(bhs, lun: 0x0001000000000000UL, itt: 0x42, ttt: BasicHeaderSegment.ReservedTag, dataSegmentLength: 5);
        Assert.That(Wire.Show(bhs), Is.EqualTo(Wire.Show(Wire.Hex("""
            20 80 00 00 | 00 00 00 05
            00 01 00 00 | 00 00 00 00
            00 00 00 42 | ff ff ff ff
            00 00 00 00 | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            """))));
    }
}
