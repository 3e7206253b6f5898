using System.Buffers.Binary;
using System.Text;

namespace StorageAppliance.Protocols.Nfs.Tests.Support;

/// <summary>Builds XDR arguments in tests (allocation is fine here).</summary>
public sealed class XdrBuilder
{
    private readonly MemoryStream _ms = new();

    public XdrBuilder U32(uint v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, v);
        _ms.Write(b);
        return this;
    }

    public XdrBuilder U64(ulong v)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(b, v);
        _ms.Write(b);
        return this;
    }

    public XdrBuilder Bool(bool v) => U32(v ? 1u : 0u);

    public XdrBuilder Fixed(ReadOnlySpan<byte> data)
    {
        _ms.Write(data);
        int pad = (4 - (data.Length & 3)) & 3;
        for (int i = 0; i < pad; i++)
            _ms.WriteByte(0);
        return this;
    }

    public XdrBuilder Opaque(ReadOnlySpan<byte> data)
    {
        U32((uint)data.Length);
        return Fixed(data);
    }

    public XdrBuilder Str(string s) => Opaque(Encoding.UTF8.GetBytes(s));

    /// <summary>sattr3 with the given fields set, times DONT_CHANGE unless asked.</summary>
    public XdrBuilder Sattr(uint? mode = null, uint? uid = null, uint? gid = null, ulong? size = null, uint atimeHow = 0, uint mtimeHow = 0, uint mtimeSeconds = 0)
    {
        Bool(mode.HasValue);
        if (mode.HasValue)
            U32(mode.Value);
        Bool(uid.HasValue);
        if (uid.HasValue)
            U32(uid.Value);
        Bool(gid.HasValue);
        if (gid.HasValue)
            U32(gid.Value);
        Bool(size.HasValue);
        if (size.HasValue)
            U64(size.Value);
        U32(atimeHow);
        if (atimeHow == 2)
            U32(1).U32(0);
        U32(mtimeHow);
        if (mtimeHow == 2)
            U32(mtimeSeconds).U32(0);
        return this;
    }

    public byte[] ToArray() => _ms.ToArray();

    public static implicit operator ReadOnlyMemory<byte>(XdrBuilder b) => b.ToArray();

    public static implicit operator byte[](XdrBuilder b) => b.ToArray();
}
