using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;
using StorageAppliance.Director.Qos;

namespace StorageAppliance.Director.Tests;

/// <summary>
/// The Director's admission control and QoS queues, on a virtual clock: every outcome is decided by the
/// scheduler's arithmetic, never by how fast the machine runs the test.
/// </summary>
public sealed class QosSchedulerTests
{
    private ManualTime _time = null!;

    [SetUp]
    public void SetUp() => _time = new ManualTime();

    private QosScheduler NewScheduler(int maxOutstanding = 64, double lowMinShare = 0.1, int lowContended = 4) =>
        new(new DirectorOptions { MaxOutstanding = maxOutstanding, LowMinShare = lowMinShare, LowMaxOutstandingWhenContended = lowContended }, _time);

    /// <summary>Requests of one vDisk, admitted in FIFO order.</summary>
    private sealed class Backlog(QosScheduler scheduler, QosQueue queue)
    {
        private readonly Queue<ValueTask<bool>> _pending = new();
        public QosQueue Queue => queue;
        public int Admitted;

        public void Submit(int count, long bytes = 4096)
        {
            for (int i = 0; i < count; i++)
            {
                var t = scheduler.AdmitAsync(queue, bytes);
                if (t.IsCompleted && _pending.Count == 0)
                {
                    Assert.That(t.Result, Is.True);
                    Admitted++;
                }
                else
                {
                    _pending.Enqueue(t);
                }
            }
        }

        /// <summary>Counts the waiters that have been admitted since the last call.</summary>
        public int Collect()
        {
            int n = 0;
            while (_pending.Count > 0 && _pending.Peek().IsCompleted)
            {
                Assert.That(_pending.Dequeue().Result, Is.True);
                n++;
            }
            Admitted += n;
            return n;
        }

        public int Waiting => _pending.Count;
    }

    /// <summary>With one slot, releases the request in service <paramref name="rounds"/> times and counts who goes next.</summary>
    private static void Drive(QosScheduler scheduler, int rounds, params Backlog[] backlogs)
    {
        // The slot is held by whichever backlog was admitted last; track it to release the right queue.
        QosQueue inService = backlogs.First(b => b.Admitted > 0).Queue;
        for (int i = 0; i < rounds; i++)
        {
            scheduler.Release(inService);
            int admitted = 0;
            foreach (var b in backlogs)
            {
                int n = b.Collect();
                if (n > 0)
                    inService = b.Queue;
                admitted += n;
            }
            Assert.That(admitted, Is.EqualTo(1), $"round {i}: one slot frees, one waiter goes");
        }
    }

    [Test]
    public void Weights_share_requests_within_a_class()
    {
        var s = NewScheduler(maxOutstanding: 1);
        var a = new Backlog(s, s.Add("a", new QosPolicy(Weight: 3)));
        var b = new Backlog(s, s.Add("b", new QosPolicy(Weight: 1)));
        a.Submit(1);
        a.Submit(2000);
        b.Submit(2000);
        Drive(s, 2000, a, b);
        double ratio = (double)(a.Admitted - 1) / b.Admitted;
        Assert.That(ratio, Is.EqualTo(3.0).Within(3).Percent, $"a {a.Admitted - 1}, b {b.Admitted}");
    }

    [Test]
    public void Three_vdisks_share_by_weight()
    {
        var s = NewScheduler(maxOutstanding: 1);
        var a = new Backlog(s, s.Add("a", new QosPolicy(Weight: 5)));
        var b = new Backlog(s, s.Add("b", new QosPolicy(Weight: 3)));
        var c = new Backlog(s, s.Add("c", new QosPolicy(Weight: 2)));
        a.Submit(1);
        a.Submit(3000);
        b.Submit(3000);
        c.Submit(3000);
        Drive(s, 3000, a, b, c);
        Assert.That(a.Admitted - 1, Is.EqualTo(1500).Within(2).Percent);
        Assert.That(b.Admitted, Is.EqualTo(900).Within(2).Percent);
        Assert.That(c.Admitted, Is.EqualTo(600).Within(2).Percent);
    }

