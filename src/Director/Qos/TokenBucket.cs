namespace StorageAppliance.Director.Qos;

/// <summary>
/// A token bucket with burst, on the scheduler's clock (so tests drive it with a virtual one). A request
/// may go while the bucket holds any token at all and then takes its full cost, possibly going into
/// debt: a request larger than the burst still passes, and the debt delays the next ones, so the
/// long-run rate holds for any request size. Not thread-safe: the scheduler's lock guards it.
/// </summary>
internal struct TokenBucket
{
    private double _rate;      // tokens per timestamp tick
    private double _burst;
    private double _tokens;
    private long _last;

    public bool Enabled => _rate > 0;

    /// <summary>Sets the rate (tokens per second) and burst; 0 disables. A new bucket starts full; a changed one keeps its tokens, capped at the new burst.</summary>
    public void Configure(double perSecond, double burst, long now, long frequency)
    {
        bool fresh = _rate <= 0;
        _rate = perSecond / frequency;
        _burst = burst;
        _tokens = fresh ? burst : Math.Min(_tokens, burst);
        _last = now;
    }

    private void Refill(long now)
    {
        if (now > _last)
        {
            _tokens = Math.Min(_burst, _tokens + (now - _last) * _rate);
            _last = now;
        }
    }

    public bool CanTake(long now)
    {
        if (!Enabled)
            return true;
        Refill(now);
        return _tokens > 0;
    }

    public void Take(double cost)
    {
        if (Enabled)
            _tokens -= cost;
    }

    /// <summary>Ticks until <see cref="CanTake"/> becomes true (0 when it is already).</summary>
    public long TicksUntilAvailable(long now)
    {
        if (!Enabled)
            return 0;
        Refill(now);
        if (_tokens > 0)
            return 0;
        // One tick past the point where the bucket is back at zero.
        return (long)Math.Ceiling(-_tokens / _rate) + 1;
    }
}
