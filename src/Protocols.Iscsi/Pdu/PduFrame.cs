using System.Buffers;
using StorageAppliance.Common;

namespace StorageAppliance.Protocols.Iscsi.Pdu;

/// <summary>
/// One complete PDU as it sits in the receive buffer: the header by value, the AHS and data segment as
/// slices of the buffer (valid only until the reader advances past them; copy what must outlive that).
/// <code>
///  +--------------------------+
///  | Basic Header Segment 48  |
///  +--------------------------+
///  | Additional Header Segs   |  TotalAHSLength * 4
///  +--------------------------+
///  | Header-Digest (optional) |  4, CRC32C over BHS + AHS
///  +--------------------------+
///  | Data Segment (optional)  |  DataSegmentLength, padded to 4
///  +--------------------------+
///  | Data-Digest (optional)   |  4, CRC32C over data + padding
///  +--------------------------+
/// </code>
/// (RFC 7143 11.1)
/// </summary>
public readonly struct PduFrame
{
    public PduFrame(in BasicHeaderSegment header, ReadOnlySequence<byte> ahs, ReadOnlySequence<byte> data, int wireLength)
    {
        Header = header;
        Ahs = ahs;
        Data = data;
        WireLength = wireLength;
    }

    public BasicHeaderSegment Header { get; }

    public ReadOnlySequence<byte> Ahs { get; }

    /// <summary>The data segment without padding.</summary>
    public ReadOnlySequence<byte> Data { get; }

    /// <summary>Bytes the whole PDU occupied on the wire.</summary>
    public int WireLength { get; }
}

/// <summary>Digest and size settings the frame reader applies; they change when login completes.</summary>
public sealed class FramingOptions
{
    public bool HeaderDigest { get; set; }

    public bool DataDigest { get; set; }

    /// <summary>Our declared MaxRecvDataSegmentLength: the largest data segment an initiator may send us.</summary>
    public int MaxRecvDataSegmentLength { get; set; } = 8192;
}

public enum FrameResult : byte
{
    /// <summary>A whole PDU was read.</summary>
    Complete,

    /// <summary>More bytes are needed.</summary>
    Incomplete,

    /// <summary>The header digest did not match: the framing can no longer be trusted (RFC 7143 7.8).</summary>
    HeaderDigestError,

    /// <summary>The data digest did not match; the PDU was consumed and must be discarded (RFC 7143 7.8).</summary>
    DataDigestError,

    /// <summary>The data segment exceeds the negotiated limit; the PDU was consumed (header kept for a Reject).</summary>
    DataSegmentTooLong,
}

/// <summary>Reads PDUs out of a receive buffer (Kestrel style: false/Incomplete on a partial frame).</summary>
public static class PduReader
{
    /// <summary>
    /// Tries to take one PDU off the front of <paramref name="buffer"/>. On <see cref="FrameResult.Complete"/>
    /// and <see cref="FrameResult.DataDigestError"/> the buffer is advanced past the PDU (so the caller can
    /// reject it and keep reading). On <see cref="FrameResult.Incomplete"/>, <see cref="FrameResult.HeaderDigestError"/>
    /// and <see cref="FrameResult.DataSegmentTooLong"/> it is unchanged: the caller closes the connection or
    /// skips <see cref="PduFrame.WireLength"/> bytes itself. <paramref name="bytesNeeded"/> tells how many
    /// bytes the whole PDU needs once its header is in.
    /// </summary>
    public static FrameResult TryRead(ref ReadOnlySequence<byte> buffer, FramingOptions options, out PduFrame frame, out long bytesNeeded)
    {
        frame = default;
        bytesNeeded = BasicHeaderSegment.Length;
        if (buffer.Length < BasicHeaderSegment.Length)
            return FrameResult.Incomplete;

        BasicHeaderSegment header = default;
        var first = buffer.FirstSpan;
        if (first.Length >= BasicHeaderSegment.Length)
            header = new BasicHeaderSegment(first);
        else
            buffer.Slice(0, BasicHeaderSegment.Length).CopyTo(header.Span);

        int ahsLength = header.TotalAhsLength;
        int dataLength = header.DataSegmentLength;
        int headerDigest = options.HeaderDigest ? 4 : 0;
        int dataDigest = options.DataDigest && dataLength > 0 ? 4 : 0;
        long total = BasicHeaderSegment.Length + ahsLength + headerDigest + HeaderWriter.Padded(dataLength) + dataDigest;
        bytesNeeded = total;

        // The header digest is checked as soon as the header is in, before trusting its lengths.
        if (headerDigest != 0)
        {
            int headerEnd = BasicHeaderSegment.Length + ahsLength;
            if (buffer.Length < headerEnd + 4)
            {
                bytesNeeded = headerEnd + 4;
                return FrameResult.Incomplete;
            }
            uint expected = Crc32C.Compute(buffer.Slice(0, headerEnd));
            Span<byte> digest = stackalloc byte[4];
            buffer.Slice(headerEnd, 4).CopyTo(digest);
            if (Crc32C.ReadDigest(digest) != expected)
            {
                frame = new PduFrame(header, default, default, headerEnd + 4);
                return FrameResult.HeaderDigestError;
            }
        }

        if (dataLength > options.MaxRecvDataSegmentLength)
        {
            // Not buffered: the caller skips bytesNeeded bytes as they arrive.
            frame = new PduFrame(header, default, default, (int)Math.Min(total, int.MaxValue));
            return FrameResult.DataSegmentTooLong;
        }

        if (buffer.Length < total)
            return FrameResult.Incomplete;

        var ahs = buffer.Slice(BasicHeaderSegment.Length, ahsLength);
        long dataStart = BasicHeaderSegment.Length + ahsLength + headerDigest;
        var data = buffer.Slice(dataStart, dataLength);
        frame = new PduFrame(header, ahs, data, (int)total);

        if (dataDigest != 0)
        {
            var padded = buffer.Slice(dataStart, HeaderWriter.Padded(dataLength));
            uint expected = Crc32C.Compute(padded);
            Span<byte> digest = stackalloc byte[4];
            buffer.Slice(dataStart + HeaderWriter.Padded(dataLength), 4).CopyTo(digest);
            if (Crc32C.ReadDigest(digest) != expected)
            {
                buffer = buffer.Slice(total);
                return FrameResult.DataDigestError;
            }
        }

        buffer = buffer.Slice(total);
        return FrameResult.Complete;
    }
}
