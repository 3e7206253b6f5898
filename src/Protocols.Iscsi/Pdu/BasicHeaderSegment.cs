using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace StorageAppliance.Protocols.Iscsi.Pdu;

/// <summary>
/// The 48-byte Basic Header Segment every PDU starts with (RFC 7143 11.2.1), held by value.
/// <code>
/// Byte/     0       |       1       |       2       |       3       |
///    +---------------+---------------+---------------+---------------+
///   0|.|I| Opcode    |F|  Opcode-specific fields                     |
///    +---------------+---------------+---------------+---------------+
///   4|TotalAHSLength | DataSegmentLength                             |
///    +---------------+---------------+---------------+---------------+
///   8| LUN or Opcode-specific fields                                 |
///    +                                                               +
///  12|                                                               |
///    +---------------+---------------+---------------+---------------+
///  16| Initiator Task Tag                                            |
///    +---------------+---------------+---------------+---------------+
///  20/ Opcode-specific fields                                        /
///   +/                                                               /
///    +---------------+---------------+---------------+---------------+
///  48
/// </code>
/// All multi-byte fields are big-endian.
/// </summary>
public struct BasicHeaderSegment
{
    public const int Length = 48;

    /// <summary>The reserved tag value (RFC 7143 11.2.1.8 and elsewhere).</summary>
    public const uint ReservedTag = 0xFFFFFFFF;

    private Bytes48 _bytes;

    [InlineArray(Length)]
    private struct Bytes48
    {
        private byte _element0;
    }

    public BasicHeaderSegment(ReadOnlySpan<byte> source)
    {
        source[..Length].CopyTo(_bytes);
    }

    [UnscopedRef]
    public Span<byte> Span => _bytes;

    [UnscopedRef]
    public readonly ReadOnlySpan<byte> ReadOnlySpan => _bytes;

    public readonly IscsiOpcode Opcode => (IscsiOpcode)(_bytes[0] & 0x3F);

    /// <summary>The I bit: an immediate (not CmdSN-ordered) request.</summary>
    public readonly bool Immediate => (_bytes[0] & 0x40) != 0;

    public readonly byte Flags => _bytes[1];

    /// <summary>The F bit (byte 1, bit 7).</summary>
    public readonly bool Final => (_bytes[1] & 0x80) != 0;

    public readonly int TotalAhsLength => _bytes[4] * 4;

    public readonly int DataSegmentLength => (_bytes[5] << 16) | (_bytes[6] << 8) | _bytes[7];

    public readonly ulong Lun => BinaryPrimitives.ReadUInt64BigEndian(ReadOnlySpan[8..]);

    public readonly uint InitiatorTaskTag => UInt32(16);

    public readonly byte this[int index] => _bytes[index];

    public readonly uint UInt32(int offset) => BinaryPrimitives.ReadUInt32BigEndian(ReadOnlySpan[offset..]);

    public readonly ushort UInt16(int offset) => BinaryPrimitives.ReadUInt16BigEndian(ReadOnlySpan[offset..]);

    public override readonly string ToString() => $"{Opcode} ITT={InitiatorTaskTag:x8} DSL={DataSegmentLength}";
}

/// <summary>Helpers to write target PDU headers into a caller's span.</summary>
internal static class HeaderWriter
{
    public static void Begin(Span<byte> bhs, IscsiOpcode opcode, byte flags, int dataSegmentLength)
    {
        bhs[..BasicHeaderSegment.Length].Clear();
        bhs[0] = (byte)opcode;
        bhs[1] = flags;
        bhs[5] = (byte)(dataSegmentLength >> 16);
        bhs[6] = (byte)(dataSegmentLength >> 8);
        bhs[7] = (byte)dataSegmentLength;
    }

    public static void UInt32(Span<byte> bhs, int offset, uint value) => BinaryPrimitives.WriteUInt32BigEndian(bhs[offset..], value);

    public static void UInt64(Span<byte> bhs, int offset, ulong value) => BinaryPrimitives.WriteUInt64BigEndian(bhs[offset..], value);

    public static void UInt16(Span<byte> bhs, int offset, ushort value) => BinaryPrimitives.WriteUInt16BigEndian(bhs[offset..], value);

    /// <summary>Length of the data segment on the wire: padded to a multiple of four (RFC 7143 11.2.3).</summary>
    public static int Padded(int length) => (length + 3) & ~3;
}
