using System.Buffers;
using StorageAppliance.Protocols.Iscsi.Pdu;
using StorageAppliance.Protocols.Iscsi.Tests.Support;

namespace StorageAppliance.Protocols.Iscsi.Tests.Pdu;

/// <summary>Framing (RFC 7143 11.1): lengths, padding, AHS, digests and the data segment limit.</summary>
public class PduReaderTests
{
    private static byte[] NopOut(int dataLength, int ahsWords = 0)
    {
        var bhs = Wire.Hex("""
            40 80 00 00 | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            00 00 00 42 | ff ff ff ff
            00 00 00 0a | 00 00 00 0b
            00 00 00 00 | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            """);
        bhs[4] = (byte)ahsWords;
        bhs[5] = (byte)(dataLength >> 16);
        bhs[6] = (byte)(dataLength >> 8);
        bhs[7] = (byte)dataLength;
        return bhs;
    }

    private static byte[] Data(int length)
    {
        var d = new byte[length];
        for (int i = 0; i < length; i++)
            d[i] = (byte)(i * 13 + 1);
        return d;
    }

    private static FrameResult Read(byte[] bytes, FramingOptions options, out PduFrame frame, out ReadOnlySequence<byte> rest, out long needed)
    {
        var buffer = new ReadOnlySequence<byte>(bytes);
        var result = PduReader.TryRead(ref buffer, options, out frame, out needed);
        rest = buffer;
        return result;
    }

    [TestCase(1, 4)]
    [TestCase(2, 4)]
    [TestCase(3, 4)]
    [TestCase(4, 4)]
    [TestCase(5, 8)]
    [TestCase(8191, 8192)]
    public void Data_segment_is_padded_to_four_bytes(int length, int onWire)
    {
        byte[] data = Data(length);
        byte[] pdu = Wire.Pdu(NopOut(length), data);
        Assert.That(pdu.Length, Is.EqualTo(48 + onWire));
        Assert.That(Read(pdu, new FramingOptions(), out var frame, out var rest, out _), Is.EqualTo(FrameResult.Complete));
        Assert.That(frame.Data.ToArray(), Is.EqualTo(data));
        Assert.That(frame.WireLength, Is.EqualTo(48 + onWire));
        Assert.That(rest.Length, Is.EqualTo(0));
    }

    [Test]
    public void Padding_bytes_need_not_be_zero_without_data_digest()
    {
        byte[] pdu = Wire.Pdu(NopOut(5), Data(5));
        pdu.AsSpan(48 + 5, 3).Fill(0xCC);
        Assert.That(Read(pdu, new FramingOptions(), out var frame, out _, out _), Is.EqualTo(FrameResult.Complete));
        Assert.That(frame.Data.Length, Is.EqualTo(5));
    }

    [Test]
    public void Two_pdus_back_to_back_are_read_one_at_a_time()
    {
        byte[] first = Wire.Pdu(NopOut(3), Data(3));
        byte[] second = Wire.Pdu(NopOut(0));
        var buffer = new ReadOnlySequence<byte>([.. first, .. second]);
        var options = new FramingOptions();
        Assert.That(PduReader.TryRead(ref buffer, options, out var f1, out _), Is.EqualTo(FrameResult.Complete));
        Assert.That(f1.Header.DataSegmentLength, Is.EqualTo(3));
        Assert.That(PduReader.TryRead(ref buffer, options, out var f2, out _), Is.EqualTo(FrameResult.Complete));
        Assert.That(f2.Header.DataSegmentLength, Is.EqualTo(0));
        Assert.That(PduReader.TryRead(ref buffer, options, out _, out _), Is.EqualTo(FrameResult.Incomplete));
        Assert.That(buffer.IsEmpty, Is.True);
    }

    [Test]
    public void Bytes_needed_is_the_whole_pdu_once_the_header_is_in()
    {
        byte[] pdu = Wire.Pdu(NopOut(100), Data(100), headerDigest: true, dataDigest: true);
        var options = new FramingOptions { HeaderDigest = true, DataDigest = true };
        var partial = new ReadOnlySequence<byte>(pdu, 0, 60);
        Assert.That(PduReader.TryRead(ref partial, options, out _, out long needed), Is.EqualTo(FrameResult.Incomplete));
        Assert.That(needed, Is.EqualTo(48 + 4 + 100 + 4));
        Assert.That(partial.Length, Is.EqualTo(60));
    }