    [Test]
    public void High_class_goes_first_when_low_has_no_minimum_share()
    {
        var s = NewScheduler(maxOutstanding: 1, lowMinShare: 0, lowContended: 64);
        var high = new Backlog(s, s.Add("high", new QosPolicy(IoPriority.High)));
        var low = new Backlog(s, s.Add("low", new QosPolicy(IoPriority.Low)));
        low.Submit(1);
        low.Submit(100);
        high.Submit(100);
        Drive(s, 100, low, high);
        Assert.That(high.Admitted, Is.EqualTo(100), "every high request before any waiting low one");
        Assert.That(low.Admitted, Is.EqualTo(1));
        s.Release(high.Queue);
        Assert.That(low.Collect(), Is.EqualTo(0), "high still counts as competing within its active window");
        _time.Advance(TimeSpan.FromMilliseconds(11));
        Assert.That(low.Collect(), Is.EqualTo(1), "once high has been idle for the window, low goes");
        Drive(s, 99, low, high);
        Assert.That(low.Admitted, Is.EqualTo(101));
    }

    [Test]
    public void Low_class_keeps_its_minimum_share()
    {
        var s = NewScheduler(maxOutstanding: 1, lowMinShare: 0.2, lowContended: 64);
        var high = new Backlog(s, s.Add("high", new QosPolicy(IoPriority.High, Weight: 100)));
        var low = new Backlog(s, s.Add("low", new QosPolicy(IoPriority.Low)));
        high.Submit(1);
        high.Submit(2000);
        low.Submit(2000);
        Drive(s, 1000, high, low);
        Assert.That(low.Admitted, Is.EqualTo(200).Within(1), "a fifth of the dispatches while both classes wait");
    }

    [Test]
    public void Low_class_is_capped_while_high_is_active_and_not_when_idle()
    {
        var s = NewScheduler(maxOutstanding: 64, lowContended: 4);
        s.Contended = false; // the cap applies whether or not the CPU is contended; shares are tested below
        var high = new Backlog(s, s.Add("high", QosPolicy.Default));
        var low = new Backlog(s, s.Add("low", new QosPolicy(IoPriority.Low)));
        low.Submit(10);
        Assert.That(low.Admitted, Is.EqualTo(10), "high idle: low uses the Director's bound");
        for (int i = 0; i < 10; i++)
            s.Release(low.Queue);
        high.Submit(1);
        low.Submit(10);
        Assert.That(low.Admitted, Is.EqualTo(14), "high active: low gets its contended cap");
        s.Release(high.Queue);
        s.Release(low.Queue);
        Assert.That(low.Collect(), Is.EqualTo(6), "high gone idle: the rest may go");
    }

    [Test]
    public void Iops_limit_holds_after_the_burst()
    {
        var s = NewScheduler();
        var b = new Backlog(s, s.Add("b", new QosPolicy(IopsLimit: 1000, IopsBurst: 50)));
        b.Submit(5000);
        Assert.That(b.Admitted, Is.EqualTo(50), "the burst goes at once");
        int released = 0;
        for (int ms = 0; ms < 2000; ms++)
        {
            while (released < b.Admitted)
            {
                s.Release(b.Queue);
                released++;
            }
            _time.Advance(TimeSpan.FromMilliseconds(1));
            b.Collect();
        }
        // Two seconds at 1,000/s after a burst of 50.
        Assert.That(b.Admitted, Is.EqualTo(2050).Within(2));
    }

