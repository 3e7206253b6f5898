using System.Buffers;

namespace StorageAppliance.Protocols.OncRpc.Tests;

/// <summary>Record reassembly (RFC 5531 section 11) by <see cref="RecordAssembler"/>: splits, bounds, budget.</summary>
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

    private sealed class CountingBudget(long limit) : IRecordBudget
    {
        public long Used;

        public bool Refuse;

        public bool TryReserve(int bytes)
        {
            if (Refuse || Used + bytes > limit)
                return false;
            Used += bytes;
            return true;
        }

        public void Release(int bytes) => Used -= bytes;
    }

    // Two records: one of three fragments with an empty one in the middle, then a one-byte record.
    private static readonly byte[] Wire = Record(new byte[] { 1, 2, 3 }, [], new byte[] { 4, 5 }, new byte[] { 6, 7, 8, 9 })
        .Concat(Record(new byte[] { 42 })).ToArray();

    private static readonly byte[][] Expected = [[1, 2, 3, 4, 5, 6, 7, 8, 9], [42]];

    /// <summary>Feeds chunks one after another as separate reads (each read holds only the new bytes) and collects the records.</summary>
    private static List<byte[]> Feed(RecordAssembler assembler, IEnumerable<ReadOnlySequence<byte>> chunks)
    {
        var records = new List<byte[]>();
        foreach (var chunk in chunks)
        {
            var input = chunk;
            while (true)
            {
                var progress = assembler.TryRead(ref input, out byte[] record, out int length, out _);
                if (progress == RecordProgress.NeedMore)
                {
                    Assert.That(input.IsEmpty, "NeedMore consumes all input");
                    break;
                }
                Assert.That(progress, Is.EqualTo(RecordProgress.Complete));
                records.Add(record.AsSpan(0, length).ToArray());
                RecordBuffers.Return(record);
            }
        }
        return records;
    }

    [Test]
    public void Reassembles_records_at_every_split_point()
    {
        for (int split = 0; split <= Wire.Length; split++)
        {
            // As two reads: the assembler keeps its place across them.
            using var a = new RecordAssembler(1 << 20, 16);
            var records = Feed(a, [new(Wire.AsMemory(0, split)), new(Wire.AsMemory(split))]);
            Assert.That(records, Is.EqualTo(Expected), $"split {split}");
            Assert.That(a.InRecord, Is.False);

            // As one read whose sequence has two segments split there.
            using var b = new RecordAssembler(1 << 20, 16);
            Assert.That(Feed(b, [TwoSegments(Wire, split)]), Is.EqualTo(Expected), $"two segments at {split}");
        }
    }

    [Test]
    public void Reassembles_records_at_every_pair_of_split_points()
    {
        for (int i = 0; i <= Wire.Length; i++)
        {
            for (int j = i; j <= Wire.Length; j++)
            {
                using var a = new RecordAssembler(1 << 20, 16);
                var records = Feed(a, [new(Wire.AsMemory(0, i)), new(Wire.AsMemory(i, j - i)), new(Wire.AsMemory(j))]);
                Assert.That(records, Is.EqualTo(Expected), $"splits {i}, {j}");
            }
        }
    }

    [Test]
    public void A_record_fed_one_byte_per_read_is_reassembled_without_the_earlier_bytes()
    {
        // Each read hands over only one new byte and the earlier ones are gone: a parser that rescans
        // from the start of the record could not work this way, so this one reads every byte once.
        using var a = new RecordAssembler(1 << 20, 16);
        var chunks = new List<ReadOnlySequence<byte>>();
        for (int i = 0; i < Wire.Length; i++)
            chunks.Add(new ReadOnlySequence<byte>(new[] { Wire[i] }));
        Assert.That(Feed(a, chunks), Is.EqualTo(Expected));
    }

    [Test]
    public void A_partial_record_reports_in_record_and_its_fragments()
    {
        using var a = new RecordAssembler(1 << 20, 16);
        Assert.That(a.InRecord, Is.False);
        var input = new ReadOnlySequence<byte>(Wire.AsMemory(0, 2));
        Assert.That(a.TryRead(ref input, out _, out _, out _), Is.EqualTo(RecordProgress.NeedMore));
        Assert.That(a.InRecord, Is.True, "half a fragment header is a record started");
        input = new ReadOnlySequence<byte>(Wire.AsMemory(2, 13));
        Assert.That(a.TryRead(ref input, out _, out _, out _), Is.EqualTo(RecordProgress.NeedMore));
        Assert.That(a.Fragments, Is.EqualTo(3));
    }

    [Test]
    public void An_oversized_record_is_broken_framing()
    {
        using var a = new RecordAssembler((1 << 20) - 1, 16);
        var input = new ReadOnlySequence<byte>(new byte[] { 0x80, 0x10, 0x00, 0x00 });
        Assert.Throws<InvalidDataException>(() => a.TryRead(ref input, out _, out _, out _));

        // Over the limit only together: 600 KiB + 600 KiB in two fragments.
        using var b = new RecordAssembler(1 << 20, 16);
        var wire = Record(new byte[600 << 10], new byte[600 << 10]);
        input = new ReadOnlySequence<byte>(wire);
        Assert.Throws<InvalidDataException>(() => b.TryRead(ref input, out _, out _, out _));
    }

    [Test]
    public void Fragments_per_record_are_bounded()
    {
        var zeroes = new byte[1024][];
        for (int i = 0; i < zeroes.Length; i++)
            zeroes[i] = [];
        zeroes[^1] = [7];
        using var a = new RecordAssembler(1 << 20, 1024);
        Assert.That(Feed(a, [new(Record(zeroes))]), Is.EqualTo(new[] { new byte[] { 7 } }), "exactly the limit is fine");

        var tooMany = new byte[1025][];
        for (int i = 0; i < tooMany.Length; i++)
            tooMany[i] = [];
        using var b = new RecordAssembler(1 << 20, 1024);
        var input = new ReadOnlySequence<byte>(Record(tooMany));
        var e = Assert.Throws<InvalidDataException>(() => b.TryRead(ref input, out _, out _, out _));
        Assert.That(e!.Message, Does.Contain("1024 fragments"));
    }

    [Test]
    public void Endless_empty_fragments_are_read_once_each()
    {
        // 1 MiB of empty non-final fragments (262,144 headers), fed in 4 KiB reads: the assembler only ever
        // sees each read once and ends the record with the final fragment.
        const int count = 1 << 18;
        var wire = new byte[count * 4 + 5];
        wire[count * 4] = 0x80;
        wire[count * 4 + 3] = 1;
        wire[count * 4 + 4] = 9;
        var chunks = new List<ReadOnlySequence<byte>>();
        for (int i = 0; i < wire.Length; i += 4096)
            chunks.Add(new ReadOnlySequence<byte>(wire.AsMemory(i, Math.Min(4096, wire.Length - i))));
        using var a = new RecordAssembler(1 << 20, int.MaxValue);
        Assert.That(Feed(a, chunks), Is.EqualTo(new[] { new byte[] { 9 } }));
    }

    [Test]
    public void A_header_that_promises_megabytes_holds_only_what_arrived()
    {
        var budget = new CountingBudget(64 << 20);
        using var a = new RecordAssembler(8 << 20, 16, budget);
        var input = new ReadOnlySequence<byte>(new byte[] { 0x80, 0x40, 0x00, 0x00, 1, 2, 3 });
        Assert.That(a.TryRead(ref input, out _, out _, out _), Is.EqualTo(RecordProgress.NeedMore));
        Assert.That(a.BufferedBytes, Is.LessThanOrEqualTo(4096), "a 4 MiB promise with 3 bytes sent");
        Assert.That(budget.Used, Is.Zero, "small buffers are not charged");
    }

    [Test]
    public void A_large_record_is_charged_to_the_budget_and_the_charge_moves_with_the_record()
    {
        var budget = new CountingBudget(64 << 20);
        using var a = new RecordAssembler(8 << 20, 16, budget);
        var wire = Record(new byte[1 << 20]);
        var input = new ReadOnlySequence<byte>(wire);
        Assert.That(a.TryRead(ref input, out byte[] record, out int length, out int charge), Is.EqualTo(RecordProgress.Complete));
        Assert.That(length, Is.EqualTo(1 << 20));
        Assert.That(charge, Is.EqualTo(record.Length).And.GreaterThan(RecordBuffers.SmallRecord));
        Assert.That(budget.Used, Is.EqualTo(charge), "the caller now owns the charge");
        RecordBuffers.Return(record);
        budget.Release(charge);
        Assert.That(budget.Used, Is.Zero);
    }

    [Test]
    public void A_refused_budget_pauses_the_record_where_it_stood_and_dispose_gives_everything_back()
    {
        var budget = new CountingBudget(64 << 20);
        var a = new RecordAssembler(8 << 20, 16, budget);
        var wire = Record(Enumerable.Range(0, 300_000).Select(i => (byte)i).ToArray());
        var input = new ReadOnlySequence<byte>(wire.AsMemory(0, 100_000));
        Assert.That(a.TryRead(ref input, out _, out _, out _), Is.EqualTo(RecordProgress.NeedMore));
        long heldAfterFirst = budget.Used;
        Assert.That(heldAfterFirst, Is.GreaterThan(0));

        budget.Refuse = true;
        input = new ReadOnlySequence<byte>(wire.AsMemory(100_000));
        Assert.That(a.TryRead(ref input, out _, out _, out _), Is.EqualTo(RecordProgress.NeedBudget));
        Assert.That(input.Length, Is.EqualTo(wire.Length - 100_000), "nothing taken while waiting for room");

        budget.Refuse = false;
        Assert.That(a.TryRead(ref input, out byte[] record, out int length, out int charge), Is.EqualTo(RecordProgress.Complete));
        Assert.That(record.AsSpan(0, length).SequenceEqual(wire.AsSpan(4)), Is.True);
        RecordBuffers.Return(record);
        budget.Release(charge);
        Assert.That(budget.Used, Is.Zero);

        // A connection that ends in the middle of a large record gives its buffer and charge back.
        input = new ReadOnlySequence<byte>(wire.AsMemory(0, 200_000));
        Assert.That(a.TryRead(ref input, out _, out _, out _), Is.EqualTo(RecordProgress.NeedMore));
        Assert.That(budget.Used, Is.GreaterThan(0));
        a.Dispose();
        Assert.That(budget.Used, Is.Zero);
        Assert.That(a.BufferedBytes, Is.Zero);
    }

    private static ReadOnlySequence<byte> TwoSegments(byte[] data, int split)
    {
        if (split == 0 || split == data.Length)
            return new ReadOnlySequence<byte>(data);
        var first = new Segment(data.AsMemory(0, split), 0);
        var second = first.Append(data.AsMemory(split));
        return new ReadOnlySequence<byte>(first, 0, second, second.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long index)
        {
            Memory = memory;
            RunningIndex = index;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
