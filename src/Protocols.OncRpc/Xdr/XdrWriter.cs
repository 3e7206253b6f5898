using System.Buffers.Binary;
using System.Text;

namespace StorageAppliance.Protocols.OncRpc.Xdr;

/// <summary>
/// Writes XDR (RFC 4506) into a caller's span. The caller sizes the span for what it writes (replies
/// reserve their worst case up front); writing past the end is a bug and throws.
/// </summary>
public ref struct XdrWriter
{
    private readonly Span<byte> _buffer;
    private int _position;

    public XdrWriter(Span<byte> buffer, int position = 0)
    {
        _buffer = buffer;
        _position = position;
    }

    public readonly int Position => _position;

    public readonly int Remaining => _buffer.Length - _position;

    public readonly Span<byte> Buffer => _buffer;

    public void WriteUInt32(uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(_buffer.Slice(_position, 4), value);
        _position += 4;
    }

    public void WriteInt32(int value) => WriteUInt32((uint)value);

    public void WriteUInt64(ulong value)
    {
        BinaryPrimitives.WriteUInt64BigEndian(_buffer.Slice(_position, 8), value);
        _position += 8;
    }

    public void WriteBool(bool value) => WriteUInt32(value ? 1u : 0u);

    /// <summary>Fixed-length opaque: the bytes, then zero padding to a multiple of 4.</summary>
    public void WriteFixedOpaque(scoped ReadOnlySpan<byte> value)
    {
        value.CopyTo(_buffer.Slice(_position));
        _position += value.Length;
        WritePadding(value.Length);
    }

    /// <summary>Variable-length opaque: the length, the bytes, the padding.</summary>
    public void WriteOpaque(scoped ReadOnlySpan<byte> value)
    {
        WriteUInt32((uint)value.Length);
        WriteFixedOpaque(value);
    }

    public void WriteString(string value)
    {
        int n = Encoding.UTF8.GetBytes(value, _buffer.Slice(_position + 4));
        WriteUInt32((uint)n);
        _position += n;
        WritePadding(n);
    }

    /// <summary>Reserves room for <paramref name="length"/> bytes written later (e.g. READ data filled by the disk).</summary>
    public Span<byte> Reserve(int length)
    {
        var span = _buffer.Slice(_position, length);
        _position += length;
        return span;
    }

    public void WritePadding(int length)
    {
        int pad = (4 - (length & 3)) & 3;
        if (pad != 0)
        {
            _buffer.Slice(_position, pad).Clear();
            _position += pad;
        }
    }

    /// <summary>Moves back (or forward) to a position already within the written part, e.g. to drop a partial entry.</summary>
    public void Seek(int position) => _position = position;

    /// <summary>Bytes a string takes on the wire.</summary>
    public static int StringSize(int utf8Length) => 4 + ((utf8Length + 3) & ~3);
}
