using System.Buffers;

namespace StorageAppliance.Protocols.Iscsi.Tests.Support;

/// <summary>Builds multi-segment <see cref="ReadOnlySequence{T}"/>s, as a pipe hands them out after several reads.</summary>
public static class Segments
{
    /// <summary>A sequence made of the given parts, each its own segment (empty parts included).</summary>
    public static ReadOnlySequence<byte> Of(params ReadOnlyMemory<byte>[] parts)
    {
        if (parts.Length == 0)
            return ReadOnlySequence<byte>.Empty;
        var first = new Segment(Copy(parts[0]), 0);
        var last = first;
        for (int i = 1; i < parts.Length; i++)
            last = last.Append(Copy(parts[i]));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary><paramref name="data"/> cut at the given offsets (ascending, each within 0..Length).</summary>
    public static ReadOnlySequence<byte> Split(byte[] data, params int[] cuts)
    {
        var parts = new ReadOnlyMemory<byte>[cuts.Length + 1];
        int start = 0;
        for (int i = 0; i < cuts.Length; i++)
        {
            parts[i] = data.AsMemory(start, cuts[i] - start);
            start = cuts[i];
        }
        parts[^1] = data.AsMemory(start);
        return Of(parts);
    }

    /// <summary>Every way to cut <paramref name="data"/> into two segments.</summary>
    public static IEnumerable<(string Name, ReadOnlySequence<byte> Sequence)> AllTwoWaySplits(byte[] data)
    {
        for (int i = 0; i <= data.Length; i++)
            yield return ($"split at {i}", Split(data, i));
    }

    /// <summary>Every way to cut <paramref name="data"/> into three segments.</summary>
    public static IEnumerable<(string Name, ReadOnlySequence<byte> Sequence)> AllThreeWaySplits(byte[] data)
    {
        for (int i = 0; i <= data.Length; i++)
            for (int j = i; j <= data.Length; j++)
                yield return ($"split at {i} and {j}", Split(data, i, j));
    }

    // Each segment gets its own array so no test can pass by reading across segment boundaries by accident.
    private static ReadOnlyMemory<byte> Copy(ReadOnlyMemory<byte> m) => m.ToArray();

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