    [Test]
    public void Iops_limit_is_reached_through_the_timer_alone()
    {
        var s = NewScheduler();
        var b = new Backlog(s, s.Add("b", new QosPolicy(IopsLimit: 100, IopsBurst: 1)));
        b.Submit(1000);
        Assert.That(b.Admitted, Is.EqualTo(1));
        for (int i = 0; i < 100; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(10));
            b.Collect();
        }
        // Never released: the limit, not the outstanding bound (64), is what spaces them... until 64 are in service.
        Assert.That(b.Admitted, Is.EqualTo(64));
    }

    [Test]
    public void Bandwidth_limit_holds_for_large_requests()
    {
        var s = NewScheduler();
        var b = new Backlog(s, s.Add("b", new QosPolicy(BandwidthLimit: 10 << 20, BandwidthBurst: 64 << 10)));
        b.Submit(2000, 64 << 10);
        int released = 0;
        for (int ms = 0; ms < 1000; ms++)
        {
            while (released < b.Admitted)
            {
                s.Release(b.Queue);
                released++;
            }
            _time.Advance(TimeSpan.FromMilliseconds(1));
            b.Collect();
        }
        // 10 MiB/s for a second is 160 requests of 64 KiB, plus the burst of one.
        Assert.That(b.Admitted, Is.EqualTo(161).Within(2));
    }

    [Test]
    public void A_group_limit_is_shared_by_its_vdisks()
    {
        var s = NewScheduler();
        var a = new Backlog(s, s.Add("a", new QosPolicy(Weight: 3)));
        var b = new Backlog(s, s.Add("b", new QosPolicy(Weight: 1)));
        var free = new Backlog(s, s.Add("free", QosPolicy.Default));
        s.SetGroupLimits("container", new QosPolicy(IopsLimit: 400, IopsBurst: 1));
        s.SetGroup(a.Queue, "container");
        s.SetGroup(b.Queue, "container");
        a.Submit(2000);
        b.Submit(2000);
        free.Submit(50);
        Assert.That(free.Admitted, Is.EqualTo(50), "a vDisk outside the group is not limited");
        for (int i = 0; i < 50; i++)
            s.Release(free.Queue);
        int releasedA = 0, releasedB = 0;
        for (int ms = 0; ms < 5000; ms++)
        {
            for (; releasedA < a.Admitted; releasedA++)
                s.Release(a.Queue);
            for (; releasedB < b.Admitted; releasedB++)
                s.Release(b.Queue);
            _time.Advance(TimeSpan.FromMilliseconds(1));
            a.Collect();
            b.Collect();
        }
        // Five seconds at 400/s between them, split by weight.
        Assert.That(a.Admitted + b.Admitted, Is.EqualTo(2001).Within(3));
        Assert.That((double)a.Admitted / b.Admitted, Is.EqualTo(3.0).Within(3).Percent);
    }

    [Test]
    public void Burst_refills_while_idle_up_to_its_size()
    {
        var s = NewScheduler();
        var b = new Backlog(s, s.Add("b", new QosPolicy(IopsLimit: 100, IopsBurst: 20)));
        b.Submit(20);
        Assert.That(b.Admitted, Is.EqualTo(20));
        for (int i = 0; i < 20; i++)
            s.Release(b.Queue);
        _time.Advance(TimeSpan.FromSeconds(10));
        b.Submit(30);
        Assert.That(b.Admitted, Is.EqualTo(40), "ten idle seconds refill the bucket to its burst, not beyond");
    }

    [Test]
    public void Outstanding_is_bounded_per_vdisk_and_in_total()
    {
        var s = NewScheduler(maxOutstanding: 5);
        var a = new Backlog(s, s.Add("a", new QosPolicy(MaxOutstanding: 2)));
        var b = new Backlog(s, s.Add("b", QosPolicy.Default));
        a.Submit(4);
        Assert.That(a.Admitted, Is.EqualTo(2));
        Assert.That(a.Queue.QueueDepth, Is.EqualTo(2));
        b.Submit(5);
        Assert.That(b.Admitted, Is.EqualTo(3), "the Director's total of 5");
        Assert.That(s.Outstanding, Is.EqualTo(5));
        s.Release(a.Queue);
        Assert.That(a.Collect() + b.Collect(), Is.EqualTo(1));
        Assert.That(s.Outstanding, Is.EqualTo(5));
    }

    [Test]
    public void A_policy_change_takes_effect_on_waiting_requests()
    {
        var s = NewScheduler();
        var b = new Backlog(s, s.Add("b", new QosPolicy(IopsLimit: 1, IopsBurst: 1)));
        b.Submit(10);
        Assert.That(b.Admitted, Is.EqualTo(1));
        s.SetPolicy(b.Queue, QosPolicy.Default);
        Assert.That(b.Collect(), Is.EqualTo(9));
        Assert.Throws<ArgumentException>(() => s.SetPolicy(b.Queue, new QosPolicy(Weight: 0)));
    }

    [Test]
    public void Removing_a_vdisk_fails_its_waiting_requests()
    {
        var s = NewScheduler(maxOutstanding: 1);
        var q = s.Add("q", QosPolicy.Default);
        Assert.That(s.AdmitAsync(q, 0).Result, Is.True);
        var waiting = s.AdmitAsync(q, 0);
        Assert.That(waiting.IsCompleted, Is.False);
        s.Remove(q);
        Assert.That(waiting.Result, Is.False);
        Assert.That(s.AdmitAsync(q, 0).Result, Is.False);
    }

    [Test]
    public void Policies_are_validated()
    {
        Assert.That(new QosPolicy(Weight: 0).Validate(), Does.Contain("weight"));
        Assert.That(new QosPolicy(IopsLimit: -1).Validate(), Does.Contain("negative"));
        Assert.That(new QosPolicy(IopsBurst: 5).Validate(), Does.Contain("IOPS limit"));
        Assert.That(new QosPolicy(IoPriority.Low, 4, 1000, 1 << 20, 10, 1 << 16, 8).Validate(), Is.Null);
    }

    [Test]
    public void Histogram_percentiles_fall_in_their_buckets()
    {
        var h = new LatencyHistogram();
        for (int i = 1; i <= 1000; i++)
            h.Record(i);
        var sum = h.Summarize();
        Assert.That(sum.Count, Is.EqualTo(1000));
        Assert.That(sum.P50Micros, Is.InRange(500, 600));
        Assert.That(sum.P99Micros, Is.InRange(990, 1200));
        for (long v = 0; v < 1 << 20; v = v * 3 / 2 + 1)
            Assert.That(LatencyHistogram.UpperBound(LatencyHistogram.IndexOf(v)), Is.GreaterThanOrEqualTo(v).And.LessThanOrEqualTo(v + v / 4 + 1), $"value {v}");
    }
    /// <summary>
    /// A closed-loop client as the front ends are: it keeps <paramref name="depth"/> requests in flight, and
    /// each request completes at the client's next step. Nothing waits for a bound, as when the CPU (not the
    /// engine) is what limits the appliance.
    /// </summary>
    private sealed class Client(QosScheduler scheduler, QosQueue queue, int depth, long bytes, bool write = false)
    {
        private readonly Queue<ValueTask<bool>> _pending = new();
        private int _inService;
        public long Admitted;
        public double AdmittedBytes;

        public void Step()
        {
            Collect();
            for (; _inService > 0; _inService--)
                scheduler.Release(queue);
            Collect();
            while (_inService + _pending.Count < depth)
            {
                var t = scheduler.AdmitAsync(queue, bytes, write);
                if (t.IsCompleted && _pending.Count == 0)
                {
                    Assert.That(t.Result, Is.True);
                    Count();
                }
                else
                {
                    _pending.Enqueue(t);
                }
            }
        }

        /// <summary>Stops issuing: completes what is in service and what was waiting.</summary>
        public void Finish()
        {
            for (int guard = 0; (_inService > 0 || _pending.Count > 0) && guard < 1000; guard++)
            {
                for (; _inService > 0; _inService--)
                    scheduler.Release(queue);
                Collect();
            }
            Assert.That(_inService + _pending.Count, Is.EqualTo(0), "the client's last requests complete");
        }

        private void Collect()
        {
            while (_pending.Count > 0 && _pending.Peek().IsCompleted)
            {
                Assert.That(_pending.Dequeue().Result, Is.True);
                Count();
            }
        }

        private void Count()
        {
            _inService++;
            Admitted++;
            AdmittedBytes += bytes;
        }
    }

    private void Run(int steps, params Client[] clients)
    {
        for (int i = 0; i < steps; i++)
        {
            foreach (var c in clients)
                c.Step();
            _time.Advance(TimeSpan.FromMicroseconds(20));
        }
    }

    [Test]
    public void Contended_weights_hold_the_vdisk_that_ran_ahead_even_when_nothing_waits_for_a_bound()
    {
        var s = NewScheduler(maxOutstanding: 256);
        var a = new Client(s, s.Add("a", new QosPolicy(Weight: 3)), 32, 4096);
        var b = new Client(s, s.Add("b", new QosPolicy(Weight: 1)), 32, 4096);
        Run(3000, a, b);
        Assert.That((double)a.Admitted / b.Admitted, Is.EqualTo(3.0).Within(3).Percent, $"a {a.Admitted}, b {b.Admitted}");
    }

    [Test]
    public void Written_bytes_cost_twice_read_bytes()
    {
        var s = NewScheduler(maxOutstanding: 256);
        var reader = new Client(s, s.Add("reader", QosPolicy.Default), 16, 65536);
        var writer = new Client(s, s.Add("writer", QosPolicy.Default), 16, 65536, write: true);
        Run(3000, reader, writer);
        // 64 KiB: a read costs 1 + 16, a write 1 + 32.
        Assert.That((double)reader.Admitted / writer.Admitted, Is.EqualTo(33.0 / 17).Within(3).Percent, $"reads {reader.Admitted}, writes {writer.Admitted}");
    }

    [Test]
    public void Uncontended_the_director_is_work_conserving()
    {
        var s = NewScheduler(maxOutstanding: 256);
        s.Contended = false;
        var a = new Client(s, s.Add("a", new QosPolicy(Weight: 3)), 32, 4096);
        var b = new Client(s, s.Add("b", new QosPolicy(Weight: 1)), 32, 4096);
        Run(1000, a, b);
        Assert.That(a.Admitted, Is.EqualTo(32_000), "every request goes at once");
        Assert.That(b.Admitted, Is.EqualTo(32_000), "the lighter weight is not held back when nothing is scarce");
    }

    [Test]
    public void Contended_low_class_floods_get_only_the_minimum_share_of_cost()
    {
        // A at QD4 with 4 KiB requests against B flooding at QD64 with 64 KiB writes: under contention B gets
        // its minimum share of the cost (a 64 KiB read costs 17, a 4 KiB one 2), not of the requests.
        var s = NewScheduler(maxOutstanding: 256, lowMinShare: 0.05, lowContended: 256);
        var a = new Client(s, s.Add("a", new QosPolicy(IoPriority.High)), 4, 4096);
        var b = new Client(s, s.Add("b", new QosPolicy(IoPriority.Low)), 64, 65536);
        Run(5000, a, b);
        double aCost = a.Admitted * 2.0, bCost = b.Admitted * 17.0;
        Assert.That(bCost / (aCost + bCost), Is.EqualTo(0.05).Within(10).Percent, $"a {a.Admitted}, b {b.Admitted}");
        Assert.That(a.Admitted, Is.EqualTo(5000 * 4).Within(1).Percent, "a is never held");
    }

    [Test]
    public void A_vdisk_idle_past_the_window_neither_holds_others_nor_banks_credit()
    {
        var s = NewScheduler(maxOutstanding: 256);
        var a = new Client(s, s.Add("a", new QosPolicy(Weight: 1)), 8, 4096);
        var b = new Client(s, s.Add("b", new QosPolicy(Weight: 1)), 8, 4096);
        Run(10, a, b);
        a.Finish();
        // A stops: within its window B is held once ahead; after the window B runs alone at full depth.
        _time.Advance(TimeSpan.FromMilliseconds(11));
        long before = b.Admitted;
        Run(500, b);
        Assert.That(b.Admitted - before, Is.EqualTo(500 * 8).Within(1).Percent, "b alone is not held by an idle a");
        // A returns: it shares equally at once instead of taking back the 4,000 requests b ran alone.
        long a0 = a.Admitted, b0 = b.Admitted;
        Run(1000, a, b);
        double ratio = (double)(a.Admitted - a0) / (b.Admitted - b0);
        Assert.That(ratio, Is.EqualTo(1.0).Within(5).Percent, $"a {a.Admitted - a0}, b {b.Admitted - b0}");
    }

    [Test]
    public void A_vdisk_held_by_its_own_limit_does_not_hold_others()
    {
        var s = NewScheduler(maxOutstanding: 256);
        var a = new Client(s, s.Add("a", QosPolicy.Default), 8, 4096);
        var b = new Client(s, s.Add("b", new QosPolicy(IopsLimit: 1000)), 64, 4096);
        Run(5000, a, b); // 100 ms of virtual time
        Assert.That(b.Admitted, Is.LessThanOrEqualTo(100 + 100 + 2), "b within its limit and burst");
        Assert.That(a.Admitted, Is.GreaterThan(5000 * 8 * 0.95), $"a is not dragged down to b's pace ({a.Admitted})");
    }

    [Test]
    public void Cpu_monitor_parses_proc_stat_and_switches_with_hysteresis()
    {
        Assert.That(CpuLoadMonitor.TryParse("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4", out long busy, out long total), Is.True);
        Assert.That((busy, total), Is.EqualTo((150L, 1000L)));
        Assert.That(CpuLoadMonitor.TryParse("intr 1 2 3", out _, out _), Is.False);
        Assert.That(CpuLoadMonitor.TryParse("cpu  1 x 3 4", out _, out _), Is.False);

        var s = NewScheduler();
        string stat = "cpu  0 0 0 0 0";
        long u = 0, idle = 0;
        using var monitor = new CpuLoadMonitor(s, 0.8, _time, () => stat);
        void Period(long busyTicks, long idleTicks)
        {
            u += busyTicks;
            idle += idleTicks;
            stat = $"cpu  {u} 0 0 {idle} 0 0 0 0";
            monitor.Sample();
        }
        for (int i = 0; i < CpuLoadMonitor.SamplesToRelease; i++)
            Period(50, 50);
        Assert.That(s.Contended, Is.False, "50% busy");
        Period(90, 10);
        Assert.That(s.Contended, Is.True, "90% busy: on at once");
        for (int i = 0; i < 10; i++)
            Period(80, 20);
        Assert.That(s.Contended, Is.True, "80%: within the hysteresis, stays on");
        for (int i = 0; i < CpuLoadMonitor.SamplesToRelease - 1; i++)
            Period(60, 40);
        Assert.That(s.Contended, Is.True, "quiet, but not for long enough");
        Period(90, 10);
        Period(60, 40);
        Assert.That(s.Contended, Is.True, "a busy sample starts the count again");
        for (int i = 0; i < CpuLoadMonitor.SamplesToRelease - 1; i++)
            Period(60, 40);
        Assert.That(s.Contended, Is.False, "60% for half a second: off");
        Assert.That(monitor.LastBusy, Is.EqualTo(0.6).Within(1e-9));
        using var never = new CpuLoadMonitor(s, 2, _time, () => stat);
        Assert.That(s.Contended, Is.False);
        using var always = new CpuLoadMonitor(s, 0, _time, () => stat);
        Assert.That(s.Contended, Is.True);
    }
}

