using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace StorageAppliance.DataReduction;

/// <summary>
/// A deduplicated extent's identity: its size and the SHA-1 of its bytes, the seed's "24 byte representation
/// containing (extent size, SHA1 hash)". Equal ids mean equal data (SHA-1 collisions are not considered, as in
/// the seed). 24 bytes in memory and in <see cref="WriteTo"/>'s form.
/// </summary>
/// <remarks>
/// Stored form (<see cref="SerializedSize"/> bytes): size, 4 bytes big-endian; then the 20 bytes of the SHA-1.
/// Big-endian size first so ids of one size sort together in an ordered store.
/// </remarks>
[StructLayout(LayoutKind.Sequential)]
public readonly struct ExtentId : IEquatable<ExtentId>
{
    public const int SerializedSize = 24;
    public const int HashSize = 20;

    // The SHA-1 as its bytes in order: 8 + 8 + 4 bytes (native-endian loads of the digest).
    private readonly ulong _h0;
    private readonly ulong _h1;
    private readonly uint _h2;
    private readonly uint _size;

    private ExtentId(ReadOnlySpan<byte> hash, uint size)
    {
        _h0 = MemoryMarshal.Read<ulong>(hash);
        _h1 = MemoryMarshal.Read<ulong>(hash[8..]);
        _h2 = MemoryMarshal.Read<uint>(hash[16..]);
        _size = size;
    }

    /// <summary>The extent's length in bytes (before compression).</summary>
    public int Size => (int)_size;

    /// <summary>Hashes <paramref name="data"/> (SHA-1, no allocation) into an id.</summary>
    public static ExtentId Compute(ReadOnlySpan<byte> data)
    {
        Span<byte> hash = stackalloc byte[HashSize];
        SHA1.HashData(data, hash);
        return new ExtentId(hash, (uint)data.Length);
    }

    /// <summary>An id from a SHA-1 already computed (for example incrementally) and the extent's size.</summary>
    public static ExtentId FromHash(ReadOnlySpan<byte> sha1, int size)
    {
        if (sha1.Length != HashSize)
            throw new ArgumentException($"a SHA-1 is {HashSize} bytes, not {sha1.Length}", nameof(sha1));
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        return new ExtentId(sha1, (uint)size);
    }

    /// <summary>Reads the stored form; false if <paramref name="source"/> is shorter than 24 bytes.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out ExtentId id)
    {
        if (source.Length < SerializedSize || BinaryPrimitives.ReadUInt32BigEndian(source) > int.MaxValue)
        {
            id = default;
            return false;
        }
        id = new ExtentId(source.Slice(4, HashSize), BinaryPrimitives.ReadUInt32BigEndian(source));
        return true;
    }

    /// <summary>Writes the stored form into the first 24 bytes of <paramref name="destination"/>.</summary>
    public void WriteTo(Span<byte> destination)
    {
        if (destination.Length < SerializedSize)
            throw new ArgumentException($"an extent id needs {SerializedSize} bytes", nameof(destination));
        BinaryPrimitives.WriteUInt32BigEndian(destination, _size);
        CopyHashTo(destination.Slice(4, HashSize));
    }

    /// <summary>Writes the 20-byte SHA-1.</summary>
    public void CopyHashTo(Span<byte> destination)
    {
        MemoryMarshal.Write(destination, in _h0);
        MemoryMarshal.Write(destination[8..], in _h1);
        MemoryMarshal.Write(destination[16..], in _h2);
    }

    public bool Equals(ExtentId other) => _h0 == other._h0 && _h1 == other._h1 && _h2 == other._h2 && _size == other._size;

    public override bool Equals(object? obj) => obj is ExtentId other && Equals(other);

    // SHA-1's bits are uniform: a slice of them is already a good hash.
    public override int GetHashCode() => (int)_h0 ^ (int)(_h0 >> 32);

    public static bool operator ==(ExtentId left, ExtentId right) => left.Equals(right);

    public static bool operator !=(ExtentId left, ExtentId right) => !left.Equals(right);

    /// <summary>"size:sha1hex", for logs and tools (allocates).</summary>
    public override string ToString()
    {
        Span<byte> hash = stackalloc byte[HashSize];
        CopyHashTo(hash);
        return $"{_size}:{Convert.ToHexStringLower(hash)}";
    }
}
