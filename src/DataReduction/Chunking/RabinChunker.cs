using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace StorageAppliance.DataReduction.Chunking;

/// <summary>
/// Content-defined chunking with the <see cref="RabinFingerprint"/> rolling over a 64-byte window (the seed's
/// "Rabin fingerprinting ... for objectively dividing data into consistent portions"). Immutable and thread-safe;
/// allocates nothing per call. For data that arrives in pieces, see <see cref="CreateStream"/>.
/// </summary>
/// <remarks>
/// A chunk is cut after byte i (chunk length L = i + 1 from its start) at the first L ≥ Min where
/// <c>(fp &amp; mask) == magic</c>, fp being the fingerprint of the 64 bytes ending at i; or at L = Max.
/// Hashing starts 64 bytes before Min: the bytes before that cannot influence any boundary, so they are skipped.
/// </remarks>
public sealed class RabinChunker
{
    private const int W = RabinFingerprint.WindowSize;
    private const int TopShift = RabinFingerprint.Degree - 8;
    private const ulong LowMask = (1UL << RabinFingerprint.Degree) - 1;

    // Non-zero, so a run of zeros (fingerprint 0) never matches and zeroed space cuts into Max-sized chunks,
    // all equal and so deduplicated against each other.
    private const ulong MagicSource = 0x6A09E667F3BCC909UL;

    // OutAfter[b] = b · x^(8W) mod P: the oldest byte's contribution after the new byte has shifted in. Removing it
    // after the shift, rather than before, keeps its lookup off the fingerprint's dependency chain.
    private static readonly ulong[] OutAfter = BuildOutAfter();

    // Bytes per chain and pass of the two-chain loop.
    private const int Span = 2048;

    private readonly ulong _mask;
    private readonly ulong _magic;

    public RabinChunker(ChunkingOptions options)
    {
        options.Validate();
        Options = options;
        _mask = (ulong)options.Average - 1;
        _magic = MagicSource & _mask;
    }

    public ChunkingOptions Options { get; }

    internal ulong Mask => _mask;
    internal ulong Magic => _magic;

    /// <summary>
    /// The length of the chunk that starts at <paramref name="data"/>[0]: at a content boundary, or
    /// <see cref="ChunkingOptions.Max"/>; or -1 if <paramref name="data"/> is shorter than Max and holds no boundary
    /// (more data is needed; at the end of the stream the rest is the last chunk: see <see cref="NextChunkLength"/>).
    /// </summary>
    public int FindBoundary(ReadOnlySpan<byte> data)
    {
        int min = Options.Min;
        int max = Options.Max;
        int end = Math.Min(data.Length, max);
        if (end < min)
            return -1;

        ref byte p = ref MemoryMarshal.GetReference(data);
        ref ulong shift = ref MemoryMarshal.GetArrayDataReference(RabinFingerprint.ShiftTable);
        ref ulong outAfter = ref MemoryMarshal.GetArrayDataReference(OutAfter);
        ulong mask = _mask, magic = _magic;

        // Warm-up: the first window ends at byte min-1; nothing leaves it yet.
        ulong fp = 0;
        for (int i = min - W; i < min; i++)
            fp = (((fp << 8) & LowMask) | Unsafe.Add(ref p, i)) ^ Unsafe.Add(ref shift, (nint)(fp >> TopShift));
        if ((fp & mask) == magic)
            return min;

        int hit = Scan(ref p, min, end, ref fp, mask, magic);
        return hit >= 0 ? hit + 1 : end == max ? max : -1;
    }