/// <summary>The scheduler under the real handles: queued requests reach the vDisk, and the fast path allocates nothing.</summary>
public sealed class DirectedQosTests
{
    private sealed class InstantDisk(string name) : IVDisk
    {
        public int Calls;
        public long Id => 7;
        public string Name => name;
        public long CapacityBytes => 1L << 30;
        public bool SupportsUnmap => true;
        public event Action<IVDisk>? CapacityChanged { add { } remove { } }
        public TaskCompletionSource<IoStatus>? Hold;
        private ValueTask<IoStatus> Done()
        {
            Interlocked.Increment(ref Calls);
            return Hold is { } h ? new ValueTask<IoStatus>(h.Task) : new ValueTask<IoStatus>(IoStatus.Ok);
        }
        public ValueTask<IoStatus> ReadAsync(long offset, Memory<byte> destination, IoContext context) => Done();
        public ValueTask<IoStatus> WriteAsync(long offset, ReadOnlyMemory<byte> source, IoFlags flags, IoContext context) => Done();
        public ValueTask<IoStatus> UnmapAsync(long offset, long length, IoContext context) => Done();
        public ValueTask<IoStatus> FlushAsync(IoContext context) => Done();
        public ValueTask<AllocationRun> GetAllocationAsync(long offset, long maxLength, IoContext context) => new(new AllocationRun(IoStatus.Ok, maxLength, true));
    }

