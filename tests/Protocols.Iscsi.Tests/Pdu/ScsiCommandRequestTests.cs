using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Iscsi.Tests.Support;

namespace StorageAppliance.Protocols.Iscsi.Tests.Pdu;

/// <summary>SCSI Command (RFC 7143 11.3).</summary>
public class ScsiCommandRequestTests
{
    // RFC 7143 B.4: the example Read (10) command: F=1 R=1, ITT 0x14000000, EDTL 1024, CmdSN 0x14,
    // ExpStatSN 0x18, READ(10) of 2 blocks at LBA 0. Its header digest bytes are 56 3a 96 d9.
    private static readonly byte[] Read10 = Wire.Hex("""
        01 c0 00 00 | 00 00 00 00
        00 00 00 00 | 00 00 00 00
        14 00 00 00 | 00 00 04 00
        00 00 00 14 | 00 00 00 18
        28 00 00 00 | 00 00 00 00
        02 00 00 00 | 00 00 00 00
        """);

    // Immediate WRITE(10) on LUN 1 with 11 bytes of immediate data and more unsolicited data to follow (F=0),
    // task attribute 2 (ordered).
    private static readonly byte[] Write10 = Wire.Hex("""
        41 22 00 00 | 00 00 00 0b
        00 01 00 00 | 00 00 00 00
        de ad be ef | 00 00 10 00
        ff ff ff ff | 00 00 00 07
        2a 00 00 00 | 00 10 00 00
        08 00 00 00 | 00 00 00 00
        """);

    // A 20-byte CDB: the first 16 in the BHS, the last 4 in an Extended CDB AHS (type 1, AHSLength 5).
    private static readonly byte[] LongCdb = Wire.Hex("""
        01 80 00 00 | 02 00 00 00
        00 00 00 00 | 00 00 00 00
        00 00 00 09 | 00 00 00 00
        00 00 00 01 | 00 00 00 01
        7f 00 00 00 | 00 00 00 00
        00 00 00 00 | 00 00 00 00
        """);

    private static readonly byte[] ExtendedCdbAhs = Wire.Hex("00 05 01 00 | a1 a2 a3 a4");

    [Test]
    public void Rfc7143_read10_example_fields_at_a_nonzero_offset()
    {
        byte[] big = Wire.Embed(Read10, 5, 5);
        var h = Wire.Header(big, 5);
        Assert.That(h.Opcode, Is.EqualTo(IscsiOpcode.ScsiCommand));
        var c = new ScsiCommandRequest(h);
        Assert.Multiple(() =>
        {
            Assert.That(c.Immediate, Is.False);
            Assert.That(c.Final, Is.True);
            Assert.That(c.Read, Is.True);
            Assert.That(c.Write, Is.False);
            Assert.That(c.Attribute, Is.EqualTo(0));
            Assert.That(c.Lun, Is.EqualTo(0UL));
            Assert.That(c.InitiatorTaskTag, Is.EqualTo(0x14000000u));
            Assert.That(c.ExpectedDataTransferLength, Is.EqualTo(1024u));
            Assert.That(c.CmdSN, Is.EqualTo(0x14u));
            Assert.That(c.ExpStatSN, Is.EqualTo(0x18u));
            Assert.That(c.DataSegmentLength, Is.EqualTo(0));
            Assert.That(h.ReadOnlySpan.Slice(ScsiCommandRequest.CdbOffset, ScsiCommandRequest.CdbLengthInBhs).ToArray(),
                Is.EqualTo(Wire.Hex("28 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00")));
        });
    }

    [Test]
    public void Write_with_immediate_data_fields()
    {
        var c = new ScsiCommandRequest(Wire.Header(Write10));
        Assert.Multiple(() =>
        {
            Assert.That(c.Immediate, Is.True);
            Assert.That(c.Final, Is.False);
            Assert.That(c.Read, Is.False);
            Assert.That(c.Write, Is.True);
            Assert.That(c.Attribute, Is.EqualTo(2));
            Assert.That(c.Lun, Is.EqualTo(0x0001000000000000UL));
            Assert.That(c.InitiatorTaskTag, Is.EqualTo(0xdeadbeefu));
            Assert.That(c.ExpectedDataTransferLength, Is.EqualTo(4096u));
            Assert.That(c.CmdSN, Is.EqualTo(0xffffffffu));
            Assert.That(c.ExpStatSN, Is.EqualTo(7u));
            Assert.That(c.DataSegmentLength, Is.EqualTo(11));
        });
    }

    [Test]
    public void Read10_read_at_every_split_point_with_header_digest()
    {
        // The RFC's own example: the header digest appended after the BHS must be 56 3a 96 d9.
        byte[] pdu = Wire.Pdu(Read10, headerDigest: true);
        Assert.That(pdu.AsSpan(48).ToArray(), Is.EqualTo(Wire.Hex("56 3a 96 d9")));
        FrameAssert.ReadsCompletely(pdu, new FramingOptions { HeaderDigest = true, DataDigest = true }, frame =>
        {
            Assert.That(new ScsiCommandRequest(frame.Header).InitiatorTaskTag, Is.EqualTo(0x14000000u));
            Assert.That(frame.Data.IsEmpty, Is.True);
        });
    }

    [Test]
    public void Write_with_immediate_data_read_at_every_split_point_with_both_digests()
    {
        byte[] data = "ABCDEFGHIJK"u8.ToArray();
        byte[] pdu = Wire.Pdu(Write10, data, headerDigest: true, dataDigest: true);
        Assert.That(pdu.Length, Is.EqualTo(48 + 4 + 12 + 4));
        FrameAssert.ReadsCompletely(pdu, new FramingOptions { HeaderDigest = true, DataDigest = true }, frame =>
        {
            Assert.That(frame.Header.DataSegmentLength, Is.EqualTo(11));
            Assert.That(frame.Data.ToArray(), Is.EqualTo(data));
        });
    }

    [Test]
    public void Extended_cdb_ahs_read_at_every_split_point()
    {
        Assert.That(Wire.Header(LongCdb).TotalAhsLength, Is.EqualTo(8), "TotalAHSLength counts 4-byte words");
        byte[] pdu = Wire.Pdu(LongCdb, ahs: ExtendedCdbAhs, headerDigest: true);
        FrameAssert.ReadsCompletely(pdu, new FramingOptions { HeaderDigest = true }, frame =>
        {
            Assert.That(frame.Ahs.ToArray(), Is.EqualTo(ExtendedCdbAhs));
            Assert.That(frame.Data.IsEmpty, Is.True);
            Assert.That(new ScsiCommandRequest(frame.Header).ExpectedDataTransferLength, Is.EqualTo(0u));
        });
    }
}
