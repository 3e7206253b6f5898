using System.Buffers.Binary;
using StorageAppliance.Common;

namespace StorageAppliance.Journal;

/// <summary>What a journal record asks for.</summary>
public enum JournalRecordType : ushort
{
    Write = 1,

    /// <summary>The range reads as zeros from now on and its space is released.</summary>
    Unmap = 2,
}

/// <summary>
/// The on-disk form of one journal record. Little-endian; 8-byte aligned; the CRC32C covers everything
/// after the CRC field, payload included, so a torn or partly written record is recognised and ends the
/// replay of its segment. The CRC starts from the segment's random nonce, so a record left over from an
/// earlier file of the same name can never pass for one of this segment.
/// <code>
///  0 | magic 'SAJ1' (u32)      |  4 | crc32c (u32)                 |
///  8 | sequence (u64)                                              |
/// 16 | timestamp, Unix ms (i64)                                    |
/// 24 | vDisk id (i64)                                              |
/// 32 | offset in the vDisk (i64)                                   |
/// 40 | length in the vDisk (i64)                                   |
/// 48 | type (u16)               | 50 | flags (u16) | 52 | payload length (u32) |
/// 56 | payload (the written bytes; none for Unmap), then zero padding to 8   |
/// </code>
/// </summary>
public static class JournalRecord
{
    public const uint Magic = 0x314A4153; // "SAJ1"
    public const int HeaderSize = 56;

    public static int Size(int payloadLength) => (HeaderSize + payloadLength + 7) & ~7;

    public readonly record struct Header(long Sequence, long TimestampMs, long VDiskId, long Offset, long Length, JournalRecordType Type, ushort Flags, int PayloadLength);

    /// <summary>Writes the header (with the CRC over header and payload) into <paramref name="destination"/>.</summary>
    public static void WriteHeader(Span<byte> destination, in Header h, ReadOnlySpan<byte> payload, uint nonce)
    {
        var d = destination[..HeaderSize];
        BinaryPrimitives.WriteUInt32LittleEndian(d, Magic);
        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], (ulong)h.Sequence);
        BinaryPrimitives.WriteInt64LittleEndian(d[16..], h.TimestampMs);
        BinaryPrimitives.WriteInt64LittleEndian(d[24..], h.VDiskId);
        BinaryPrimitives.WriteInt64LittleEndian(d[32..], h.Offset);
        BinaryPrimitives.WriteInt64LittleEndian(d[40..], h.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(d[48..], (ushort)h.Type);
        BinaryPrimitives.WriteUInt16LittleEndian(d[50..], h.Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(d[52..], (uint)h.PayloadLength);
        uint state = Crc32C.Update(Crc32C.InitialState ^ nonce, d[8..]);
        state = Crc32C.Update(state, payload);
        int pad = Size(payload.Length) - HeaderSize - payload.Length;
        Span<byte> zeros = stackalloc byte[8];
        zeros.Clear();
        state = Crc32C.Update(state, zeros[..pad]);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], Crc32C.Finish(state));
    }

    /// <summary>
    /// Reads and verifies the record at the start of <paramref name="source"/>. False when it is missing,
    /// torn or damaged (wrong magic, CRC, or a length that runs past the data).
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> source, uint nonce, out Header header, out ReadOnlySpan<byte> payload)
    {
        header = default;
        payload = default;
        if (source.Length < HeaderSize || BinaryPrimitives.ReadUInt32LittleEndian(source) != Magic)
            return false;
        uint payloadLength = BinaryPrimitives.ReadUInt32LittleEndian(source[52..]);
        if (payloadLength > int.MaxValue - HeaderSize - 8 || Size((int)payloadLength) > source.Length)
            return false;
        int size = Size((int)payloadLength);
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(source[4..]);
        if (Crc32C.Finish(Crc32C.Update(Crc32C.InitialState ^ nonce, source[8..size])) != crc)
            return false;
        header = new Header(
            (long)BinaryPrimitives.ReadUInt64LittleEndian(source[8..]),
            BinaryPrimitives.ReadInt64LittleEndian(source[16..]),
            BinaryPrimitives.ReadInt64LittleEndian(source[24..]),
            BinaryPrimitives.ReadInt64LittleEndian(source[32..]),
            BinaryPrimitives.ReadInt64LittleEndian(source[40..]),
            (JournalRecordType)BinaryPrimitives.ReadUInt16LittleEndian(source[48..]),
            BinaryPrimitives.ReadUInt16LittleEndian(source[50..]),
            (int)payloadLength);
        payload = source.Slice(HeaderSize, (int)payloadLength);
        return true;
    }
}
