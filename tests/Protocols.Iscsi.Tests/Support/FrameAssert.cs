using System.Buffers;
using StorageAppliance.Protocols.Iscsi.Pdu;

namespace StorageAppliance.Protocols.Iscsi.Tests.Support;

/// <summary>Runs <see cref="PduReader.TryRead"/> over every way the bytes of a PDU can arrive.</summary>
public static class FrameAssert
{
    /// <summary>Bytes of "the next PDU" placed after the one under test: the reader must stop exactly before them.</summary>
    private static readonly byte[] Trailer = [0x00, 0xC0, 0xFF, 0xEE, 0x11];

    /// <summary>
    /// Reads <paramref name="pdu"/> (followed by trailing bytes) from a contiguous buffer at a non-zero offset,
    /// from every two- and three-segment split, and checks that each shorter prefix is Incomplete and leaves
    /// the buffer unchanged. <paramref name="check"/> sees every frame read.
    /// </summary>
    public static void ReadsCompletely(byte[] pdu, FramingOptions options, Action<PduFrame> check)
    {
        byte[] stream = [.. pdu, .. Trailer];

        // Contiguous, at a non-zero offset of a larger buffer.
        byte[] big = Wire.Embed(stream, 11, 3);
        var contiguous = new ReadOnlySequence<byte>(big, 11, stream.Length);
        AssertComplete(contiguous, pdu.Length, options, check, "contiguous at offset 11");

        foreach (var (name, sequence) in Segments.AllTwoWaySplits(stream))
            AssertComplete(sequence, pdu.Length, options, check, name);
        foreach (var (name, sequence) in Segments.AllThreeWaySplits(stream))
            AssertComplete(sequence, pdu.Length, options, check, name);

        // Every proper prefix, whole and split in two, is Incomplete and the buffer is left as it was.
        for (int length = 0; length < pdu.Length; length++)
        {
            var prefix = pdu.AsSpan(0, length).ToArray();
            AssertIncomplete(new ReadOnlySequence<byte>(prefix), options, $"prefix of {length}");
            AssertIncomplete(Segments.Split(prefix, length / 2), options, $"prefix of {length} split at {length / 2}");
        }
    }

    private static void AssertComplete(ReadOnlySequence<byte> sequence, int pduLength, FramingOptions options, Action<PduFrame> check, string name)
    {
        var buffer = sequence;
        var result = PduReader.TryRead(ref buffer, options, out PduFrame frame, out long needed);
        Assert.That(result, Is.EqualTo(FrameResult.Complete), name);
        Assert.That(frame.WireLength, Is.EqualTo(pduLength), name);
        Assert.That(needed, Is.EqualTo(pduLength), name);
        Assert.That(buffer.Length, Is.EqualTo(Trailer.Length), name + ": advanced exactly past the PDU");
        Assert.That(buffer.ToArray(), Is.EqualTo(Trailer), name);
        check(frame);
    }

    private static void AssertIncomplete(ReadOnlySequence<byte> sequence, FramingOptions options, string name)
    {
        var buffer = sequence;
        var result = PduReader.TryRead(ref buffer, options, out _, out long needed);
        Assert.That(result, Is.EqualTo(FrameResult.Incomplete), name);
        Assert.That(buffer.Length, Is.EqualTo(sequence.Length), name + ": buffer unchanged");
        Assert.That(buffer.Start, Is.EqualTo(sequence.Start), name + ": buffer start unchanged");
        Assert.That(needed, Is.GreaterThan(sequence.Length), name + ": asks for more than it has");
    }
}
