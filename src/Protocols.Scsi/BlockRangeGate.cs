namespace StorageAppliance.Protocols.Scsi;

/// <summary>
/// Keeps the commands that must be atomic (COMPARE AND WRITE, ORWRITE, WRITE ATOMIC) from interleaving with
/// any other I/O to the same blocks, from any I_T nexus, without a lock on the READ/WRITE hot path.
/// </summary>
/// <remarks>
/// <para>
/// SBC-3 COMPARE AND WRITE: the read, compare and write are "an uninterrupted series of actions"; SBC-4
/// WRITE ATOMIC: the blocks are written "as a single operation" with respect to other commands. Both need
/// every other command that touches the blocks to wait, not only other atomic commands.
/// </para>
/// <para>
/// Two paths. The fast path is a counter: a command increments <see cref="_fast"/>, and if no exclusive lease
/// is granted or waiting (<see cref="_guards"/> is zero) it goes ahead with no lock; it decrements when its
/// I/O ends. An exclusive request raises <see cref="_guards"/> first, which closes the fast path to new
/// commands, then waits for the counter to drain before it is granted. Both sides use interlocked
/// (sequentially consistent) operations, so either the command sees the guard or the exclusive request sees
/// the command (the store-load pattern of Dekker's algorithm). While the fast path is closed, and for
/// commands too long to hold it, commands take the slow path: their block range is registered under a lock,
/// and an exclusive range waits only for overlapping ranges (first come, first served among overlapping
/// requests, so a stream of writes cannot starve a COMPARE AND WRITE).
/// </para>
/// <para>
/// A holder never waits for a second lease while holding one, so the gate cannot deadlock.
/// </para>
/// </remarks>
internal sealed class BlockRangeGate
{
    private readonly Lock _lock = new();
    private readonly List<Entry> _active = new();
    private readonly List<Entry> _waiting = new();
    private int _fast;
    private int _guards;

    /// <summary>A granted or waiting range; [Start, End) in logical blocks.</summary>
    internal sealed class Entry(ulong start, ulong end, bool exclusive)
    {
        public readonly ulong Start = start;
        public readonly ulong End = end;
        public readonly bool Exclusive = exclusive;
        public TaskCompletionSource<Lease>? Waiter;

        public bool Overlaps(Entry other) => Start < other.End && other.Start < End;
    }

    /// <summary>What a holder gives back: the fast path (no entry) or its registered range.</summary>
    internal readonly struct Lease(Entry? entry)
    {
        public readonly Entry? Entry = entry;

        public bool IsFast => Entry is null;
    }

    /// <summary>Commands in flight on the fast path (for tests).</summary>
    public int FastHolders => Volatile.Read(ref _fast);

    /// <summary>Exclusive requests granted or waiting (for tests).</summary>
    public int Guards => Volatile.Read(ref _guards);

    /// <summary>Ranges registered on the slow path, granted or waiting (for tests).</summary>
    public int SlowEntries
    {
        get
        {
            lock (_lock)
                return _active.Count + _waiting.Count;
        }
    }

    /// <summary>Enters the fast path if no exclusive range is granted or waiting. Allocation-free.</summary>
    public bool TryEnterFast()
    {
        Interlocked.Increment(ref _fast);
        if (Volatile.Read(ref _guards) == 0)
            return true;
        ExitFast();
        return false;
    }

    /// <summary>Leaves the fast path; the last one out lets a waiting exclusive range in.</summary>
    public void ExitFast()
    {
        if (Interlocked.Decrement(ref _fast) == 0 && Volatile.Read(ref _guards) != 0)
        {
            List<Entry>? granted;
            lock (_lock)
                granted = Pump();
            Grant(granted);
        }
    }

    /// <summary>Registers a range of <paramref name="blocks"/> blocks from <paramref name="lba"/> and waits until it may proceed.</summary>
    public ValueTask<Lease> EnterAsync(ulong lba, ulong blocks, bool exclusive)
    {
        blocks = Math.Max(blocks, 1); // an empty range still orders against its neighbours' block
        ulong end = blocks > ulong.MaxValue - lba ? ulong.MaxValue : lba + blocks;
        var e = new Entry(lba, end, exclusive);
        lock (_lock)
        {
            if (exclusive)
                Interlocked.Increment(ref _guards);
            if (CanGrant(e, _waiting.Count))
            {
                _active.Add(e);
                return new ValueTask<Lease>(new Lease(e));
            }
            e.Waiter = new TaskCompletionSource<Lease>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting.Add(e);
        }
        return new ValueTask<Lease>(e.Waiter.Task);
    }

    /// <summary>Gives a lease back (either path).</summary>
    public void Release(Lease lease)
    {
        if (lease.Entry is not Entry e)
        {
            ExitFast();
            return;
        }
        List<Entry>? granted;
        lock (_lock)
        {
            _active.Remove(e);
            if (e.Exclusive)
                Interlocked.Decrement(ref _guards);
            granted = Pump();
        }
        Grant(granted);
    }

    /// <summary>
    /// Whether <paramref name="e"/> may run now: compatible with every granted range and with the first
    /// <paramref name="earlierWaiters"/> waiting ones (which came first); an exclusive range also needs the fast path empty.
    /// </summary>
    private bool CanGrant(Entry e, int earlierWaiters)
    {
        if (e.Exclusive && Volatile.Read(ref _fast) != 0)
            return false;
        foreach (var a in _active)
            if (a.Overlaps(e) && (a.Exclusive || e.Exclusive))
                return false;
        for (int i = 0; i < earlierWaiters; i++)
        {
            var w = _waiting[i];
            if (w.Overlaps(e) && (w.Exclusive || e.Exclusive))
                return false;
        }
        return true;
    }

    /// <summary>Grants every waiting range that may now run, in arrival order. Called under the lock.</summary>
    private List<Entry>? Pump()
    {
        List<Entry>? granted = null;
        for (int i = 0; i < _waiting.Count;)
        {
            var w = _waiting[i];
            if (CanGrant(w, i))
            {
                _waiting.RemoveAt(i);
                _active.Add(w);
                (granted ??= new List<Entry>(2)).Add(w);
            }
            else
            {
                i++;
            }
        }
        return granted;
    }

    /// <summary>Completes the waiters outside the lock (their continuations run on the thread pool).</summary>
    private static void Grant(List<Entry>? granted)
    {
        if (granted is null)
            return;
        foreach (var e in granted)
            e.Waiter!.TrySetResult(new Lease(e));
    }
}
