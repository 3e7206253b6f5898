using System.Buffers;
using System.Globalization;
using StorageAppliance.Common;
using StorageAppliance.Protocols.Iscsi.Pdu;

namespace StorageAppliance.Protocols.Iscsi.Tests.Support;

/// <summary>Byte helpers for golden PDUs.</summary>
public static class Wire
{
    /// <summary>Bytes from hex text; spaces, newlines and '|' separators are ignored.</summary>
    public static byte[] Hex(string text)
    {
        var digits = new System.Text.StringBuilder();
        foreach (char c in text)
            if (char.IsAsciiHexDigit(c))
                digits.Append(c);
        return Convert.FromHexString(digits.ToString());
    }

    /// <summary>A whole PDU: header, AHS, optional header digest, data padded to 4, optional data digest (RFC 7143 11.1).</summary>
    public static byte[] Pdu(byte[] bhs, ReadOnlySpan<byte> data = default, byte[]? ahs = null, bool headerDigest = false, bool dataDigest = false)
    {
        ahs ??= [];
        int padded = (data.Length + 3) & ~3;
        var pdu = new List<byte>(bhs.Length + ahs.Length + 8 + padded);
        pdu.AddRange(bhs);
        pdu.AddRange(ahs);
        if (headerDigest)
            pdu.AddRange(Digest([.. bhs, .. ahs]));
        var segment = new byte[padded];
        data.CopyTo(segment);
        pdu.AddRange(segment);
        if (dataDigest && data.Length > 0)
            pdu.AddRange(Digest(segment));
        return pdu.ToArray();
    }

    /// <summary>The CRC32C of <paramref name="bytes"/> as it travels on the wire.</summary>
    public static byte[] Digest(ReadOnlySpan<byte> bytes)
    {
        var d = new byte[4];
        Crc32C.WriteDigest(d, Crc32C.Compute(bytes));
        return d;
    }

    /// <summary>Prefixes and suffixes <paramref name="pdu"/> with filler, so parsers must honour the offset.</summary>
    public static byte[] Embed(byte[] pdu, int before, int after)
    {
        var big = new byte[before + pdu.Length + after];
        big.AsSpan(0, before).Fill(0xA5);
        pdu.CopyTo(big, before);
        big.AsSpan(before + pdu.Length).Fill(0x5A);
        return big;
    }

    public static BasicHeaderSegment Header(byte[] bytes, int offset = 0) => new(bytes.AsSpan(offset));

    public static string Text(ReadOnlySequence<byte> data) => System.Text.Encoding.UTF8.GetString(data.ToArray());

    public static string Show(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes).ToLower(CultureInfo.InvariantCulture);
}
