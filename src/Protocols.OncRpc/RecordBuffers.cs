using System.Buffers;
using System.Numerics;

namespace StorageAppliance.Protocols.OncRpc;

/// <summary>
/// Where record buffers come from. Small records (most calls) use the shared array pool; large ones
/// (WRITE data, up to the record limit) come from a pool of their own that keeps only a few arrays of
/// each size. The shared pool keeps dozens of arrays per size and core, so megabyte records that a
/// flood of half-sent calls made it hand out stayed in the process after those connections closed;
/// here at most <see cref="LargeArraysKept"/> of each size stay, the rest go back to the GC.
/// </summary>
internal static class RecordBuffers
{
    /// <summary>Buffers up to this size come from the shared pool and are not charged to the receive budget.</summary>
    public const int SmallRecord = 64 * 1024;

    public const int LargeArraysKept = 4;

    private const int LargestPooled = 16 << 20;

    private static readonly ArrayPool<byte> s_large = ArrayPool<byte>.Create(LargestPooled, LargeArraysKept);

    /// <summary>The capacity <see cref="Rent"/> returns for <paramref name="size"/> bytes: a power of two, at least 256.</summary>
    public static int CapacityFor(int size) => (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(size, 256));

    public static byte[] Rent(int size)
    {
        int capacity = CapacityFor(size);
        return capacity <= SmallRecord ? ArrayPool<byte>.Shared.Rent(capacity) : s_large.Rent(capacity);
    }

    /// <summary>Returns a buffer from <see cref="Rent"/>; arrays of other lengths (tests hand in their own) are left to the GC.</summary>
    public static void Return(byte[] buffer)
    {
        if (buffer.Length == 0 || !BitOperations.IsPow2(buffer.Length))
            return;
        if (buffer.Length <= SmallRecord)
            ArrayPool<byte>.Shared.Return(buffer);
        else if (buffer.Length <= LargestPooled)
            s_large.Return(buffer);
    }

    /// <summary>What a buffer of this capacity costs against the receive budget: large buffers only.</summary>
    public static int ChargeFor(int capacity) => capacity > SmallRecord ? capacity : 0;
}
