using System.Buffers.Binary;
using StorageAppliance.Common;

namespace StorageAppliance.ExtentStore;

/// <summary>
/// The layout of an extent group (seed 003: "within the extent group, the data of each of the extents is
/// placed contiguously along with the data's checksums"). On a directory disk it is one file; on a
/// file or device disk, a region of it starting at the group's disk offset.
/// <code>
/// [0, 4096)                 header: magic 'SAEG', version, ids, slot size/count, slice size, CRC32C
/// [4096, dataStart)         slice descriptors: 8 bytes per slice, slot-major (see SliceDescriptor)
/// [dataStart, ...)          slot s at dataStart + s * slotSize; a non-deduplicated extent fills one slot
/// </code>
/// A slice (4 KiB) is the unit of checksum, thin allocation and in-place update.
/// </summary>
public readonly record struct EgroupLayout(int SlotSize, int SlotCount, int SliceSize)
{
    public const int HeaderSize = 4096;
    public const uint Magic = 0x47454153; // "SAEG"
    public const ushort Version = 1;

    public int SlicesPerSlot => SlotSize / SliceSize;

    public long DescriptorTableSize => RoundUp((long)SlotCount * SlicesPerSlot * SliceDescriptor.Size, 4096);

    public long DataStart => HeaderSize + DescriptorTableSize;

    public long TotalSize => DataStart + (long)SlotCount * SlotSize;

    /// <summary>Overhead of a group beyond its slots (header and descriptors).</summary>
    public long Overhead => DataStart;

    public long DescriptorOffset(int slot, int slice) => HeaderSize + ((long)slot * SlicesPerSlot + slice) * SliceDescriptor.Size;

    public long SlotOffset(int slot) => DataStart + (long)slot * SlotSize;

    private static long RoundUp(long v, long to) => (v + to - 1) / to * to;

    public void WriteHeader(Span<byte> header, long egroupId, long containerId, long ownerVDiskId, long diskId)
    {
        header[..HeaderSize].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], Version);
        BinaryPrimitives.WriteInt64LittleEndian(header[8..], egroupId);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], containerId);
        BinaryPrimitives.WriteInt64LittleEndian(header[24..], ownerVDiskId);
        BinaryPrimitives.WriteInt64LittleEndian(header[32..], diskId);
        BinaryPrimitives.WriteInt32LittleEndian(header[40..], SlotSize);
        BinaryPrimitives.WriteInt32LittleEndian(header[44..], SlotCount);
        BinaryPrimitives.WriteInt32LittleEndian(header[48..], SliceSize);
        BinaryPrimitives.WriteInt64LittleEndian(header[56..], DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        BinaryPrimitives.WriteUInt32LittleEndian(header[(HeaderSize - 4)..], Crc32C.Compute(header[..(HeaderSize - 4)]));
    }

    /// <summary>True when <paramref name="header"/> is an intact header of extent group <paramref name="egroupId"/> with this layout.</summary>
    public bool Matches(ReadOnlySpan<byte> header, long egroupId) =>
        header.Length >= HeaderSize
        && BinaryPrimitives.ReadUInt32LittleEndian(header) == Magic
        && BinaryPrimitives.ReadUInt32LittleEndian(header[(HeaderSize - 4)..]) == Crc32C.Compute(header[..(HeaderSize - 4)])
        && BinaryPrimitives.ReadInt64LittleEndian(header[8..]) == egroupId
        && BinaryPrimitives.ReadInt32LittleEndian(header[40..]) == SlotSize
        && BinaryPrimitives.ReadInt32LittleEndian(header[44..]) == SlotCount
        && BinaryPrimitives.ReadInt32LittleEndian(header[48..]) == SliceSize;
}

/// <summary>State of a slice in its descriptor.</summary>
public enum SliceState : byte
{
    /// <summary>Never written or unmapped: reads as zeros, occupies no space.</summary>
    Empty = 0,

    /// <summary>Holds data whose CRC32C is in the descriptor.</summary>
    Data = 1,

    /// <summary>Its data was lost (unreadable when it had to be copied or merged): reads fail until fully rewritten.</summary>
    Bad = 2,
}

/// <summary>
/// The 8-byte descriptor of one slice: CRC32C (u32), state (u8), encoding (u8, 0 = raw; room for later
/// compression), reserved (u16). Little-endian.
/// </summary>
public static class SliceDescriptor
{
    public const int Size = 8;

    public static uint Crc(ReadOnlySpan<byte> d) => BinaryPrimitives.ReadUInt32LittleEndian(d);

    public static SliceState State(ReadOnlySpan<byte> d) => (SliceState)d[4];

    public static void Write(Span<byte> d, SliceState state, uint crc)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(d, crc);
        d[4] = (byte)state;
        d[5] = 0;
        d[6] = 0;
        d[7] = 0;
    }
}
