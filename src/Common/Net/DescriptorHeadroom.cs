using System.Runtime.InteropServices;

namespace StorageAppliance.Common.Net;

/// <summary>
/// Tells a listener whether the process still has descriptors to spare. Connections are not the only
/// users of descriptors: the journal, extent groups, SQLite and the runtime itself open files too, and
/// when a flood of connections takes the last descriptor those fail instead (the runtime has died of
/// it). A listener refuses new connections while fewer than <see cref="Reserve"/> descriptors are
/// left below the soft RLIMIT_NOFILE, read again at most every quarter second, so a limit lowered
/// while running counts as well.
/// </summary>
public static class DescriptorHeadroom
{
    private const int RlimitNofile = 7; // Linux (x86-64, arm64)
    private static long s_checkedAt = -1_000_000; // TickCount64 counts from boot; long.MinValue would overflow the subtraction
    private static long s_acceptedSince;
    private static long s_open;
    private static long s_limit;

    /// <summary>Descriptors kept free for everything that is not a client connection.</summary>
    public static long Reserve(long limit) => Math.Max(64, limit / 16);

    /// <summary>True when a new connection would eat into the reserve; <paramref name="open"/> and <paramref name="limit"/> say why.</summary>
    public static bool IsLow(out long open, out long limit)
    {
        long now = Environment.TickCount64;
        if (now - Volatile.Read(ref s_checkedAt) >= 250)
        {
            Volatile.Write(ref s_checkedAt, now);
            Interlocked.Exchange(ref s_acceptedSince, 0);
            Measure();
        }
        // Each call is for a connection just accepted: a burst between two measurements counts too.
        open = s_open + Interlocked.Increment(ref s_acceptedSince);
        limit = s_limit;
        return s_limit > 0 && limit - open < Reserve(limit);
    }

    private static void Measure()
    {
        if (!OperatingSystem.IsLinux() || getrlimit(RlimitNofile, out var rl) != 0 || rl.Current >= long.MaxValue)
        {
            s_limit = 0;
            return;
        }
        long count = 0;
        try
        {
            foreach (var _ in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
                count++;
        }
        catch (IOException)
        {
            // Listing needs a descriptor itself: failing to get one is the answer.
            count = (long)rl.Current;
        }
        catch (UnauthorizedAccessException)
        {
            s_limit = 0;
            return;
        }
        s_open = count;
        s_limit = (long)rl.Current;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int getrlimit(int resource, out RLimit limit);
}
