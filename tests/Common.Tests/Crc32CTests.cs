using System.Buffers;
using System.Reflection;
using StorageAppliance.Common;

namespace StorageAppliance.Common.Tests;

/// <summary>CRC32C against RFC 7143 appendix B.4 and against an independent bit-at-a-time reference.</summary>
public class Crc32CTests
{
    // RFC 7143 B.4 "CRC Examples": the bytes of the CRC as they appear on the wire.
    private static IEnumerable<TestCaseData> Rfc7143Vectors()
    {
        yield return new TestCaseData(new byte[32], new byte[] { 0xaa, 0x36, 0x91, 0x8a }).SetName("B.4 32 bytes of zeros");
        yield return new TestCaseData(Enumerable.Repeat((byte)0xFF, 32).ToArray(), new byte[] { 0x43, 0xab, 0xa8, 0x62 }).SetName("B.4 32 bytes of ones");
        yield return new TestCaseData(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray(), new byte[] { 0x4e, 0x79, 0xdd, 0x46 }).SetName("B.4 32 incrementing bytes");
        yield return new TestCaseData(Enumerable.Range(0, 32).Select(i => (byte)(31 - i)).ToArray(), new byte[] { 0x5c, 0xdb, 0x3f, 0x11 }).SetName("B.4 32 decrementing bytes");
        yield return new TestCaseData(ScsiRead10Pdu, new byte[] { 0x56, 0x3a, 0x96, 0xd9 }).SetName("B.4 iSCSI Read(10) command PDU");
    }

    /// <summary>RFC 7143 B.4: the 48-byte header of an iSCSI SCSI Read (10) command.</summary>
    internal static readonly byte[] ScsiRead10Pdu =
    [
        0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
        0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    [TestCaseSource(nameof(Rfc7143Vectors))]
    public void Compute_matches_rfc7143_vector_on_the_wire(byte[] data, byte[] wire)
    {
        uint crc = Crc32C.Compute(data);
        var written = new byte[4];
        Crc32C.WriteDigest(written, crc);
        Assert.That(written, Is.EqualTo(wire));
        Assert.That(Crc32C.ReadDigest(wire), Is.EqualTo(crc));
    }

    [TestCaseSource(nameof(Rfc7143Vectors))]
    public void Software_table_path_matches_rfc7143_vector(byte[] data, byte[] wire)
    {
        uint crc = Crc32C.Finish(UpdateSoftware(Crc32C.InitialState, data));
        Assert.That(crc, Is.EqualTo(Crc32C.ReadDigest(wire)));
    }

    [Test]
    public void Check_value_of_123456789_is_e3069283()
    {
        // The catalogue "check" value of CRC-32C (iSCSI).
        Assert.That(Crc32C.Compute("123456789"u8), Is.EqualTo(0xE3069283u));
    }

    [Test]
    public void Empty_input_is_zero()
    {
        Assert.That(Crc32C.Compute(ReadOnlySpan<byte>.Empty), Is.EqualTo(0u));
        Assert.That(Crc32C.Compute(ReadOnlySequence<byte>.Empty), Is.EqualTo(0u));
    }

    [Test]
    public void Hardware_path_equals_table_path_and_bitwise_reference_for_many_lengths_and_alignments()
    {
        var random = new Random(7143);
        var buffer = new byte[4096 + 16];
        random.NextBytes(buffer);
        foreach (int length in Lengths())
        {
            for (int offset = 0; offset < 8; offset += 3)
            {
                var data = buffer.AsSpan(offset, length);
                uint reference = BitwiseReference(data);
                Assert.That(Crc32C.Compute(data), Is.EqualTo(reference), $"Compute, length {length}, offset {offset}");
                Assert.That(Crc32C.Finish(UpdateSoftware(Crc32C.InitialState, data)), Is.EqualTo(reference), $"table, length {length}, offset {offset}");
            }
        }
    }

    [Test]
    public void Update_in_pieces_equals_one_call()
    {
        var random = new Random(1);
        var data = new byte[1000];
        random.NextBytes(data);
        uint whole = Crc32C.Compute(data);
        for (int cut = 0; cut <= data.Length; cut += 37)
        {
            uint state = Crc32C.Update(Crc32C.InitialState, data.AsSpan(0, cut));
            state = Crc32C.Update(state, data.AsSpan(cut));
            Assert.That(Crc32C.Finish(state), Is.EqualTo(whole), $"cut at {cut}");
        }
    }

    [Test]
    public void Multi_segment_sequence_equals_contiguous()
    {
        var random = new Random(2);
        foreach (int length in new[] { 1, 7, 8, 9, 63, 64, 65, 1000, 4097 })
        {
            var data = new byte[length];
            random.NextBytes(data);
            uint expected = Crc32C.Compute(data);
            for (int trial = 0; trial < 20; trial++)
            {
                var sequence = RandomSegments(data, random);
                Assert.That(Crc32C.Compute(sequence), Is.EqualTo(expected), $"length {length}, trial {trial}");
            }
        }
    }

    [Test]
    public void Single_bit_flip_changes_the_crc()
    {
        var data = new byte[64];
        uint clean = Crc32C.Compute(data);
        for (int bit = 0; bit < data.Length * 8; bit++)
        {
            data[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.That(Crc32C.Compute(data), Is.Not.EqualTo(clean), $"bit {bit}");
            data[bit / 8] ^= (byte)(1 << (bit % 8));
        }
    }

    private static IEnumerable<int> Lengths()
    {
        for (int i = 0; i <= 70; i++)
            yield return i;
        foreach (int i in new[] { 127, 128, 129, 255, 256, 511, 512, 513, 1023, 1500, 4095, 4096 })
            yield return i;
    }

    /// <summary>CRC32C one bit at a time, straight from the reflected polynomial: shares no code with the library.</summary>
    internal static uint BitwiseReference(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        }
        return ~crc;
    }

    private delegate uint UpdateFunction(uint state, ReadOnlySpan<byte> data);

    // Crc32C.UpdateSoftware is internal and Common grants no InternalsVisibleTo: reach it by reflection so the
    // table path is checked on a CPU whose hardware path would otherwise hide it.
    private static readonly UpdateFunction s_updateSoftware = (UpdateFunction)Delegate.CreateDelegate(
        typeof(UpdateFunction),
        typeof(Crc32C).GetMethod("UpdateSoftware", BindingFlags.NonPublic | BindingFlags.Static)
            ?? throw new MissingMethodException("Crc32C.UpdateSoftware"));

    private static uint UpdateSoftware(uint state, ReadOnlySpan<byte> data) => s_updateSoftware(state, data);

    private static ReadOnlySequence<byte> RandomSegments(byte[] data, Random random)
    {
        var cuts = new List<int> { 0, data.Length };
        int count = random.Next(1, 6);
        for (int i = 0; i < count; i++)
            cuts.Add(random.Next(0, data.Length + 1));
        cuts.Sort();
        Segment? first = null, last = null;
        for (int i = 0; i + 1 < cuts.Count; i++)
        {
            var memory = data.AsMemory(cuts[i], cuts[i + 1] - cuts[i]);
            if (first is null)
                first = last = new Segment(memory, 0);
            else
                last = last!.Append(memory);
        }
        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
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
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
