namespace StorageAppliance.Director.Qos;

/// <summary>
/// A fixed-bucket latency histogram updated with one interlocked increment (lock-free, no allocation):
/// buckets are powers of two of microseconds split in four, so a percentile is within 19% of the truth
/// from 1 µs to about 35 minutes.
/// </summary>
public sealed class LatencyHistogram
{
    private const int SubBits = 2;
    private const int Buckets = 32 << SubBits;
    private readonly long[] _counts = new long[Buckets];
    private long _count;
    private long _sumMicros;

    public void Record(long micros)
    {
        if (micros < 0)
            micros = 0;
        Interlocked.Increment(ref _counts[IndexOf(micros)]);
        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _sumMicros, micros);
    }

    internal static int IndexOf(long micros)
    {
        if (micros < (1 << SubBits))
            return (int)micros;
        int msb = 63 - (int)long.LeadingZeroCount(micros);
        int sub = (int)(micros >> (msb - SubBits)) & ((1 << SubBits) - 1);
        int index = ((msb - SubBits + 1) << SubBits) + sub;
        return Math.Min(index, Buckets - 1);
    }

    /// <summary>The largest value a bucket holds (what a percentile reports).</summary>
    internal static long UpperBound(int index)
    {
        if (index < (1 << SubBits))
            return index;
        int msb = (index >> SubBits) + SubBits - 1;
        int sub = index & ((1 << SubBits) - 1);
        return ((long)((1 << SubBits) + sub + 1) << (msb - SubBits)) - 1;
    }

    public LatencySummary Summarize()
    {
        var counts = new long[Buckets];
        long total = 0;
        for (int i = 0; i < Buckets; i++)
            total += counts[i] = Volatile.Read(ref _counts[i]);
        long sum = Volatile.Read(ref _sumMicros);
        return new LatencySummary(total, total == 0 ? 0 : sum / total,
            Percentile(counts, total, 0.50), Percentile(counts, total, 0.90), Percentile(counts, total, 0.99), Percentile(counts, total, 0.999));
    }

    private static long Percentile(long[] counts, long total, double p)
    {
        if (total == 0)
            return 0;
        long rank = (long)Math.Ceiling(total * p);
        long seen = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            seen += counts[i];
            if (seen >= rank)
                return UpperBound(i);
        }
        return UpperBound(counts.Length - 1);
    }
}

/// <summary>Latency percentiles in microseconds (bucket upper bounds) over <see cref="Count"/> requests.</summary>
public sealed record LatencySummary(long Count, long MeanMicros, long P50Micros, long P90Micros, long P99Micros, long P999Micros);
