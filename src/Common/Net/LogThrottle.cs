namespace StorageAppliance.Common.Net;

/// <summary>
/// Lets one log line through per interval and counts the ones held back, so a flood of refused
/// connections or broken records costs a line every few seconds, not one per event, and the line that
/// does go out says how many were folded into it.
/// </summary>
public sealed class LogThrottle
{
    private readonly long _intervalMs;
    private readonly object _lock = new();
    private long _nextAt = long.MinValue;
    private long _suppressed;

    public LogThrottle(TimeSpan interval) => _intervalMs = (long)interval.TotalMilliseconds;

    /// <summary>True when this event should be logged; <paramref name="suppressed"/> is how many were held back since the last logged one.</summary>
    public bool ShouldLog(out long suppressed)
    {
        long now = Environment.TickCount64;
        lock (_lock)
        {
            if (now < _nextAt)
            {
                _suppressed++;
                suppressed = 0;
                return false;
            }
            _nextAt = now + _intervalMs;
            suppressed = _suppressed;
            _suppressed = 0;
            return true;
        }
    }
}
