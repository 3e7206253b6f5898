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
/// set." A record is only handed on once all its fragments have arrived; <see cref="RecordAssembler"/>
/// reassembles records incrementally.
/// </summary>
public static class RecordMarking
{
    public const uint LastFragment = 0x8000_0000;

    /// <summary>Writes a single-fragment record mark for <paramref name="length"/> payload bytes.</summary>
    public static void WriteMark(Span<byte> destination, int length) =>
        BinaryPrimitives.WriteUInt32BigEndian(destination, LastFragment | (uint)length);
}
