using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Iscsi.Tests.Support;

namespace StorageAppliance.Protocols.Iscsi.Tests.Pdu;

/// <summary>SCSI Data-Out (RFC 7143 11.7).</summary>
public class DataOutTests
{
    // Final Data-Out on LUN 3 for ITT 0x100, TTT 0x200 (solicited), ExpStatSN 9, DataSN 2, offset 0x2000, 6 bytes.
    private static readonly byte[] Solicited = Wire.Hex("""
        05 80 00 00 | 00 00 00 06
        00 03 00 00 | 00 00 00 00
        00 00 01 00 | 00 00 02 00
        00 00 00 00 | 00 00 00 09
        00 00 00 00 | 00 00 00 02
        00 00 20 00 | 00 00 00 00
        """);

    // Unsolicited (TTT 0xffffffff), not final.
    private static readonly byte[] Unsolicited = Wire.Hex("""
        05 00 00 00 | 00 00 00 04
        00 00 00 00 | 00 00 00 00
        00 00 00 07 | ff ff ff ff
        00 00 00 00 | 00 00 00 01
        00 00 00 00 | 00 00 00 00
        00 00 00 00 | 00 00 00 00
        """);

    [Test]
    public void Solicited_data_out_fields_at_a_nonzero_offset()
    {
        var h = Wire.Header(Wire.Embed(Solicited, 3, 0), 3);
        Assert.That(h.Opcode, Is.EqualTo(IscsiOpcode.DataOut));
        var d = new DataOut(h);
        Assert.Multiple(() =>
        {
            Assert.That(d.Final, Is.True);
            Assert.That(d.Lun, Is.EqualTo(0x0003000000000000UL));
            Assert.That(d.InitiatorTaskTag, Is.EqualTo(0x100u));
            Assert.That(d.TargetTransferTag, Is.EqualTo(0x200u));
            Assert.That(d.ExpStatSN, Is.EqualTo(9u));
            Assert.That(d.DataSN, Is.EqualTo(2u));
            Assert.That(d.BufferOffset, Is.EqualTo(0x2000u));
            Assert.That(d.DataSegmentLength, Is.EqualTo(6));
        });
    }

    [Test]
    public void Unsolicited_data_out_fields()
    {
        var d = new DataOut(Wire.Header(Unsolicited));
        Assert.That(d.Final, Is.False);
        Assert.That(d.TargetTransferTag, Is.EqualTo(BasicHeaderSegment.ReservedTag));
        Assert.That(d.InitiatorTaskTag, Is.EqualTo(7u));
        Assert.That(d.DataSN, Is.EqualTo(0u));
        Assert.That(d.BufferOffset, Is.EqualTo(0u));
    }

    [Test]
    public void Data_out_read_at_every_split_point_with_data_digest()
    {
        byte[] data = [1, 2, 3, 4, 5, 6];
        byte[] pdu = Wire.Pdu(Solicited, data, dataDigest: true);
        Assert.That(pdu.Length, Is.EqualTo(48 + 8 + 4));
        FrameAssert.ReadsCompletely(pdu, new FramingOptions { DataDigest = true }, frame =>
        {
            Assert.That(new DataOut(frame.Header).BufferOffset, Is.EqualTo(0x2000u));
            Assert.That(frame.Data.ToArray(), Is.EqualTo(data));
        });
    }

    [Test]
    public void Data_out_read_at_every_split_point_without_digests()
    {
        byte[] data = [9, 8, 7, 6];
        FrameAssert.ReadsCompletely(Wire.Pdu(Unsolicited, data), new FramingOptions(), frame =>
            Assert.That(frame.Data.ToArray(), Is.EqualTo(data)));
    }
}
