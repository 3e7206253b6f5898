using StorageAppliance.Protocols.OncRpc.Xdr;

namespace StorageAppliance.Protocols.OncRpc.Tests;

public class XdrTests
{
    [TestCase(0x7FFFFFFDu)]
    [TestCase(0x7FFFFFFEu)]
    [TestCase(0x7FFFFFFFu)]
    public void OpaqueRange_WithALengthNearIntMax_IsRefused_AndDoesNotMoveBackwards(uint length)
    {
        // Found by the rpc-record fuzz target: the padded length wrapped negative, the bounds check passed,
        // and the read position moved backwards (NFS WRITE reads its data with maxLength int.MaxValue).
        var buffer = new byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(buffer, length);
        var r = new XdrReader(buffer);
        Assert.That(r.TryReadOpaqueRange(int.MaxValue, out _, out _), Is.False);
        Assert.That(r.Position, Is.GreaterThanOrEqualTo(0).And.LessThanOrEqualTo(buffer.Length));
        var f = new XdrReader(buffer);
        Assert.That(f.TryReadFixedOpaque((int)length, out _), Is.False);
        Assert.That(f.Position, Is.EqualTo(0));
    }

    [Test]
    public void Writer_produces_big_endian_padded_items()
    {
        var buffer = new byte[64];
        var w = new XdrWriter(buffer);
        w.WriteUInt32(0x01020304);
        w.WriteUInt64(0x0506070809101112);
        w.WriteBool(true);
        w.WriteOpaque(new byte[] { 0xaa, 0xbb, 0xcc });
        w.WriteString("hello");
        var expected = Convert.FromHexString(
            "01020304" + "0506070809101112" + "00000001" + "00000003aabbcc00" + "0000000568656c6c6f000000");
        Assert.That(buffer.AsSpan(0, w.Position).ToArray(), Is.EqualTo(expected));
    }

    [Test]
    public void Reader_round_trips_at_a_nonzero_offset()
    {
        var buffer = new byte[80];
        var w = new XdrWriter(buffer, 12);
        w.WriteUInt32(7);
        w.WriteString("name");
        w.WriteOpaque(new byte[] { 1, 2, 3, 4, 5 });
        w.WriteUInt64(ulong.MaxValue);
        var r = new XdrReader(buffer.AsSpan(12, w.Position - 12));
        Assert.That(r.TryReadUInt32(out uint a) && a == 7);
        Assert.That(r.TryReadString(255, out string s) && s == "name");
        Assert.That(r.TryReadOpaque(16, out var o) && o.SequenceEqual(new byte[] { 1, 2, 3, 4, 5 }));
        Assert.That(r.TryReadUInt64(out ulong h) && h == ulong.MaxValue);
        Assert.That(r.Remaining, Is.EqualTo(0));
    }

    [Test]
    public void Reader_refuses_truncated_items_instead_of_throwing()
    {
        var data = Convert.FromHexString("00000008aabbccdd"); // says 8 bytes, has 4
        var r = new XdrReader(data);
        Assert.That(r.TryReadOpaque(100, out _), Is.False);
        var r2 = new XdrReader(data.AsSpan(0, 3));
        Assert.That(r2.TryReadUInt32(out _), Is.False);
        var r3 = new XdrReader(data);
        Assert.That(r3.TryReadUInt64(out _), Is.True);
        Assert.That(r3.TryReadUInt32(out _), Is.False);
    }

    [Test]
    public void Reader_refuses_lengths_over_the_maximum()
    {
        var data = Convert.FromHexString("00000005" + "0102030405000000");
        var r = new XdrReader(data);
        Assert.That(r.TryReadOpaque(4, out _), Is.False);
    }

    [Test]
    public void Bool_other_than_0_or_1_is_garbage()
    {
        var r = new XdrReader(Convert.FromHexString("00000002"));
        Assert.That(r.TryReadBool(out _), Is.False);
    }

    [Test]
    public void Opaque_range_points_into_the_buffer()
    {
        var data = Convert.FromHexString("11111111" + "00000003" + "abcdef00");
        var r = new XdrReader(data);
        Assert.That(r.TryReadUInt32(out _));
        Assert.That(r.TryReadOpaqueRange(10, out int offset, out int length));
        Assert.That((offset, length), Is.EqualTo((8, 3)));
        Assert.That(r.Position, Is.EqualTo(12));
    }
}
