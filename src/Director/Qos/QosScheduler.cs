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
    private readonly double[] _classTag = new double[2];
    private readonly int[] _classOutstanding = new int[2];
    private readonly int[] _classWaiting = new int[2];
    private readonly long _activeTicks;
    private int _outstanding;
    private long _timerDue = long.MaxValue;
    private volatile bool _contended = true;

    public QosScheduler(DirectorOptions options, TimeProvider time)
    {
        _options = options;
        _time = time;
        _activeTicks = Math.Max(1, (long)(options.ActiveWindow.TotalSeconds * time.TimestampFrequency));
        _timer = time.CreateTimer(static s => ((QosScheduler)s!).Pump(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public DirectorOptions Options => _options;

    /// <summary>
    /// Whether the appliance's CPU is the scarce resource now (<see cref="CpuLoadMonitor"/> sets it). While it
    /// is, shares are enforced by holding a vDisk or class that ran ahead of a competing one, even if nothing
    /// else waits in the Director: the work a request costs happens mostly outside it (PDU and XDR handling,
    /// data copies), so ordering waiters alone cannot give a competing vDisk its share. While it is not,
    /// the Director is work-conserving and orders only the requests that wait for a bound or a limit.
    /// True until something measures otherwise.
    /// </summary>
    public bool Contended
    {
        get => _contended;
        set
        {
            if (_contended == value)
                return;
            _contended = value;
            if (!value)
                Pump();
        }
    }

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
    public ValueTask<bool> AdmitAsync(QosQueue queue, long bytes, bool write = false)
    {
        QosWaiter waiter;
        lock (_lock)
        {
            if (queue.Removed)
                return new ValueTask<bool>(false);
            long now = _time.GetTimestamp();
            if (queue.Waiting.Count == 0 && CanStartLocked(queue, now))
            {
                StartLocked(queue, bytes, write, now);
                return new ValueTask<bool>(true);
            }
            waiter = _pool.TryPop(out var w) ? w : new QosWaiter(this);
            waiter.Queue = queue;
            waiter.Bytes = bytes;
            waiter.Write = write;
            queue.Waiting.Enqueue(waiter);
            queue._queueDepth = queue.Waiting.Count;
            _classWaiting[(int)queue.Policy.Class]++;
            // Blocked by a bound, a completion will pump; blocked by tokens or a share, only the timer may.
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
        if (!TokensLocked(queue, now))
            return false;
        return !_contended || ShareAllowsLocked(queue, now);
    }

    private static bool TokensLocked(QosQueue queue, long now) =>
        queue.Iops.CanTake(now) && queue.Bandwidth.CanTake(now)
        && (queue.Group is not { } group || (group.Iops.CanTake(now) && group.Bandwidth.CanTake(now)));

    /// <summary>
    /// A vDisk competes for the appliance while it has requests waiting or in service or started one within
    /// <see cref="DirectorOptions.ActiveWindow"/>, and its own limits would let it start one now (a vDisk held
    /// back by its limit does not hold others back).
    /// </summary>
    private bool CompetingLocked(QosQueue q, long now) =>
        (q.Waiting.Count > 0 || q.Outstanding > 0 || now - q.LastStart <= _activeTicks) && TokensLocked(q, now);

    private bool ClassCompetingLocked(IoPriority cls, long now)
    {
        for (int i = 0; i < _queues.Count; i++)
            if (_queues[i].Policy.Class == cls && CompetingLocked(_queues[i], now))
                return true;
        return false;
    }

    /// <summary>
    /// Proportional share under contention: a low request waits while the low class is more than
    /// <see cref="DirectorOptions.ShareSlack"/> ahead of the competing high class on the class clock (where
    /// it advances by cost / <see cref="DirectorOptions.LowMinShare"/> and high by cost / (1 - share)), and
    /// any request waits while its vDisk is that far ahead of a competing vDisk of its class on the fair-share
    /// clock (cost / weight). The vDisk behind goes next, so over time each gets its share of the cost.
    /// </summary>
    private bool ShareAllowsLocked(QosQueue queue, long now)
    {
        IoPriority cls = queue.Policy.Class;
        if (cls == IoPriority.Low && ClassCompetingLocked(IoPriority.High, now))
        {
            if (_options.LowMinShare <= 0 || _classTag[1] > _classTag[0] + _options.ShareSlack)
                return false;
        }
        double limit = queue.VirtualFinish - _options.ShareSlack;
        for (int i = 0; i < _queues.Count; i++)
        {
            QosQueue q = _queues[i];
            if (q != queue && q.Policy.Class == cls && q.VirtualFinish < limit && CompetingLocked(q, now))
                return false;
        }
        return true;
    }

    /// <summary>
    /// What a request costs on the share clocks: one plus its bytes in units of <see cref="DirectorOptions.CostBytes"/>,
    /// a written byte counting twice (the journal takes it, then the drainer moves it to its extent group).
    /// </summary>
    private double Cost(long bytes, bool write) => 1.0 + (double)bytes * (write ? 2 : 1) / _options.CostBytes;

    private void StartLocked(QosQueue queue, long bytes, bool write, long now)
    {
        int cls = (int)queue.Policy.Class;
        double cost = Cost(bytes, write);
        double startTag = queue.VirtualFinish;
        queue.VirtualFinish = startTag + cost / queue.Policy.Weight;
        queue.LastStart = now;
        // A vDisk that is not competing (idle, or held by its own limit) does not bank credit: it is pulled
        // up to within the slack of the vDisks that run, so it cannot hold them back when it returns.
        double floor = startTag - _options.ShareSlack;
        for (int i = 0; i < _queues.Count; i++)
        {
            QosQueue q = _queues[i];
            if (q != queue && q.Policy.Class == queue.Policy.Class && q.VirtualFinish < floor && (!_contended || !CompetingLocked(q, now)))
                q.VirtualFinish = floor;
        }
        double share = Math.Clamp(_options.LowMinShare, 1e-6, 0.5);
        double classStart = _classTag[cls];
        _classTag[cls] = classStart + cost / (cls == 0 ? 1 - share : share);
        int other = 1 - cls;
        double classFloor = classStart - _options.ShareSlack;
        if (_classTag[other] < classFloor && (!_contended || !ClassCompetingLocked((IoPriority)other, now)))
            _classTag[other] = classFloor;
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
            // Both classes may go: high first, unless low is behind on the class clock (its minimum share).
            chosen = _options.LowMinShare > 0 && _classTag[1] < _classTag[0] ? low : high;
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
        StartLocked(chosen, w.Bytes, w.Write, now);
        return w;
    }

    /// <summary>The vDisk of a class whose head request may start now and has the smallest start tag.</summary>
    private QosQueue? BestLocked(IoPriority cls, long now)
    {
        if (_classWaiting[(int)cls] == 0)
            return null;
        QosQueue? best = null;
        double bestTag = double.MaxValue;
        for (int i = 0; i < _queues.Count; i++)
        {
            QosQueue q = _queues[i];
            if (q.Policy.Class != cls || q.Waiting.Count == 0)
                continue;
            double tag = q.VirtualFinish;
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
        {
            if (!_contended)
                return;
            wait = _activeTicks + 1; // held by a share (or a bound): look again once an idle competitor has lapsed
        }
        long due = now + wait;
        if (due >= _timerDue || _disposed)
            return;
        _timerDue = due;
        _timer.Change(TimeSpan.FromSeconds((double)wait / _time.TimestampFrequency), Timeout.InfiniteTimeSpan);
    }

    internal void Return(QosWaiter waiter)
    {
        lock (_lock)
            _pool.Push(waiter);
    }

    private volatile bool _disposed;

    public void Dispose()
    {
        _disposed = true;
        _timer.Dispose();
    }
}