    /// <summary>
    /// Rolls <paramref name="fp"/> (the window ending at <paramref name="from"/> − 1) over positions
    /// [<paramref name="from"/>, <paramref name="end"/>) of <paramref name="p"/>, whose oldest bytes must all be in
    /// <paramref name="p"/> (from ≥ W). Returns the first position whose window matches, or -1 with
    /// <paramref name="fp"/> the window ending at end − 1.
    /// </summary>
    internal static int Scan(ref byte p, int from, int end, ref ulong fpRef, ulong mask, ulong magic)
    {
        ref ulong shift = ref MemoryMarshal.GetArrayDataReference(RabinFingerprint.ShiftTable);
        ref ulong outAfter = ref MemoryMarshal.GetArrayDataReference(OutAfter);
        ulong fp = fpRef;

        // Two independent chains at once. A step is bound by its table lookup's latency (the next lookup's index
        // needs this step's result), so one chain leaves the core mostly idle; a second chain over the next Span
        // of data hides that latency. Chain B starts W bytes early with appends only (the window's fingerprint does
        // not depend on what came before it), and hands its fingerprint to A when both spans hold no boundary.
        int a = from;
        while (a + 2 * Span - W <= end)
        {
            int bStart = a + Span - W;
            ulong fpB = 0;
            for (int k = 0; k < W; k++)
            {
                fp = Step(fp, Unsafe.Add(ref p, a + k), Unsafe.Add(ref p, a + k - W), ref shift, ref outAfter);
                if ((fp & mask) == magic)
                    return a + k;
                fpB = (((fpB << 8) & LowMask) | Unsafe.Add(ref p, bStart + k)) ^ Unsafe.Add(ref shift, (nint)(fpB >> TopShift));
            }
            int hitB = -1;
            for (int k = W; k < Span; k++)
            {
                int ia = a + k, ib = bStart + k;
                fp = Step(fp, Unsafe.Add(ref p, ia), Unsafe.Add(ref p, ia - W), ref shift, ref outAfter);
                fpB = Step(fpB, Unsafe.Add(ref p, ib), Unsafe.Add(ref p, ib - W), ref shift, ref outAfter);
                if ((fp & mask) == magic)
                    return ia;
                if ((fpB & mask) == magic && hitB < 0)
                    hitB = ib;
            }
            if (hitB >= 0)
                return hitB;
            fp = fpB;
            a += 2 * Span - W;
        }

        // The tail, one chain.
        for (int j = a; j < end; j++)
        {
            fp = Step(fp, Unsafe.Add(ref p, j), Unsafe.Add(ref p, j - W), ref shift, ref outAfter);
            if ((fp & mask) == magic)
                return j;
        }
        fpRef = fp;
        return -1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Step(ulong fp, byte b, byte oldest, ref ulong shift, ref ulong outAfter)
        => ((((fp << 8) & LowMask) | b) ^ Unsafe.Add(ref outAfter, oldest)) ^ Unsafe.Add(ref shift, (nint)(fp >> TopShift));

    /// <summary>Like <see cref="FindBoundary"/> for data that ends the stream: without a boundary, the whole of it.</summary>
    public int NextChunkLength(ReadOnlySpan<byte> data)
    {
        int n = FindBoundary(data);
        return n < 0 ? data.Length : n;
    }

    /// <summary>A cursor that finds the same boundaries as <see cref="FindBoundary"/> over data fed in any pieces.</summary>
    public RabinChunkStream CreateStream() => new(this);

    /// <summary>One step of the rolling fingerprint as the stream does it (the oldest byte is 0 while the window fills).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong Roll(ulong fp, byte oldest, byte b)
        => ((((fp << 8) & LowMask) | b) ^ OutAfter[oldest]) ^ RabinFingerprint.ShiftTable[(int)(fp >> TopShift)];

    private static ulong[] BuildOutAfter()
    {
        ulong xPow = 1;
        for (int k = 0; k < 8 * W; k++)
            xPow = RabinFingerprint.MultiplyMod(xPow, 2);
        var t = new ulong[256];
        for (int b = 0; b < 256; b++)
            t[b] = RabinFingerprint.MultiplyMod((ulong)b, xPow);
        return t;
    }
}

/// <summary>
/// The streaming form of <see cref="RabinChunker"/>: carries the window (64 bytes), the fingerprint and the
/// current chunk's length from one buffer to the next. One per stream; not thread-safe. Allocates only when created.
/// </summary>
public sealed class RabinChunkStream
{
    private const int W = RabinFingerprint.WindowSize;

    private readonly RabinChunker _chunker;
    private readonly byte[] _window = new byte[W];
    private ulong _fp;
    private long _length;

    internal RabinChunkStream(RabinChunker chunker) => _chunker = chunker;

    /// <summary>Bytes of the current chunk seen so far: at the end of the stream, the last chunk's length (0: none).</summary>
    public long PendingLength => _length;

    /// <summary>
    /// Scans <paramref name="data"/> for the end of the current chunk. Returns true with <paramref name="consumed"/>
    /// the bytes of <paramref name="data"/> up to and including the chunk's last byte (call again with the rest for the
    /// next chunk); or false with all of <paramref name="data"/> consumed into the current chunk.
    /// </summary>
    public bool TryFindBoundary(ReadOnlySpan<byte> data, out int consumed, out long chunkLength)
    {
        ChunkingOptions o = _chunker.Options;
        ulong mask = _chunker.Mask, magic = _chunker.Magic;
        long skipUntil = o.Min - W;
        int i = 0;

        // Bytes before the first window of the chunk are skipped without hashing.
        if (_length < skipUntil)
        {
            int skip = (int)Math.Min(skipUntil - _length, data.Length);
            i = skip;
            _length += skip;
        }

        // The first W hashed bytes of this piece take their oldest byte from the ring (the previous piece's tail,
        // or 0 while the chunk's first window fills); after those, every oldest byte is in this piece.
        ulong fp = _fp;
        byte[] window = _window;
        int ringEnd = Math.Min(data.Length, i + W);
        for (; i < ringEnd; i++)
        {
            int slot = (int)(_length & (W - 1));
            byte b = data[i];
            fp = RabinChunker.Roll(fp, window[slot], b);
            window[slot] = b;
            _length++;
            if (_length >= o.Min && ((fp & mask) == magic || _length == o.Max))
                return Cut(i + 1, out consumed, out chunkLength);
        }
        if (i == data.Length)
        {
            _fp = fp;
            consumed = data.Length;
            chunkLength = 0;
            return false;
        }

        // Here _length ≥ Min (W steps since hashing began at Min − W or later) and data[i − W .. i) are the window.
        int end = (int)Math.Min(data.Length, i + (o.Max - _length));
        int hit = RabinChunker.Scan(ref MemoryMarshal.GetReference(data), i, end, ref fp, mask, magic);
        if (hit >= 0)
        {
            _length += hit - i + 1;
            return Cut(hit + 1, out consumed, out chunkLength);
        }
        _length += end - i;
        if (_length == o.Max)
            return Cut(end, out consumed, out chunkLength);

        // Keep the last W bytes for the next piece, each at its chunk position's slot.
        for (int k = end - W; k < end; k++)
            window[(int)((_length - (end - k)) & (W - 1))] = data[k];
        _fp = fp;
        consumed = data.Length;
        chunkLength = 0;
        return false;
    }

    private bool Cut(int consumedBytes, out int consumed, out long chunkLength)
    {
        consumed = consumedBytes;
        chunkLength = _length;
        Reset();
        return true;
    }

    /// <summary>Starts a new chunk (and forgets the window): at a boundary, or to reuse the stream.</summary>
    public void Reset()
    {
        _fp = 0;
        _length = 0;
        Array.Clear(_window);
    }
}