    [Test]
    public void Ahs_is_sliced_out_and_data_follows_it()
    {
        byte[] ahs = Wire.Hex("00 05 01 00 | 11 22 33 44 | 00 03 02 00 | 00 00 10 00");
        byte[] pdu = Wire.Pdu(NopOut(6, ahsWords: 4), Data(6), ahs);
        FrameAssert.ReadsCompletely(pdu, new FramingOptions(), frame =>
        {
            Assert.That(frame.Header.TotalAhsLength, Is.EqualTo(16));
            Assert.That(frame.Ahs.ToArray(), Is.EqualTo(ahs));
            Assert.That(frame.Data.ToArray(), Is.EqualTo(Data(6)));
        });
    }

    [Test]
    public void Header_digest_error_is_reported_as_soon_as_header_and_digest_are_in()
    {
        byte[] pdu = Wire.Pdu(NopOut(64), Data(64), headerDigest: true);
        pdu[20] ^= 0x01; // a TTT bit, covered by the digest
        var options = new FramingOptions { HeaderDigest = true };
        var headerOnly = new ReadOnlySequence<byte>(pdu, 0, 52);
        Assert.That(PduReader.TryRead(ref headerOnly, options, out var frame, out _), Is.EqualTo(FrameResult.HeaderDigestError));
        Assert.That(frame.Header.Opcode, Is.EqualTo(IscsiOpcode.NopOut));
        Assert.That(frame.WireLength, Is.EqualTo(52));
    }

    [Test]
    public void Header_digest_error_when_the_digest_itself_is_damaged()
    {
        byte[] pdu = Wire.Pdu(NopOut(0), headerDigest: true);
        pdu[50] ^= 0x80;
        Assert.That(Read(pdu, new FramingOptions { HeaderDigest = true }, out _, out _, out _), Is.EqualTo(FrameResult.HeaderDigestError));
    }

    [Test]
    public void Header_digest_covers_the_ahs()
    {
        byte[] ahs = Wire.Hex("00 05 01 00 | a1 a2 a3 a4");
        byte[] pdu = Wire.Pdu(NopOut(0, ahsWords: 2), ahs: ahs, headerDigest: true);
        var options = new FramingOptions { HeaderDigest = true };
        Assert.That(Read(pdu, options, out _, out _, out _), Is.EqualTo(FrameResult.Complete));
        pdu[48 + 5] ^= 0x10;
        Assert.That(Read(pdu, options, out _, out _, out _), Is.EqualTo(FrameResult.HeaderDigestError));
    }

    [Test]
    public void Every_single_bit_error_in_the_header_is_detected()
    {
        byte[] clean = Wire.Pdu(NopOut(0), headerDigest: true);
        var options = new FramingOptions { HeaderDigest = true };
        for (int bit = 0; bit < 52 * 8; bit++)
        {
            var pdu = (byte[])clean.Clone();
            pdu[bit / 8] ^= (byte)(1 << (bit % 8));
            var buffer = new ReadOnlySequence<byte>(pdu);
            var result = PduReader.TryRead(ref buffer, options, out _, out _);
            // A flipped length bit may make the PDU look longer (Incomplete) or too long; never Complete.
            Assert.That(result, Is.Not.EqualTo(FrameResult.Complete), $"bit {bit}");
        }
    }

    [Test]
    public void Data_digest_error_consumes_the_pdu_and_keeps_its_header()
    {
        byte[] bad = Wire.Pdu(NopOut(10), Data(10), dataDigest: true);
        bad[48 + 3] ^= 0x04;
        byte[] next = Wire.Pdu(NopOut(0), dataDigest: true);
        var buffer = new ReadOnlySequence<byte>([.. bad, .. next]);
        var options = new FramingOptions { DataDigest = true };
        Assert.That(PduReader.TryRead(ref buffer, options, out var frame, out _), Is.EqualTo(FrameResult.DataDigestError));
        Assert.That(frame.Header.InitiatorTaskTag, Is.EqualTo(0x42u));
        Assert.That(frame.Header.DataSegmentLength, Is.EqualTo(10));
        Assert.That(buffer.Length, Is.EqualTo(next.Length), "the damaged PDU is consumed so the stream stays framed");
        Assert.That(PduReader.TryRead(ref buffer, options, out _, out _), Is.EqualTo(FrameResult.Complete));
    }

    [Test]
    public void Data_digest_error_is_found_at_every_split_point()
    {
        byte[] bad = Wire.Pdu(NopOut(7), Data(7), headerDigest: true, dataDigest: true);
        bad[^1] ^= 0x01;
        var options = new FramingOptions { HeaderDigest = true, DataDigest = true };
        foreach (var (name, sequence) in Segments.AllThreeWaySplits(bad))
        {
            var buffer = sequence;
            Assert.That(PduReader.TryRead(ref buffer, options, out _, out _), Is.EqualTo(FrameResult.DataDigestError), name);
            Assert.That(buffer.Length, Is.EqualTo(0), name);
        }
    }

