using System.Runtime.CompilerServices;

namespace StorageAppliance.DataReduction.Chunking;

/// <summary>
/// A Rabin fingerprint over a sliding window of <see cref="WindowSize"/> bytes: the window's bytes read as a
/// polynomial over GF(2), reduced modulo the irreducible polynomial <see cref="Polynomial"/> of degree 53.
/// </summary>
/// <remarks>
/// Written for this project from the definition (M. O. Rabin, "Fingerprinting by random polynomials", 1981);
/// no library that can be obtained here provides it. Two 256-entry tables make a step two lookups:
/// <list type="bullet">
/// <item><see cref="ShiftTable"/>[t] = (t · x^53) mod P: reduces the 8 bits that a shift by one byte pushes past
/// degree 52.</item>
/// <item><see cref="OutTable"/>[b] = (b · x^(8·(W−1))) mod P: the contribution of the oldest byte of a full window,
/// removed (XOR) before the next byte shifts in.</item>
/// </list>
/// A step is <c>fp = ((fp ⊕ Out[old]) &lt;&lt; 8 | new) mod P</c>. Because removal is exact, the fingerprint after W bytes
/// depends only on those W bytes, never on what came before: that is what lets boundaries resynchronise after an
/// insertion, and what lets the chunker skip the first bytes of every chunk.
/// </remarks>
public static class RabinFingerprint
{
    /// <summary>Degree 53, irreducible over GF(2) (chosen at random and checked by Rabin's test; see the tests).</summary>
    public const ulong Polynomial = 0x25e4b36e1a9345UL;

    public const int Degree = 53;

    /// <summary>The window, in bytes; a power of two so a ring buffer over it needs only a mask.</summary>
    public const int WindowSize = 64;

    private const int TopShift = Degree - 8;
    private const ulong LowMask = (1UL << Degree) - 1;

    internal static readonly ulong[] ShiftTable = BuildShiftTable();
    internal static readonly ulong[] OutTable = BuildOutTable();

    /// <summary>Shifts one byte into <paramref name="fp"/> (of degree &lt; 53) without removing any.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Append(ulong fp, byte b) => (((fp << 8) & LowMask) | b) ^ ShiftTable[(int)(fp >> TopShift)];

    /// <summary>Removes <paramref name="oldest"/>, the byte that entered <see cref="WindowSize"/> bytes ago, and appends <paramref name="b"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Roll(ulong fp, byte oldest, byte b) => Append(fp ^ OutTable[oldest], b);

    /// <summary>The fingerprint of <paramref name="data"/> as one polynomial (no window): for tests and tools.</summary>
    public static ulong Of(ReadOnlySpan<byte> data)
    {
        ulong fp = 0;
        foreach (byte b in data)
            fp = Append(fp, b);
        return fp;
    }

    /// <summary>(a · b) mod <see cref="Polynomial"/>, bit by bit; a and b of degree &lt; 53. Slow: tables and tests only.</summary>
    internal static ulong MultiplyMod(ulong a, ulong b)
    {
        ulong r = 0;
        while (b != 0)
        {
            if ((b & 1) != 0)
                r ^= a;
            b >>= 1;
            a <<= 1;
            if ((a >> Degree & 1) != 0)
                a ^= Polynomial;
        }
        return r;
    }

    private static ulong[] BuildShiftTable()
    {
        var t = new ulong[256];
        for (int i = 0; i < 256; i++)
        {
            // i · x^53: shift i's bits up one at a time, reducing whenever degree 53 appears.
            ulong v = (ulong)i;
            for (int k = 0; k < Degree; k++)
            {
                v <<= 1;
                if ((v >> Degree & 1) != 0)
                    v ^= Polynomial;
            }
            t[i] = v;
        }
        return t;
    }

    private static ulong[] BuildOutTable()
    {
        // x^(8·(W−1)) mod P, then b times it.
        ulong xPow = 1;
        for (int k = 0; k < 8 * (WindowSize - 1); k++)
            xPow = MultiplyMod(xPow, 2);
        var t = new ulong[256];
        for (int b = 0; b < 256; b++)
            t[b] = MultiplyMod((ulong)b, xPow);
        return t;
    }
}
