using System.Runtime.InteropServices;

namespace StorageAppliance.Common.Net;

/// <summary>
/// Tells a listener whether the process still has descriptors to spare. Connections are not the only
/// users of descriptors: the journal, extent groups, SQLite and the runtime itself open files too, and
/// when a flood of connections takes the last descriptor those fail instead (the runtime has died of
/// it). A listener refuses new connections while fewer than <see cref="Reserve"/> descriptors are
/// left below the soft RLIMIT_NOFILE (read at every call, so a limit lowered while running counts at
/// once; open descriptors are counted at most every quarter second).
/// </summary>
public static class DescriptorHeadroom
{
    private const int RlimitNofile = 7; // Linux (x86-64, arm64)
    private static long s_checkedAt = -1_000_000; // TickCount64 counts from boot; long.MinValue would overflow the subtraction
    private static long s_acceptedSince;
    private static long s_open;

    /// <summary>Descriptors kept free for everything that is not a client connection.</summary>
    public static long Reserve(long limit) => Math.Max(64, limit / 16);

    /// <summary>True when a new connection would eat into the reserve; <paramref name="open"/> and <paramref name="limit"/> say why.</summary>
    public static bool IsLow(out long open, out long limit)
    {
        // The limit is one cheap system call, read every time: a limit lowered while running must count
        // from the next connection on, not after the next count of open descriptors (a burst of
        // connections inside that window took every descriptor before the listener knew of the new limit).
        limit = ReadLimit();
        if (limit <= 0)
        {
            open = 0;
            return false;
        }
        long now = Environment.TickCount64;
        if (now - Volatile.Read(ref s_checkedAt) >= 250)
        {
            Volatile.Write(ref s_checkedAt, now);
            Interlocked.Exchange(ref s_acceptedSince, 0);
            Measure(limit);
        }
        // Each call is for a connection just accepted: a burst between two measurements counts too.
        open = s_open + Interlocked.Increment(ref s_acceptedSince);
        return limit - open < Reserve(limit);
    }

    private static long ReadLimit()
    {
        if (!OperatingSystem.IsLinux() || getrlimit(RlimitNofile, out var rl) != 0 || rl.Current >= long.MaxValue)
            return 0;
        return (long)rl.Current;
    }

    private static void Measure(long limit)
    {
        long count = 0;
        try
        {
            foreach (var _ in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
                count++;
        }
        catch (IOException)
        {
            // Listing needs a descriptor itself: failing to get one is the answer.
            count = limit;
        }
        catch (UnauthorizedAccessException)
        {
            count = 0;
        }
        s_open = count;
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
