namespace StorageAppliance.Director.Tests;

/// <summary>
/// A virtual clock for the scheduler: time moves only when a test advances it, and timers due by then
/// fire synchronously, so token-bucket tests do not depend on the wall clock.
/// </summary>
internal sealed class ManualTime : TimeProvider
{
    private readonly List<ManualTimer> _timers = [];
    private long _now = 1_000_000;

    public override long TimestampFrequency => 1_000_000;

    public override long GetTimestamp() => _now;

    public void Advance(TimeSpan by)
    {
        _now += (long)(by.TotalSeconds * TimestampFrequency);
        foreach (var t in _timers.ToArray())
            t.FireIfDue(_now);
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        timer.Change(dueTime, period);
        _timers.Add(timer);
        return timer;
    }

    private sealed class ManualTimer(ManualTime time, TimerCallback callback, object? state) : ITimer
    {
        private long _due = long.MaxValue;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            _due = dueTime == Timeout.InfiniteTimeSpan ? long.MaxValue : time._now + (long)(dueTime.TotalSeconds * time.TimestampFrequency);
            return true;
        }

        public void FireIfDue(long now)
        {
            if (_due > now)
                return;
            _due = long.MaxValue;
            callback(state);
        }

        public void Dispose() => _due = long.MaxValue;

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