    [Test]
    public void Data_digest_covers_the_padding()
    {
        // RFC 7143 11.1: the data digest is computed over the data segment including its padding.
        byte[] pdu = Wire.Pdu(NopOut(5), Data(5), dataDigest: true);
        var options = new FramingOptions { DataDigest = true };
        Assert.That(Read(pdu, options, out _, out _, out _), Is.EqualTo(FrameResult.Complete));
        pdu[48 + 6] = 0x99; // a pad byte
        Assert.That(Read(pdu, options, out _, out _, out _), Is.EqualTo(FrameResult.DataDigestError));
    }

    [Test]
    public void Data_segment_at_the_limit_is_accepted()
    {
        var options = new FramingOptions { MaxRecvDataSegmentLength = 512 };
        byte[] pdu = Wire.Pdu(NopOut(512), Data(512));
        Assert.That(Read(pdu, options, out var frame, out _, out _), Is.EqualTo(FrameResult.Complete));
        Assert.That(frame.Data.Length, Is.EqualTo(512));
    }

    [Test]
    public void Data_segment_over_the_limit_is_reported_from_the_header_alone()
    {
        var options = new FramingOptions { MaxRecvDataSegmentLength = 512, HeaderDigest = true, DataDigest = true };
        byte[] pdu = Wire.Pdu(NopOut(513), Data(513), headerDigest: true, dataDigest: true);
        var headerOnly = new ReadOnlySequence<byte>(pdu, 0, 52);
        var buffer = headerOnly;
        Assert.That(PduReader.TryRead(ref buffer, options, out var frame, out long needed), Is.EqualTo(FrameResult.DataSegmentTooLong));
        Assert.That(frame.Header.DataSegmentLength, Is.EqualTo(513));
        // The caller skips the whole PDU as it arrives: the frame says how long that is.
        Assert.That(frame.WireLength, Is.EqualTo(48 + 4 + 516 + 4));
        Assert.That(needed, Is.EqualTo(frame.WireLength));
        Assert.That(buffer.Length, Is.EqualTo(52), "left for the caller to skip");
    }

    [Test]
    public void Default_limit_is_8192()
    {
        Assert.That(new FramingOptions().MaxRecvDataSegmentLength, Is.EqualTo(8192));
        byte[] pdu = Wire.Pdu(NopOut(8193), Data(8193));
        Assert.That(Read(pdu, new FramingOptions(), out _, out _, out _), Is.EqualTo(FrameResult.DataSegmentTooLong));
    }

    [Test]
    public void Largest_data_segment_length_field_is_read_as_24_bits()
    {
        byte[] bhs = NopOut(0xFFFFFF);
        var h = Wire.Header(bhs);
        Assert.That(h.DataSegmentLength, Is.EqualTo(16777215));
        Assert.That(Read(bhs, new FramingOptions { MaxRecvDataSegmentLength = 16777215 }, out _, out _, out long needed), Is.EqualTo(FrameResult.Incomplete));
        Assert.That(needed, Is.EqualTo(48 + 16777216));
    }

    [Test]
    public void Basic_header_segment_accessors()
    {
        byte[] bytes = Wire.Hex("""
            c1 ff 00 00 | ff 12 34 56
            01 02 03 04 | 05 06 07 08
            89 ab cd ef | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            00 00 00 00 | 00 00 00 00
            """);
        var h = Wire.Header(bytes);
        Assert.Multiple(() =>
        {
            Assert.That(h.Opcode, Is.EqualTo(IscsiOpcode.ScsiCommand), "the top bit of byte 0 is reserved");
            Assert.That(h.Immediate, Is.True);
            Assert.That(h.Final, Is.True);
            Assert.That(h.Flags, Is.EqualTo(0xff));
            Assert.That(h.TotalAhsLength, Is.EqualTo(255 * 4));
            Assert.That(h.DataSegmentLength, Is.EqualTo(0x123456));
            Assert.That(h.Lun, Is.EqualTo(0x0102030405060708UL));
            Assert.That(h.InitiatorTaskTag, Is.EqualTo(0x89abcdefu));
            Assert.That(h[8], Is.EqualTo(0x01));
            Assert.That(h.UInt16(16), Is.EqualTo(0x89ab));
        });
    }

    [Test]
    public void Basic_header_segment_copies_its_bytes()
    {
        byte[] bytes = NopOut(0);
        var h = Wire.Header(bytes);
        bytes[16] = 0x77;
        Assert.That(h.InitiatorTaskTag, Is.EqualTo(0x42u), "the header is held by value, not as a view of the buffer");
    }
}
