using System.Buffers.Binary;
using System.Text;

namespace StorageAppliance.Protocols.OncRpc.Xdr;

/// <summary>
/// Reads XDR (RFC 4506) from a contiguous buffer. Every read is a TryRead: running out of input or an
/// over-long variable-length item returns false, and the caller answers GARBAGE_ARGS instead of throwing
/// (STYLE.md 6). Items are big-endian and padded to 4 bytes (RFC 4506 section 3).
/// </summary>
public ref struct XdrReader
{
    private readonly ReadOnlySpan<byte> _buffer;
    private int _position;

    public XdrReader(ReadOnlySpan<byte> buffer)
    {
        _buffer = buffer;
        _position = 0;
    }

    public readonly int Position => _position;

    public readonly int Remaining => _buffer.Length - _position;

    public bool TryReadUInt32(out uint value)
    {
        if (_buffer.Length - _position < 4)
        {
            value = 0;
            return false;
        }
        value = BinaryPrimitives.ReadUInt32BigEndian(_buffer.Slice(_position, 4));
        _position += 4;
        return true;
    }

    public bool TryReadInt32(out int value)
    {
        bool ok = TryReadUInt32(out uint v);
        value = (int)v;
        return ok;
    }

    public bool TryReadUInt64(out ulong value)
    {
        if (_buffer.Length - _position < 8)
        {
            value = 0;
            return false;
        }
        value = BinaryPrimitives.ReadUInt64BigEndian(_buffer.Slice(_position, 8));
        _position += 8;
        return true;
    }

    /// <summary>RFC 4506 4.4: a boolean is an enum of FALSE (0) and TRUE (1); anything else is garbage.</summary>
    public bool TryReadBool(out bool value)
    {
        value = false;
        if (!TryReadUInt32(out uint v) || v > 1)
            return false;
        value = v == 1;
        return true;
    }

    /// <summary>Fixed-length opaque (RFC 4506 4.9): <paramref name="length"/> bytes plus padding.</summary>
    public bool TryReadFixedOpaque(int length, out ReadOnlySpan<byte> value)
    {
        // Padded in 64 bits: a length near int.MaxValue must not wrap to a negative size that passes the check.
        long padded = ((long)length + 3) & ~3L;
        if (length < 0 || _buffer.Length - _position < padded)
        {
            value = default;
            return false;
        }
        value = _buffer.Slice(_position, length);
        _position += (int)padded;
        return true;
    }

    /// <summary>Variable-length opaque (RFC 4506 4.10): a length, at most <paramref name="maxLength"/>, then the bytes.</summary>
    public bool TryReadOpaque(int maxLength, out ReadOnlySpan<byte> value)
    {
        value = default;
        if (!TryReadUInt32(out uint length) || length > (uint)maxLength)
            return false;
        return TryReadFixedOpaque((int)length, out value);
    }

    /// <summary>Like <see cref="TryReadOpaque"/>, returning the offset of the bytes in the buffer (for zero-copy slices).</summary>
    public bool TryReadOpaqueRange(int maxLength, out int offset, out int length)
    {
        offset = 0;
        length = 0;
        if (!TryReadUInt32(out uint len) || len > (uint)maxLength)
            return false;
        // As in TryReadFixedOpaque: a length near 2^31 (maxLength int.MaxValue, as NFS WRITE passes) must not wrap.
        long padded = ((long)len + 3) & ~3L;
        if (_buffer.Length - _position < padded)
            return false;
        offset = _position;
        length = (int)len;
        _position += (int)padded;
        return true;
    }

    /// <summary>A string (RFC 4506 4.11), decoded as UTF-8. Allocates: not for the data path.</summary>
    public bool TryReadString(int maxLength, out string value)
    {
        value = string.Empty;
        if (!TryReadOpaque(maxLength, out var bytes))
            return false;
        value = Encoding.UTF8.GetString(bytes);
        return true;
    }

    public bool TrySkip(int bytes)
    {
        if (bytes < 0 || _buffer.Length - _position < bytes)
            return false;
        _position += bytes;
        return true;
    }
}
