namespace StorageAppliance.Director.Qos;

/// <summary>
/// Admission control and the QoS queues of the I/O Director (seed 003, FIG. 5): "Multiple requests
/// queues can be established for requests having different priority levels. For example, a high
/// priority queue 506 can be established to queue requests that should be handled with special
/// dispatch. A low priority queue 508 can be established to hold requests that correspond to lower
/// priority requests or requesters."
/// </summary>
/// <remarks>
/// <para>A request is admitted at once (no allocation, one uncontended lock) when its vDisk has nobody
/// waiting, its token buckets hold a token, and the outstanding bounds (its vDisk's, its class's and the
/// Director's) leave room. Otherwise it waits in its vDisk's FIFO, and <see cref="Pump"/> dispatches
/// waiters when a request completes or a token bucket refills (a timer on the scheduler's clock).</para>
/// <para>Order of dispatch: strict priority, high over low, except that the low class gets
/// <see cref="DirectorOptions.LowMinShare"/> of the dispatches made while both classes wait (a credit
/// counter, so it is exact and deterministic); within a class, start-time fair queuing over the vDisks
/// with weights (each request costs 1/weight of virtual time, so backlogged vDisks get requests in
/// proportion to their weights). Cost is per request, so weights share IOPS.</para>
/// <para>Seed 003: "the identify and/or type of request/requester is checked to see if the I/O request
/// 502 should be handled in any particular way to satisfy the QoS parameters. If the I/O request 502 is
/// a high priority request, then it is added to the high priority queue 506. If the I/O request 502 is a
/// low priority request, then it is added to the low priority queue 508." Here the class comes from the
/// vDisk's policy.</para>
/// </remarks>
public sealed class QosScheduler : IDisposable
{
    private readonly object _lock = new();
    private readonly TimeProvider _time;
    private readonly DirectorOptions _options;
    private readonly List<QosQueue> _queues = [];
    private readonly Dictionary<string, QosGroup> _groups = new(StringComparer.Ordinal);
    private readonly Stack<QosWaiter> _pool = new();
    private readonly ITimer _timer;
    private readonly double[] _virtualTime = new double[2];
    private readonly int[] _classOutstanding = new int[2];
    private readonly int[] _classWaiting = new int[2];
    private int _outstanding;
    private double _lowCredit;
    private long _timerDue = long.MaxValue;

