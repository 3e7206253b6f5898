using System.Runtime.CompilerServices;
using StorageAppliance.DataReduction;
using StorageAppliance.Director;
using StorageAppliance.ExtentStore;
using StorageAppliance.Journal;
using StorageAppliance.Metadata;

namespace StorageAppliance.VDisk;

/// <summary>
/// The vDisk controller (seed 003): owns one vDisk's address space. A write is journaled (the ack point)
/// and indexed by block; the drainer later applies it to the block's extent. A read takes the extent's
/// data and overlays the undrained writes of the block in sequence order, so it always returns the newest
/// data; a block never written reads as zeros.
/// </summary>
/// <remarks>
/// Locks: <c>_lock</c> guards the block index (pending writes, locations, reservations). A per-block stripe
/// lock keeps a read of a block's extent apart from the drainer rewriting it. Order: stripe, then _lock.
/// A read records the trim epoch before touching the extent and retries if a drain finished in between,
/// so it never combines the old extent with an already-trimmed overlay.
/// </remarks>
internal sealed class EngineVDisk : IVDisk, IJournalIndex
{
    private const int StripeCount = 64;

    private readonly StorageEngine _engine;
    private readonly object _lock = new();
    private readonly object[] _stripes;
    private readonly Dictionary<long, BlockState> _blocks = new();
    private long _trimEpoch;
    private long _capacity;

    internal sealed class BlockState
    {
        public SlotRef Location = SlotRef.None;

        /// <summary>A deduplicated block's extents in order (then <see cref="Location"/> is none), else null.</summary>
        public ExtentId[]? Chunks;
        public bool LocationKnown;

        /// <summary>When a write to the block was last journaled (the Curator leaves recently written blocks alone).</summary>
        public long LastWriteTicks;
        public List<JournalEntry>? Pending;
        public bool Reserved;
        public int RecoveredPending;
    }

    public EngineVDisk(StorageEngine engine, VDiskRecord record, ContainerRecord container, DedupStore? dedup = null)
    {
        _engine = engine;
        Dedup = dedup;
        Record = record;
        Container = container;
        _capacity = record.CapacityBytes;
        BlockSize = container.VDiskBlockSize;
        BlockShift = System.Numerics.BitOperations.Log2((uint)BlockSize);
        _stripes = new object[StripeCount];
        for (int i = 0; i < StripeCount; i++)
            _stripes[i] = new object();
    }

    public VDiskRecord Record { get; set; }

    public ContainerRecord Container { get; }

    /// <summary>The container's deduplicated extents (blocks reduced earlier are read through it even if reduction is now off).</summary>
    public DedupStore? Dedup { get; }

    /// <summary>New data of this vDisk is reduced: deduplicated, or at least compressed.</summary>
    public bool Reduce { get; init; }

    /// <summary>Its chunks are shared with every vDisk of the container (dedup on); else they are its own, only compressed.</summary>
    public bool SharesExtents { get; init; }

    /// <summary>Whole-block writes are reduced as the journal drains (its container's data contraction is inline).</summary>
    public bool ReducesInline => Reduce && Dedup is { Spec.Inline: true };

    public int BlockSize { get; }

    public int BlockShift { get; }

    public long Id => Record.Id;

    public string Name => Record.Name;

    public long CapacityBytes => Volatile.Read(ref _capacity);

    public bool SupportsUnmap => true;

    /// <summary>Set while the vDisk is being deleted: every request fails.</summary>
    public volatile bool Deleted;

    public event Action<IVDisk>? CapacityChanged;

    internal object Lock => _lock;

    internal Dictionary<long, BlockState> Blocks => _blocks;

    internal object StripeOf(long block) => _stripes[block & (StripeCount - 1)];

    internal void SetCapacity(long capacity)
    {
        Volatile.Write(ref _capacity, capacity);
        CapacityChanged?.Invoke(this);
    }

    // ---------------------------------------------------------------- write

