using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace StorageAppliance.Common;

/// <summary>
/// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), used for iSCSI header and data digests
/// (RFC 7143 section 13.1 and appendix B.4) and for extent checksums.
/// </summary>
/// <remarks>
/// Written here because no package obtainable from this machine's source carries CRC32C. Uses the
/// SSE4.2 CRC32 instruction eight bytes at a time, with a slicing-by-one table where the CPU lacks it.
/// The digest travels on the wire least significant byte first (RFC 7143 B.4: 32 zero bytes give
/// the bytes aa 36 91 8a).
/// </remarks>
public static class Crc32C
{
    /// <summary>Initial running state; feed with <see cref="Update(uint, ReadOnlySpan{byte})"/>, end with <see cref="Finish"/>.</summary>
    public const uint InitialState = 0xFFFFFFFFu;

    private const uint ReflectedPolynomial = 0x82F63B78u;
    private static readonly uint[] Table = BuildTable();

    /// <summary>The CRC32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Finish(Update(InitialState, data));

    /// <summary>The CRC32C of a possibly multi-segment sequence.</summary>
    public static uint Compute(in ReadOnlySequence<byte> data)
    {
        if (data.IsSingleSegment)
            return Compute(data.FirstSpan);
        uint state = InitialState;
        foreach (var segment in data)
            state = Update(state, segment.Span);
        return Finish(state);
    }

    public static uint Finish(uint state) => ~state;

    /// <summary>Folds <paramref name="data"/> into a running state.</summary>
    public static uint Update(uint state, ReadOnlySpan<byte> data)
    {
        if (Sse42.X64.IsSupported)
        {
            ulong crc = state;
            while (data.Length >= 8)
            {
                crc = Sse42.X64.Crc32(crc, MemoryMarshal.Read<ulong>(data));
                data = data[8..];
            }
            state = (uint)crc;
        }
        if (Sse42.IsSupported)
        {
            foreach (byte b in data)
                state = Sse42.Crc32(state, b);
            return state;
        }
        foreach (byte b in data)
            state = Table[(state ^ b) & 0xFF] ^ (state >> 8);
        return state;
    }

    /// <summary>Writes a digest as it travels on the wire (least significant byte first).</summary>
    public static void WriteDigest(Span<byte> destination, uint crc) => BinaryPrimitives.WriteUInt32LittleEndian(destination, crc);

    /// <summary>Reads a digest as it travels on the wire.</summary>
    public static uint ReadDigest(ReadOnlySpan<byte> source) => BinaryPrimitives.ReadUInt32LittleEndian(source);

    /// <summary>Table path only, so tests can check it against the hardware path on any CPU.</summary>
    internal static uint UpdateSoftware(uint state, ReadOnlySpan<byte> data)
    {
        foreach (byte b in data)
            state = Table[(state ^ b) & 0xFF] ^ (state >> 8);
        return state;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) != 0 ? (c >> 1) ^ ReflectedPolynomial : c >> 1;
            table[i] = c;
        }
        return table;
    }
}