    public QosScheduler(DirectorOptions options, TimeProvider time)
    {
        _options = options;
        _time = time;
        _timer = time.CreateTimer(static s => ((QosScheduler)s!).Pump(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public DirectorOptions Options => _options;

    /// <summary>Requests in service across every vDisk.</summary>
    public int Outstanding => Volatile.Read(ref _outstanding);

    public QosQueue Add(string name, QosPolicy policy)
    {
        var queue = new QosQueue(name, QosPolicy.Default);
        lock (_lock)
        {
            _queues.Add(queue);
            ApplyLocked(queue, policy);
        }
        return queue;
    }

    /// <summary>Takes a vDisk out of scheduling; its waiting requests complete as not admitted.</summary>
    public void Remove(QosQueue queue)
    {
        lock (_lock)
        {
            if (queue.Removed)
                return;
            queue.Removed = true;
            _queues.Remove(queue);
            _classWaiting[(int)queue.Policy.Class] -= queue.Waiting.Count;
        }
        while (true)
        {
            QosWaiter? w;
            lock (_lock)
            {
                if (!queue.Waiting.TryDequeue(out w))
                    break;
                queue._queueDepth = queue.Waiting.Count;
            }
            w.Admit(false);
        }
        Pump();
    }

    /// <summary>Changes a vDisk's policy at once; waiting requests are re-examined under it.</summary>
    public void SetPolicy(QosQueue queue, QosPolicy policy)
    {
        if (policy.Validate() is { } error)
            throw new ArgumentException(error, nameof(policy));
        lock (_lock)
            ApplyLocked(queue, policy);
        Pump();
    }

    /// <summary>
    /// Sets the IOPS and bandwidth limits (with bursts) a group of vDisks shares, creating the group on first
    /// use; the class, weight and max outstanding of <paramref name="limits"/> are not used.
    /// </summary>
    public QosGroup SetGroupLimits(string name, QosPolicy limits)
    {
        if (limits.Validate() is { } error)
            throw new ArgumentException(error, nameof(limits));
        lock (_lock)
        {
            if (!_groups.TryGetValue(name, out var group))
                _groups[name] = group = new QosGroup(name);
            long now = _time.GetTimestamp();
            group.Iops.Configure(limits.IopsLimit, limits.EffectiveIopsBurst, now, _time.TimestampFrequency);
            group.Bandwidth.Configure(limits.BandwidthLimit, limits.EffectiveBandwidthBurst, now, _time.TimestampFrequency);
            group.Limits = limits;
        }
        Pump();
        return _groups[name];
    }

    /// <summary>Puts a vDisk in a group (its requests then also draw from the group's buckets), or takes it out (null).</summary>
    public void SetGroup(QosQueue queue, string? group)
    {
        lock (_lock)
            queue.Group = group is null ? null : _groups.TryGetValue(group, out var g) ? g : _groups[group] = new QosGroup(group);
        Pump();
    }

    private void ApplyLocked(QosQueue queue, QosPolicy policy)
    {
        int from = (int)queue.Policy.Class, to = (int)policy.Class;
        if (from != to && !queue.Removed)
        {
            _classOutstanding[from] -= queue.Outstanding;
            _classOutstanding[to] += queue.Outstanding;
            _classWaiting[from] -= queue.Waiting.Count;
            _classWaiting[to] += queue.Waiting.Count;
        }
        long now = _time.GetTimestamp();
        queue.Iops.Configure(policy.IopsLimit, policy.EffectiveIopsBurst, now, _time.TimestampFrequency);
        queue.Bandwidth.Configure(policy.BandwidthLimit, policy.EffectiveBandwidthBurst, now, _time.TimestampFrequency);
        queue.Policy = policy;
    }

    /// <summary>
    /// Admits a request of <paramref name="bytes"/> to <paramref name="queue"/>'s vDisk: completed (true)
    /// when it may start now, else pending until it may (true) or its vDisk is removed (false). Every
    /// admitted request must be followed by one <see cref="Release"/> when it completes.
    /// </summary>
    public ValueTask<bool> AdmitAsync(QosQueue queue, long bytes)
    {
        QosWaiter waiter;
        lock (_lock)
        {
            if (queue.Removed)
                return new ValueTask<bool>(false);
            long now = _time.GetTimestamp();
            if (queue.Waiting.Count == 0 && CanStartLocked(queue, now))
            {
                StartLocked(queue, bytes);
                return new ValueTask<bool>(true);
            }
            waiter = _pool.TryPop(out var w) ? w : new QosWaiter(this);
            waiter.Queue = queue;
            waiter.Bytes = bytes;
            queue.Waiting.Enqueue(waiter);
            queue._queueDepth = queue.Waiting.Count;
            _classWaiting[(int)queue.Policy.Class]++;
            // Blocked by a bound, a completion will pump; blocked by tokens, only the timer will.
            if (queue.Waiting.Count == 1)
                ArmTimerLocked(queue, now);
        }
        return new ValueTask<bool>(waiter, waiter.Version);
    }

    /// <summary>A request admitted to <paramref name="queue"/> completed: frees its slot and dispatches waiters.</summary>
    public void Release(QosQueue queue)
    {
        bool waiting;
        lock (_lock)
        {
            queue.Outstanding--;
            _outstanding--;
            _classOutstanding[(int)queue.Policy.Class]--;
            waiting = _classWaiting[0] + _classWaiting[1] > 0;
        }
        if (waiting)
            Pump();
    }

    /// <summary>Dispatches every waiting request that may start now, in priority and fair-share order.</summary>
    public void Pump()
    {
        while (true)
        {
            QosWaiter? next;
            lock (_lock)
            {
                long now = _time.GetTimestamp();
                next = PickLocked(now);
                if (next is null)
                {
                    RearmTimerLocked(now);
                    return;
                }
            }
            next.Admit(true);
        }
    }

    private bool HighActiveLocked => _classOutstanding[0] > 0 || _classWaiting[0] > 0;

    private bool CanStartLocked(QosQueue queue, long now)
    {
        if (_outstanding >= _options.MaxOutstanding)
            return false;
        QosPolicy policy = queue.Policy;
        if (policy.MaxOutstanding > 0 && queue.Outstanding >= policy.MaxOutstanding)
            return false;
        if (policy.Class == IoPriority.Low && HighActiveLocked && _classOutstanding[1] >= _options.LowMaxOutstandingWhenContended)
            return false;
        if (queue.Group is { } group && !(group.Iops.CanTake(now) && group.Bandwidth.CanTake(now)))
            return false;
        return queue.Iops.CanTake(now) && queue.Bandwidth.CanTake(now);
    }

    private void StartLocked(QosQueue queue, long bytes)
    {
        int cls = (int)queue.Policy.Class;
        double startTag = Math.Max(_virtualTime[cls], queue.VirtualFinish);
        queue.VirtualFinish = startTag + 1.0 / queue.Policy.Weight;
        _virtualTime[cls] = startTag;
        queue.Iops.Take(1);
        queue.Bandwidth.Take(bytes);
        if (queue.Group is { } group)
        {
            group.Iops.Take(1);
            group.Bandwidth.Take(bytes);
        }
        queue.Outstanding++;
        _outstanding++;
        _classOutstanding[cls]++;
    }

    private QosWaiter? PickLocked(long now)
    {
        if (_classWaiting[0] + _classWaiting[1] == 0)
            return null;
        QosQueue? high = BestLocked(IoPriority.High, now);
        QosQueue? low = BestLocked(IoPriority.Low, now);
        QosQueue? chosen;
        if (high is not null && low is not null)
        {
            // Both classes wait: high goes first, but low earns its minimum share.
            _lowCredit += _options.LowMinShare;
            if (_lowCredit >= 1)
            {
                _lowCredit -= 1;
                chosen = low;
            }
            else
            {
                chosen = high;
            }
        }
        else
        {
            chosen = high ?? low;
        }
        if (chosen is null)
            return null;
        QosWaiter w = chosen.Waiting.Dequeue();
        chosen._queueDepth = chosen.Waiting.Count;
        _classWaiting[(int)chosen.Policy.Class]--;
        StartLocked(chosen, w.Bytes);
        return w;
    }

    /// <summary>The vDisk of a class whose head request may start now and has the smallest start tag.</summary>
    private QosQueue? BestLocked(IoPriority cls, long now)
    {
        if (_classWaiting[(int)cls] == 0)
            return null;
        QosQueue? best = null;
        double bestTag = double.MaxValue;
        double vt = _virtualTime[(int)cls];
        for (int i = 0; i < _queues.Count; i++)
        {
            QosQueue q = _queues[i];
            if (q.Policy.Class != cls || q.Waiting.Count == 0)
                continue;
            double tag = Math.Max(vt, q.VirtualFinish);
            if (tag < bestTag && CanStartLocked(q, now))
            {
                best = q;
                bestTag = tag;
            }
        }
        return best;
    }

    private void RearmTimerLocked(long now)
    {
        _timerDue = long.MaxValue;
        for (int i = 0; i < _queues.Count; i++)
            if (_queues[i].Waiting.Count > 0)
                ArmTimerLocked(_queues[i], now);
    }

    private void ArmTimerLocked(QosQueue queue, long now)
    {
        long wait = Math.Max(queue.Iops.TicksUntilAvailable(now), queue.Bandwidth.TicksUntilAvailable(now));
        if (queue.Group is { } group)
            wait = Math.Max(wait, Math.Max(group.Iops.TicksUntilAvailable(now), group.Bandwidth.TicksUntilAvailable(now)));
        if (wait <= 0)
            return;
        long due = now + wait;
        if (due >= _timerDue)
            return;
        _timerDue = due;
        _timer.Change(TimeSpan.FromSeconds((double)wait / _time.TimestampFrequency), Timeout.InfiniteTimeSpan);
    }

    internal void Return(QosWaiter waiter)
    {
        lock (_lock)
            _pool.Push(waiter);
    }

    public void Dispose() => _timer.Dispose();
}