    public ValueTask<IoStatus> WriteAsync(long offset, ReadOnlyMemory<byte> source, IoFlags flags, IoContext context)
    {
        if (Deleted)
            return new ValueTask<IoStatus>(IoStatus.NotReady);
        if (offset < 0 || offset + source.Length > CapacityBytes)
            return new ValueTask<IoStatus>(IoStatus.OutOfRange);
        if (source.Length == 0)
            return new ValueTask<IoStatus>(IoStatus.Ok);
        // Zeros are stored as no data at all on a thin vDisk: the write becomes a deallocation of its range,
        // which reads back as zeros (LBPRZ), costs no journal bandwidth and frees whole slices and blocks.
        // A thick vDisk keeps them, so that writing zeros still preallocates as its administrator meant.
        if (Record.Thin && !source.Span.ContainsAnyExcept((byte)0))
            return WriteZeros(offset, source.Length, flags);
        // The file systems first (journal, extent groups and metadata share room), then the pool's own accounting.
        if (_engine.Space is { } space && !space.TryAdmit(source.Length))
            return new ValueTask<IoStatus>(IoStatus.NoSpace);
        if (!ReserveSpace(offset, source.Length))
            return new ValueTask<IoStatus>(IoStatus.NoSpace);
        if (_engine.Journal.OverMemoryLimit)
            return WriteAfterMemory(offset, source, flags);
        return WriteNow(offset, source, flags);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<IoStatus> WriteAfterMemory(long offset, ReadOnlyMemory<byte> source, IoFlags flags)
    {
        // Back-pressure: undrained data is over its memory limit, so the write waits for the drainer.
        _engine.RequestDrain();
        await _engine.Journal.WaitForMemoryAsync().ConfigureAwait(false);
        return await WriteNow(offset, source, flags).ConfigureAwait(false);
    }

    private ValueTask<IoStatus> WriteNow(long offset, ReadOnlyMemory<byte> source, IoFlags flags)
    {
        JournalEntry entry;
        try
        {
            entry = _engine.Journal.AppendWrite(Id, offset, source.Span, this);
        }
        catch (JournalFullException)
        {
            // ENOSPC on the journal's file system: out of space, not a medium error; the journal takes writes again once there is room.
            return new ValueTask<IoStatus>(IoStatus.NoSpace);
        }
        catch (JournalFailedException)
        {
            return new ValueTask<IoStatus>(IoStatus.WriteError);
        }
        return Acknowledge(entry, flags);
    }

    /// <summary>After an append: wakes the drainer when due, and with FUA waits until the record is durable.</summary>
    private ValueTask<IoStatus> Acknowledge(JournalEntry entry, IoFlags flags)
    {
        _engine.Appended();
        if ((flags & IoFlags.ForceUnitAccess) == 0)
            return new ValueTask<IoStatus>(IoStatus.Ok);
        var durable = _engine.Journal.WaitDurableAsync(entry.Sequence);
        if (durable.IsCompletedSuccessfully)
            return new ValueTask<IoStatus>(durable.Result ? IoStatus.Ok : IoStatus.WriteError);
        return AwaitDurable(durable);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<IoStatus> AwaitDurable(ValueTask<bool> durable) =>
        await durable.ConfigureAwait(false) ? IoStatus.Ok : IoStatus.WriteError;

    private ValueTask<IoStatus> WriteZeros(long offset, int length, IoFlags flags) => Deallocate(offset, length, flags, zeros: true);

    private long _zeroBytesWritten;

    /// <summary>Bytes written as zeros and stored as no data since start (data reduction statistics).</summary>
    public long ZeroBytesWritten => Volatile.Read(ref _zeroBytesWritten);

    public ValueTask<IoStatus> UnmapAsync(long offset, long length, IoContext context)
    {
        if (Deleted)
            return new ValueTask<IoStatus>(IoStatus.NotReady);
        if (offset < 0 || length < 0 || offset + length > CapacityBytes)
            return new ValueTask<IoStatus>(IoStatus.OutOfRange);
        if (length == 0)
            return new ValueTask<IoStatus>(IoStatus.Ok);
        return Deallocate(offset, length, IoFlags.None, zeros: false);
    }

    /// <summary>Journals a deallocation of a range (UNMAP, or a write of zeros on a thin vDisk).</summary>
    private ValueTask<IoStatus> Deallocate(long offset, long length, IoFlags flags, bool zeros)
    {
        JournalEntry entry;
        try
        {
            entry = _engine.Journal.AppendUnmap(Id, offset, length, this);
        }
        catch (JournalFullException)
        {
            return new ValueTask<IoStatus>(IoStatus.NoSpace);
        }
        catch (JournalFailedException)
        {
            return new ValueTask<IoStatus>(IoStatus.WriteError);
        }
        if (zeros)
            Interlocked.Add(ref _zeroBytesWritten, length);
        return Acknowledge(entry, flags);
    }

    public ValueTask<long> CopyByReferenceAsync(IVDisk source, long sourceOffset, long offset, long length, IoContext context)
    {
        if (Deleted || source is not EngineVDisk src || src.Deleted || Dedup is null || !ReferenceEquals(src.Dedup, Dedup) || !SharesExtents || !src.SharesExtents)
            return new ValueTask<long>(0L);
        if (((offset | sourceOffset) & (BlockSize - 1)) != 0 || length < BlockSize || offset < 0 || sourceOffset < 0
            || offset + length > CapacityBytes || sourceOffset + length > src.CapacityBytes)
            return new ValueTask<long>(0L);
        if (ReferenceEquals(src, this) && offset < sourceOffset + length && sourceOffset < offset + length)
            return new ValueTask<long>(0L); // overlapping ranges of one vDisk: leave it to the ordinary copy
        return new ValueTask<long>(_engine.ReferenceBlocksAsync(src, sourceOffset >> BlockShift, this, offset >> BlockShift, length >> BlockShift, default));
    }

    public ValueTask<long> WriteSameByReferenceAsync(long offset, long length, ReadOnlyMemory<byte> pattern, IoContext context)
    {
        if (Deleted || Dedup is null || !SharesExtents || (offset & (BlockSize - 1)) != 0 || length < BlockSize || offset < 0 || offset + length > CapacityBytes
            || pattern.IsEmpty || BlockSize % pattern.Length != 0 || !pattern.Span.ContainsAnyExcept((byte)0))
            return new ValueTask<long>(0L);
        return new ValueTask<long>(_engine.ReferenceBlocksAsync(null, 0, this, offset >> BlockShift, length >> BlockShift, pattern));
    }

    public ValueTask<IoStatus> FlushAsync(IoContext context)
    {
        var durable = _engine.Journal.WaitDurableAsync(_engine.Journal.LastSequence);
        if (durable.IsCompletedSuccessfully)
            return new ValueTask<IoStatus>(durable.Result ? IoStatus.Ok : IoStatus.WriteError);
        return AwaitDurable(durable);
    }

    /// <summary>Adds an entry to every block it touches, in sequence order.</summary>
    /// <summary>Called by the journal inside the append (lock order: journal append lock, then this vDisk's lock).</summary>
    void IJournalIndex.Add(JournalEntry entry) => Index(entry);

    internal void Index(JournalEntry entry)
    {
        long first = entry.Offset >> BlockShift;
        long last = (entry.End - 1) >> BlockShift;
        lock (_lock)
        {
            for (long b = first; b <= last; b++)
            {
                var state = GetOrAdd(b);
                var list = state.Pending ??= new List<JournalEntry>(4);
                // Appends of different threads can reach here out of order: keep the list sorted.
                int i = list.Count;
                while (i > 0 && list[i - 1].Sequence > entry.Sequence)
                    i--;
                list.Insert(i, entry);
                entry.AddReference();
                state.LastWriteTicks = Environment.TickCount64;
                if (entry.Recovered)
                    state.RecoveredPending++;
            }
        }
    }

    private BlockState GetOrAdd(long block)
    {
        if (!_blocks.TryGetValue(block, out var s))
        {
            s = new BlockState();
            _blocks[block] = s;
        }
        return s;
    }

    /// <summary>
    /// Makes sure every block the write touches either has an extent or holds a reservation for one, so a
    /// full pool is refused now rather than after the write was acknowledged.
    /// </summary>
    private bool ReserveSpace(long offset, int length)
    {
        long first = offset >> BlockShift;
        long last = (offset + length - 1) >> BlockShift;
        for (long b = first; b <= last; b++)
        {
            EnsureLocation(b);
            bool need;
            lock (_lock)
            {
                var s = _blocks[b];
                need = s.Location.IsNone && !s.Reserved;
            }
            if (!need)
                continue;
            if (!_engine.Extents.TryReserve(Container.Id))
                return false;
            lock (_lock)
            {
                var s = _blocks[b];
                if (s.Location.IsNone && !s.Reserved)
                    s.Reserved = true;
                else
                    _engine.Extents.ReleaseReservation(Container.Id);
            }
        }
        return true;
    }

    /// <summary>Loads the block's extent location from the vDisk map the first time it is needed (top-down read).</summary>
    internal SlotRef EnsureLocation(long block) => EnsureExtents(block).Slot;

    /// <summary>The block's extent, or its deduplicated extents, loaded from the vDisk map the first time (top-down read).</summary>
    internal (SlotRef Slot, ExtentId[]? Chunks) EnsureExtents(long block)
    {
        lock (_lock)
        {
            var s = GetOrAdd(block);
            if (s.LocationKnown)
                return (s.Location, s.Chunks);
        }
        var (loc, chunks) = FromMap(block);
        lock (_lock)
        {
            var s = GetOrAdd(block);
            if (!s.LocationKnown)
            {
                s.Location = loc;
                s.Chunks = chunks;
                s.LocationKnown = true;
            }
            return (s.Location, s.Chunks);
        }
    }

    private (SlotRef Slot, ExtentId[]? Chunks) FromMap(long block)
    {
        if (!_engine.Metadata.TryGetBlock(Id, block, out var rec))
            return (SlotRef.None, null);
        return rec.Extents is { } extents ? (SlotRef.None, DedupStore.Deserialize(extents)) : (new SlotRef(rec.EgroupId, rec.Slot), null);
    }

    /// <summary>Sets a block's extents (drainer and Curator, holding the block's stripe).</summary>
    internal void Publish(long block, SlotRef slot, ExtentId[]? chunks)
    {
        lock (_lock)
        {
            var s = GetOrAdd(block);
            s.Location = slot;
            s.Chunks = chunks;
            s.LocationKnown = true;
        }
    }

    // ---------------------------------------------------------------- allocation (GET LBA STATUS, qemu block status)

    /// <summary>Engine blocks one allocation query looks at before it answers with the run found so far.</summary>
    internal const int MaxBlocksPerAllocationQuery = 1024;

    /// <summary>
    /// Allocation is tracked per 4 KiB slice of a block's extent: a slice is allocated when its descriptor says
    /// it holds data, then the undrained journal entries of the block are applied in sequence order (a write
    /// allocates every slice it touches, since the drain will write the whole slice; an unmap deallocates only
    /// the slices it covers whole, since the drain zeroes part of a slice in place). A block with no extent and
    /// no pending write is deallocated: it reads as zeros (LBPRZ=1).
    /// </summary>
    public ValueTask<AllocationRun> GetAllocationAsync(long offset, long maxLength, IoContext context)
    {
        if (Deleted)
            return new ValueTask<AllocationRun>(AllocationRun.Failed(IoStatus.NotReady));
        long capacity = CapacityBytes;
        if (offset < 0 || offset >= capacity || maxLength <= 0)
            return new ValueTask<AllocationRun>(AllocationRun.Failed(IoStatus.OutOfRange));
        long end = Math.Min(capacity, offset + Math.Min(maxLength, capacity));
        long pos = offset;
        int state = -1; // -1 unknown yet, 0 deallocated, 1 mapped
        for (int scanned = 0; pos < end && scanned < MaxBlocksPerAllocationQuery; scanned++)
        {
            long block = pos >> BlockShift;
            long blockEnd = Math.Min(end, (block + 1) << BlockShift);
            long changedAt = ScanAllocation(block, pos, blockEnd, ref state);
            pos = changedAt;
            if (changedAt < blockEnd)
                break;
        }
        return new ValueTask<AllocationRun>(new AllocationRun(IoStatus.Ok, pos - offset, state == 1));
    }

    /// <summary>Where in [from, to) of one block the allocation state first differs from <paramref name="state"/> (set on first use), else <paramref name="to"/>.</summary>
    private long ScanAllocation(long block, long from, long to, ref int state)
    {
        long blockStart = block << BlockShift;
        int firstSlice = (int)((from - blockStart) / ExtentStore.ExtentStore.SliceSize);
        int lastSlice = (int)((to - 1 - blockStart) / ExtentStore.ExtentStore.SliceSize);
        Span<bool> mapped = stackalloc bool[lastSlice - firstSlice + 1];
        // The stripe keeps the drainer from rewriting this block's extent (and descriptors) meanwhile.
        lock (StripeOf(block))
        {
            var (loc, chunks) = PeekLocation(block);
            if (!loc.IsNone)
                for (int i = firstSlice; i <= lastSlice; i++)
                    mapped[i - firstSlice] = _engine.Extents.SliceHasData(loc, i);
            else if (chunks is not null)
                MarkChunks(chunks, firstSlice, mapped);
            lock (_lock)
            {
                if (_blocks.TryGetValue(block, out var s) && s.Pending is { Count: > 0 } pending)
                {
                    long rangeStart = blockStart + (long)firstSlice * ExtentStore.ExtentStore.SliceSize;
                    foreach (var e in pending)
                    {
                        long a = Math.Max(e.Offset, rangeStart);
                        long b = Math.Min(e.End, blockStart + ((long)lastSlice + 1) * ExtentStore.ExtentStore.SliceSize);
                        if (a >= b)
                            continue;
                        bool write = e.Type != JournalRecordType.Unmap;
                        // Slices touched (write) or covered whole (unmap), relative to firstSlice.
                        long lo = write ? (a - rangeStart) / ExtentStore.ExtentStore.SliceSize : (a - rangeStart + ExtentStore.ExtentStore.SliceSize - 1) / ExtentStore.ExtentStore.SliceSize;
                        long hi = write ? (b - 1 - rangeStart) / ExtentStore.ExtentStore.SliceSize : (b - rangeStart) / ExtentStore.ExtentStore.SliceSize - 1;
                        for (long i = lo; i <= hi; i++)
                            mapped[(int)i] = write;
                    }
                }
            }
        }
        for (int i = 0; i < mapped.Length; i++)
        {
            int m = mapped[i] ? 1 : 0;
            if (state < 0)
                state = m;
            else if (state != m)
                return Math.Max(from, blockStart + (long)(firstSlice + i) * ExtentStore.ExtentStore.SliceSize);
        }
        return to;
    }

    /// <summary>The block's extent: from the index when known, else from the vDisk map, without caching it (a status scan of a large disk must not fill the index).</summary>
    private (SlotRef Slot, ExtentId[]? Chunks) PeekLocation(long block)
    {
        lock (_lock)
        {
            if (_blocks.TryGetValue(block, out var s) && s.LocationKnown)
                return (s.Location, s.Chunks);
        }
        return FromMap(block);
    }

    /// <summary>A deduplicated block's slices are mapped where its chunks hold data (a chunk of zeros is stored as nothing).</summary>
    private void MarkChunks(ExtentId[] chunks, int firstSlice, Span<bool> mapped)
    {
        const int slice = ExtentStore.ExtentStore.SliceSize;
        long start = 0;
        foreach (var id in chunks)
        {
            long end = start + id.Size;
            bool data = Dedup is null || !Dedup.TryGetInfo(id, out int stored, out _) || stored > 0;
            // A slice is mapped if any chunk with data touches it.
            if (data)
            {
                long lo = Math.Max(firstSlice, start / slice);
                long hi = Math.Min(firstSlice + mapped.Length - 1, (end - 1) / slice);
                for (long i = lo; i <= hi; i++)
                    mapped[(int)(i - firstSlice)] = true;
            }
            start = end;
        }
    }

    // ---------------------------------------------------------------- read

    public ValueTask<IoStatus> ReadAsync(long offset, Memory<byte> destination, IoContext context)
    {
        if (Deleted)
            return new ValueTask<IoStatus>(IoStatus.NotReady);
        if (offset < 0 || offset + destination.Length > CapacityBytes)
            return new ValueTask<IoStatus>(IoStatus.OutOfRange);
        var dest = destination.Span;
        int done = 0;
        while (done < dest.Length)
        {
            long pos = offset + done;
            long block = pos >> BlockShift;
            int inBlock = (int)(pos & (BlockSize - 1));
            int len = Math.Min(BlockSize - inBlock, dest.Length - done);
            var status = ReadBlock(block, inBlock, dest.Slice(done, len));
            if (status != IoStatus.Ok)
                return new ValueTask<IoStatus>(status);
            done += len;
        }
        return new ValueTask<IoStatus>(IoStatus.Ok);
    }

    private IoStatus ReadBlock(long block, int inBlock, Span<byte> dest)
    {
        // Fast path: the newest undrained write covers the whole range.
        lock (_lock)
        {
            if (_blocks.TryGetValue(block, out var s) && s.Pending is { Count: > 0 } pending && TryCopyNewest(pending, block, inBlock, dest))
                return IoStatus.Ok;
        }

        while (true)
        {
            long epoch = Volatile.Read(ref _trimEpoch);
            ExtentReadResult result = ExtentReadResult.Ok;
            int failedAt = -1;
            SlotRef loc;
            lock (StripeOf(block))
            {
                // Under the stripe the block's extents cannot change (the drainer and the Curator change them
                // holding it), and a slot it names cannot be freed and reused.
                (loc, var chunks) = EnsureExtents(block);
                if (chunks is not null)
                    result = Dedup!.ReadBlock(chunks, inBlock, dest, out failedAt);
                else if (!loc.IsNone)
                    result = _engine.Extents.Read(loc, inBlock, dest, ToleranceFor(block), out failedAt);
                else
                    dest.Clear();
            }
            if (result != ExtentReadResult.Ok)
            {
                if (loc.IsNone)
                {
                    _engine.DedupReadFailed(this, (block << BlockShift) + Math.Max(inBlock, failedAt), result);
                }
                else
                {
                    long at = (block << BlockShift) + (failedAt >= 0 ? (long)failedAt * ExtentStore.ExtentStore.SliceSize : inBlock);
                    _engine.ReadFailed(this, at, loc, result);
                }
                return IoStatus.MediumError;
            }
            lock (_lock)
            {
                if (Volatile.Read(ref _trimEpoch) != epoch)
                    continue; // a drain finished meanwhile: the extent and the overlay may disagree; read again
                if (_blocks.TryGetValue(block, out var s) && s.Pending is { Count: > 0 } pending)
                    Overlay(pending, block, inBlock, dest);
                return IoStatus.Ok;
            }
        }
    }

    private bool TryCopyNewest(List<JournalEntry> pending, long block, int inBlock, Span<byte> dest)
    {
        long start = (block << BlockShift) + inBlock;
        long end = start + dest.Length;
        for (int i = pending.Count - 1; i >= 0; i--)
        {
            var e = pending[i];
            if (e.End <= start || e.Offset >= end)
                continue;
            if (e.Offset > start || e.End < end)
                return false; // the newest overlapping write covers only part
            if (e.Type == JournalRecordType.Unmap)
                dest.Clear();
            else
                e.Data.Slice((int)(start - e.Offset), dest.Length).CopyTo(dest);
            return true;
        }
        return false;
    }

    private void Overlay(List<JournalEntry> pending, long block, int inBlock, Span<byte> dest)
    {
        long start = (block << BlockShift) + inBlock;
        long end = start + dest.Length;
        foreach (var e in pending)
        {
            long from = Math.Max(start, e.Offset);
            long to = Math.Min(end, e.End);
            if (from >= to)
                continue;
            var part = dest.Slice((int)(from - start), (int)(to - from));
            if (e.Type == JournalRecordType.Unmap)
                part.Clear();
            else
                e.Data.Slice((int)(from - e.Offset), (int)(to - from)).CopyTo(part);
        }
    }

    /// <summary>
    /// A checksum mismatch in a slice is tolerated only while undrained writes recovered from the journal
    /// overlap it: a drain interrupted by a crash may have left it half rewritten, and overlaying those
    /// writes restores exactly the bytes that can differ (the rest is the same before and after).
    /// </summary>
    internal ExtentStore.ExtentStore.MismatchTolerance? ToleranceFor(long block)
    {
        lock (_lock)
        {
            if (!_blocks.TryGetValue(block, out var s) || s.RecoveredPending == 0)
                return null;
        }
        return slice => OverlapsRecovered(block, slice);
    }

    private bool OverlapsRecovered(long block, int slice)
    {
        long start = (block << BlockShift) + (long)slice * ExtentStore.ExtentStore.SliceSize;
        long end = start + ExtentStore.ExtentStore.SliceSize;
        lock (_lock)
        {
            if (!_blocks.TryGetValue(block, out var s) || s.Pending is null)
                return false;
            foreach (var e in s.Pending)
                if (e.Recovered && e.Offset < end && e.End > start)
                    return true;
            return false;
        }
    }

    private static readonly Dictionary<long, SlotRef> EmptyLocations = new();

    /// <summary>Drops every undrained entry (the vDisk is being deleted); returns those nothing else holds.</summary>
    internal void DropAll(List<JournalEntry> released, List<long> reservedBlocks)
    {
        lock (_lock)
        {
            foreach (var (block, s) in _blocks)
            {
                if (s.Pending is not null)
                {
                    foreach (var e in s.Pending)
                        if (e.RemoveReference())
                            released.Add(e);
                    s.Pending.Clear();
                }
                if (s.Reserved)
                {
                    reservedBlocks.Add(block);
                    s.Reserved = false;
                }
            }
            _blocks.Clear();
            Interlocked.Increment(ref _trimEpoch);
        }
    }

    /// <summary>After a drain committed: new locations take effect and drained entries leave the overlay.</summary>
    internal void CompleteDrain(long drainedUpTo, IReadOnlyDictionary<long, SlotRef>? newLocations, List<JournalEntry> released)
    {
        lock (_lock)
        {
            foreach (var (block, loc) in newLocations ?? (IReadOnlyDictionary<long, SlotRef>)EmptyLocations)
            {
                var s = GetOrAdd(block);
                s.Location = loc;
                s.LocationKnown = true;
            }
            List<long>? emptied = null;
            foreach (var (block, s) in _blocks)
            {
                if (s.Pending is null || s.Pending.Count == 0 || s.Pending[0].Sequence > drainedUpTo)
                    continue;
                int n = 0;
                while (n < s.Pending.Count && s.Pending[n].Sequence <= drainedUpTo)
                {
                    var e = s.Pending[n];
                    if (e.Recovered)
                        s.RecoveredPending--;
                    if (e.RemoveReference())
                        released.Add(e);
                    n++;
                }
                s.Pending.RemoveRange(0, n);
                if (s.Pending.Count == 0 && !s.Reserved)
                    (emptied ??= new()).Add(block);
            }
            if (emptied is not null)
            {
                // Keep known locations cached (the hot part of the block map); drop empty placeholders.
                foreach (var b in emptied)
                    if (_blocks[b].Location.IsNone && _blocks[b].LocationKnown is false)
                        _blocks.Remove(b);
            }
            Interlocked.Increment(ref _trimEpoch);
        }
    }
}