    [Test]
    public void An_admitted_request_allocates_nothing()
    {
        var director = new IoDirector(NullLogger<IoDirector>.Instance);
        var handle = director.Register(new InstantDisk("a"));
        director.SetPolicy("a", new QosPolicy(IoPriority.Low, Weight: 2, IopsLimit: 1_000_000_000, BandwidthLimit: 1L << 50, MaxOutstanding: 8));
        var buffer = new byte[4096];
        var context = new IoContext(IoProtocol.Iscsi, "iqn.2026-12.test:init");
        for (int i = 0; i < 1000; i++)
            _ = handle.WriteAsync(0, buffer, IoFlags.None, context).Result;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            _ = handle.WriteAsync(i * 4096L, buffer, IoFlags.None, context).Result;
            _ = handle.ReadAsync(i * 4096L, buffer, context).Result;
        }
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }

    [Test]
    public async Task Queued_requests_run_when_a_slot_frees_and_stats_separate_queue_from_service()
    {
        var director = new IoDirector(NullLogger<IoDirector>.Instance, new DirectorOptions { MaxOutstanding = 1 }, TimeProvider.System);
        var disk = new InstantDisk("a") { Hold = new TaskCompletionSource<IoStatus>(TaskCreationOptions.RunContinuationsAsynchronously) };
        var handle = director.Register(disk);
        var context = new IoContext(IoProtocol.Nfs, "10.0.0.9");
        var first = handle.ReadAsync(0, new byte[512], context).AsTask();
        var second = handle.ReadAsync(0, new byte[512], context).AsTask();
        Assert.That(disk.Calls, Is.EqualTo(1));
        Assert.That(handle.Stats.Queued, Is.EqualTo(1));
        await Task.Delay(20);
        disk.Hold.SetResult(IoStatus.Ok);
        Assert.That(await first, Is.EqualTo(IoStatus.Ok));
        Assert.That(await second, Is.EqualTo(IoStatus.Ok));
        Assert.That(disk.Calls, Is.EqualTo(2));
        var stats = handle.Stats;
        Assert.That(stats.Reads, Is.EqualTo(2));
        Assert.That(stats.Queued, Is.Zero);
        Assert.That(stats.QueueTime.Count, Is.EqualTo(2));
        Assert.That(stats.QueueTime.P99Micros, Is.GreaterThanOrEqualTo(10_000), "the second waited for the first");
        var client = director.ClientStats().Single();
        Assert.That((client.Protocol, client.Client, client.Requests, client.Bytes), Is.EqualTo((IoProtocol.Nfs, "10.0.0.9", 2L, 1024L)));
    }

    [Test]
    public void A_policy_set_before_registration_applies_when_the_vdisk_appears()
    {
        var director = new IoDirector(NullLogger<IoDirector>.Instance);
        director.SetPolicy("later", new QosPolicy(IoPriority.Low, 5));
        var handle = director.Register(new InstantDisk("later"));
        Assert.That(handle.Qos.Policy, Is.EqualTo(new QosPolicy(IoPriority.Low, 5)));
        Assert.Throws<ArgumentException>(() => director.SetPolicy("later", new QosPolicy(Weight: -2)));
    }
}

