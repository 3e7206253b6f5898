namespace StorageAppliance.Protocols.OncRpc.Tests;

public class RecordMarkingTests
{
    private static byte[] Record(params byte[][] fragments)
    {
        var ms = new MemoryStream();
        for (int i = 0; i < fragments.Length; i++)
        {
            uint mark = (uint)fragments[i].Length | (i == fragments.Length - 1 ? RecordMarking.LastFragment : 0);
            ms.Write(new[] { (byte)(mark >> 24), (byte)(mark >> 16), (byte)(mark >> 8), (byte)mark });
            ms.Write(fragments[i]);
        }
        return ms.ToArray();
    }

    [Test]
    public void Reassembles_a_multi_fragment_record_at_every_split_point()
    {
        var wire = Record(new byte[] { 1, 2, 3 }, new byte[] { 4, 5 }, new byte[] { 6, 7, 8, 9 });
        wire = wire.Concat(Record(new byte[] { 42 })).ToArray();
        for (int split = 0; split <= wire.Length; split++)
        {
            // The first part alone must either be incomplete or yield exactly the first record.
            var first = new ReadOnlySequence<byte>(wire.AsMemory(0, split));
            bool got = RecordMarking.TryRead(ref first, 1 << 20, ArrayPool<byte>.Shared, out var rec, out int len);
            Assert.That(got, Is.EqualTo(split >= 21), $"split {split}");
            if (got)
            {
                Assert.That(rec.AsSpan(0, len).ToArray(), Is.EqualTo(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9 }));
                ArrayPool<byte>.Shared.Return(rec);
            }
            // Split across two segments.
            var seq = TwoSegments(wire, split);
            Assert.That(RecordMarking.TryRead(ref seq, 1 << 20, ArrayPool<byte>.Shared, out rec, out len), Is.True);
            Assert.That(rec.AsSpan(0, len).ToArray(), Is.EqualTo(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9 }));
            Assert.That(RecordMarking.TryRead(ref seq, 1 << 20, ArrayPool<byte>.Shared, out rec, out len), Is.True);
            Assert.That(rec.AsSpan(0, len).ToArray(), Is.EqualTo(new byte[] { 42 }));
            Assert.That(seq.Length, Is.EqualTo(0));
        }
    }

    [Test]
    public void An_oversized_record_is_broken_framing()
    {
        var wire = new byte[] { 0x80, 0x10, 0x00, 0x00 };
        var seq = new ReadOnlySequence<byte>(wire);
        Assert.Throws<InvalidDataException>(() => RecordMarking.TryRead(ref seq, (1 << 20) - 1, ArrayPool<byte>.Shared, out _, out _));
    }

    [Test]
    public void Fragments_adding_up_past_the_limit_are_refused_before_they_arrive()
    {
        var wire = Record(new byte[600], new byte[600]);
        var seq = new ReadOnlySequence<byte>(wire.AsMemory(0, 610));
        Assert.Throws<InvalidDataException>(() => RecordMarking.TryMeasure(new ReadOnlySequence<byte>(wire), 1000, out _, out _, out _));
        // Only the second fragment's header has arrived: its length alone exceeds the limit.
        Assert.Throws<InvalidDataException>(() => RecordMarking.TryRead(ref seq, 1000, ArrayPool<byte>.Shared, out _, out _));
    }

    private static ReadOnlySequence<byte> TwoSegments(byte[] data, int split)
    {
        var a = new Segment(data.AsMemory(0, split), 0);
        var b = a.Append(data.AsMemory(split));
        return new ReadOnlySequence<byte>(a, 0, b, b.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var s = new Segment(memory, RunningIndex + Memory.Length);
            Next = s;
            return s;
        }
    }
}
