using System.Buffers;
using System.Buffers.Binary;

namespace StorageAppliance.Protocols.OncRpc;

/// <summary>
/// Record marking for RPC over TCP (RFC 5531 section 11).
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-------------------------------------------------------------+
/// |L|                fragment length (31 bits)                    |  fragment 1
/// +-+-------------------------------------------------------------+
/// |                  fragment bytes ...                           |
/// +---------------------------------------------------------------+
///   ... more fragments; L (last fragment) set on the final one
/// </code>
/// "A record is composed of one or more record fragments ... The last fragment has the high-order bit
/// set." A record is only handed on once all its fragments have arrived.
/// </summary>
public static class RecordMarking
{
    public const uint LastFragment = 0x8000_0000;

    /// <summary>
    /// Finds one complete record at the start of <paramref name="buffer"/>. Returns false when more
    /// bytes are needed. On success, <paramref name="recordLength"/> is the payload length (without the
    /// fragment headers), <paramref name="wireLength"/> the bytes the record takes on the wire.
    /// </summary>
    /// <exception cref="InvalidDataException">The record exceeds <paramref name="maxRecord"/>: broken or hostile framing.</exception>
    public static bool TryMeasure(in ReadOnlySequence<byte> buffer, int maxRecord, out int recordLength, out long wireLength, out int fragments)
    {
        recordLength = 0;
        wireLength = 0;
        fragments = 0;
        long position = 0;
        long total = 0;
        Span<byte> header = stackalloc byte[4];
        while (true)
        {
            if (buffer.Length - position < 4)
                return false;
            buffer.Slice(position, 4).CopyTo(header);
            uint mark = BinaryPrimitives.ReadUInt32BigEndian(header);
            uint length = mark & ~LastFragment;
            total += length;
            if (total > maxRecord)
                throw new InvalidDataException($"RPC record of at least {total} bytes exceeds the limit of {maxRecord}");
            position += 4 + length;
            fragments++;
            if (buffer.Length < position)
                return false;
            if ((mark & LastFragment) != 0)
            {
                recordLength = (int)total;
                wireLength = position;
                return true;
            }
        }
    }

    /// <summary>Copies the payload of a measured record (fragment headers removed) into <paramref name="destination"/>.</summary>
    public static void CopyPayload(in ReadOnlySequence<byte> buffer, long wireLength, Span<byte> destination)
    {
        long position = 0;
        int written = 0;
        Span<byte> header = stackalloc byte[4];
        while (position < wireLength)
        {
            buffer.Slice(position, 4).CopyTo(header);
            int length = (int)(BinaryPrimitives.ReadUInt32BigEndian(header) & ~LastFragment);
            buffer.Slice(position + 4, length).CopyTo(destination.Slice(written));
            written += length;
            position += 4 + length;
        }
    }

    /// <summary>
    /// TryRead form (STYLE.md 3): one whole record into a buffer rented from <paramref name="pool"/>,
    /// advancing <paramref name="buffer"/> past it. The caller returns the array to the pool.
    /// </summary>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, int maxRecord, ArrayPool<byte> pool, out byte[] record, out int length)
    {
        record = Array.Empty<byte>();
        if (!TryMeasure(buffer, maxRecord, out length, out long wire, out _))
            return false;
        record = pool.Rent(Math.Max(length, 1));
        CopyPayload(buffer, wire, record);
        buffer = buffer.Slice(wire);
        return true;
    }

    /// <summary>Writes a single-fragment record mark for <paramref name="length"/> payload bytes.</summary>
    public static void WriteMark(Span<byte> destination, int length) =>
        BinaryPrimitives.WriteUInt32BigEndian(destination, LastFragment | (uint)length);
}