public sealed class ClientStatsTests
{
    private sealed class OkDisk : IVDisk
    {
        public long Id => 1;
        public string Name => "d";
        public long CapacityBytes => 1 << 20;
        public bool SupportsUnmap => false;
        public event Action<IVDisk>? CapacityChanged { add { } remove { } }
        public ValueTask<IoStatus> ReadAsync(long offset, Memory<byte> destination, IoContext context) => new(IoStatus.Ok);
        public ValueTask<IoStatus> WriteAsync(long offset, ReadOnlyMemory<byte> source, IoFlags flags, IoContext context) => new(IoStatus.Ok);
        public ValueTask<IoStatus> UnmapAsync(long offset, long length, IoContext context) => new(IoStatus.Ok);
        public ValueTask<IoStatus> FlushAsync(IoContext context) => new(IoStatus.Ok);
        public ValueTask<AllocationRun> GetAllocationAsync(long offset, long maxLength, IoContext context) => new(new AllocationRun(IoStatus.Ok, maxLength, true));
    }

    [Test]
    public void Clients_past_the_bound_are_counted_together()
    {
        var director = new IoDirector(NullLogger<IoDirector>.Instance);
        var handle = director.Register(new OkDisk());
        for (int i = 0; i < IoDirector.MaxClients + 10; i++)
            _ = handle.FlushAsync(new IoContext(IoProtocol.Iscsi, $"iqn.2026-12.test:c,i,0x{i:x12}")).Result;
        var stats = director.ClientStats();
        Assert.That(stats, Has.Count.EqualTo(IoDirector.MaxClients + 1));
        Assert.That(stats.Single(c => c.Client == IoDirector.OtherClients).Requests, Is.EqualTo(10));
    }

}
