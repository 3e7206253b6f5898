namespace StorageAppliance.Common.Net;

/// <summary>
/// Paces an accept loop after accept errors. When descriptors run out (EMFILE, ENFILE) every accept
/// fails at once while the pending connection stays queued, so a loop that simply retries spins a core
/// and writes a log line per turn; this waits between tries, doubling from <see cref="FirstDelay"/> up
/// to <see cref="MaxDelay"/>, and tells the caller to log once when an episode of failures starts and
/// once when accepting works again.
/// </summary>
public sealed class AcceptBackoff
{
    public static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(10);

    public static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(1);

    private TimeSpan _delay;
    private long _episodeStart;

    /// <summary>Failures in the current episode (0 when accepting works).</summary>
    public long Failures { get; private set; }

    /// <summary>Total failures ever seen (for tests and stats).</summary>
    public long TotalFailures { get; private set; }

    /// <summary>Records a failed accept; returns how long to wait before the next try. <paramref name="episodeStarted"/> is true for the first failure of an episode.</summary>
    public TimeSpan Failed(out bool episodeStarted)
    {
        episodeStarted = Failures == 0;
        if (episodeStarted)
        {
            _episodeStart = Environment.TickCount64;
            _delay = FirstDelay;
        }
        else
        {
            _delay = _delay * 2 > MaxDelay ? MaxDelay : _delay * 2;
        }
        Failures++;
        TotalFailures++;
        return _delay;
    }

    /// <summary>Records a successful accept; true (with the episode's failures and length) when it ends an episode of failures.</summary>
    public bool Succeeded(out long failures, out TimeSpan lasted)
    {
        failures = Failures;
        lasted = TimeSpan.Zero;
        if (Failures == 0)
            return false;
        lasted = TimeSpan.FromMilliseconds(Environment.TickCount64 - _episodeStart);
        Failures = 0;
        return true;
    }
}
