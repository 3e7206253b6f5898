using System.Buffers;
using System.Collections.Concurrent;
using StorageAppliance.DataReduction;
using StorageAppliance.ExtentStore;
using StorageAppliance.Journal;
using StorageAppliance.Metadata;

namespace StorageAppliance.VDisk;

// The drainer: moves journaled writes into the extent store, in two steps like a database's WAL.
//
// Apply (every round, about 5 times a second): take every durable undrained record up to sequence S;
// per block, apply its records in order to the block's extent (allocating one for a new block; moving
// the block off a failed disk) through the page cache; the new locations take effect in memory and the
// records leave memory. Their metadata rows wait in the checkpoint batch.
//
// Checkpoint (every few seconds, when the journal grows, or on request): flush the extent groups written
// since the last checkpoint, commit the metadata batch (bottom-up: extent groups, extents, vDisk map
// rows, then "drained up to S") in one transaction, and only then delete the journal segments. A crash
// anywhere before the commit replays the records from the journal, which is harmless: applying them
// again gives the same result.
public sealed partial class StorageEngine
{
    private readonly AutoResetEvent _drainSignal = new(false);
    private readonly ConcurrentQueue<Func<bool>> _jobs = new();
    private readonly List<TaskCompletionSource> _drainWaiters = new();
    private Thread? _drainThread;
    private volatile bool _stopping;
    private long _lastStuckLog;
    private MetadataBatch _checkpointBatch = new();
    private long _appliedUpTo = -1;
    private long _lastCheckpointTicks = Environment.TickCount64;
    private volatile bool _checkpointRequested;

    private void StartDrainer()
    {
        foreach (var v in _deleteAfterStart)
            _jobs.Enqueue(() => DeleteVDiskJob(v));
        _deleteAfterStart.Clear();
        _drainThread = new Thread(DrainLoop) { IsBackground = true, Name = "drainer" };
        _drainThread.Start();
    }

    internal void Appended()
    {
        if (Journal.PendingBytes >= _options.DrainThresholdBytes)
            _drainSignal.Set();
    }

    public void RequestDrain() => _drainSignal.Set();

    /// <summary>Completes after a drain round that started after this call (tests, shutdown, SYNC of metadata).</summary>
    public Task DrainAsync()
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_drainWaiters)
            _drainWaiters.Add(tcs);
        _drainSignal.Set();
        return tcs.Task;
    }

    private Task DeleteNowAsync(VDiskRecord record)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _jobs.Enqueue(() =>
        {
            bool done = DeleteVDiskJob(record);
            if (done)
                tcs.TrySetResult();
            return done;
        });
        _drainSignal.Set();
        return tcs.Task;
    }

    private void DrainLoop()
    {
        while (!_stopping)
        {
            _drainSignal.WaitOne(_options.DrainInterval);
            List<TaskCompletionSource> waiters;
            lock (_drainWaiters)
            {
                waiters = new List<TaskCompletionSource>(_drainWaiters);
                _drainWaiters.Clear();
            }
            try
            {
                MaybeStartBackgroundPass();
                RunJobs();
                ApplyRound();
                bool due = waiters.Count > 0 || _checkpointRequested
                    || Environment.TickCount64 - _lastCheckpointTicks >= (long)_options.CheckpointInterval.TotalMilliseconds
                    || Journal.DiskBytes >= _options.CheckpointJournalBytes;
                if (due)
                    Checkpoint();
            }
            catch (Exception e)
            {
                // The drainer must keep running: undrained writes are safe in the journal and in memory.
                EngineLog.DrainFailed(_log, e.Message, e);
                Extents.AbortBatch();
            }
            foreach (var w in waiters)
                w.TrySetResult();
        }
    }

    private void RunJobs()
    {
        int n = _jobs.Count;
        for (int i = 0; i < n && _jobs.TryDequeue(out var job); i++)
        {
            if (!job())
                _jobs.Enqueue(job); // try again next round
        }
    }

    private sealed class BlockWork(EngineVDisk vdisk, long block, JournalEntry[] entries)
    {
        public EngineVDisk VDisk { get; } = vdisk;
        public long Block { get; } = block;
        public JournalEntry[] Entries { get; } = entries;

        /// <summary>The records as changes relative to the block (made once: Prepare and the apply both need them).</summary>
        public BlockChange[]? Changes;

        /// <summary>For a block this round rewrites whole and reduces inline: its new content (pooled) and chunk ids, made ahead.</summary>
        public byte[]? Content;
        public ExtentId[]? Ids;
    }

    /// <summary>Blocks whose content is chunked and hashed together, in parallel, ahead of their (serial) apply.</summary>
    private const int PrepareBatch = 16;

    /// <summary>
    /// For the blocks of <paramref name="batch"/> that will be reduced inline (rewritten whole this round), builds
    /// their content and runs the chunking and SHA-1, the costly part of a reduction, on every core at once; the
    /// apply that follows only looks the chunks up and stores the new ones.
    /// </summary>
    private static void Prepare(List<BlockWork> batch)
    {
        var reduce = new List<BlockWork>();
        foreach (var w in batch)
        {
            var v = w.VDisk;
            if (v.ReducesInline && Covers(Changes(w), v.BlockSize))
                reduce.Add(w);
        }
        if (reduce.Count == 0)
            return;
        void One(BlockWork w)
        {
            var v = w.VDisk;
            var content = ArrayPool<byte>.Shared.Rent(v.BlockSize);
            var span = content.AsSpan(0, v.BlockSize);
            span.Clear();
            ApplyChanges(Changes(w), span);
            w.Ids = v.Dedup!.ChunkAndHash(span, v.SharesExtents ? 0 : v.Id, w.Block);
            w.Content = content;
        }
        if (reduce.Count == 1)
            One(reduce[0]);
        else
            Parallel.ForEach(reduce, One);
    }

    /// <summary>A block's records as changes relative to the block, in sequence order.</summary>
    private static BlockChange[] Changes(BlockWork w)
    {
        if (w.Changes is { } made)
            return made;
        var v = w.VDisk;
        long blockStart = w.Block << v.BlockShift;
        var changes = new BlockChange[w.Entries.Length];
        for (int i = 0; i < w.Entries.Length; i++)
        {
            var e = w.Entries[i];
            long from = Math.Max(blockStart, e.Offset);
            long to = Math.Min(blockStart + v.BlockSize, e.End);
            bool unmap = e.Type == JournalRecordType.Unmap;
            changes[i] = new BlockChange((int)(from - blockStart), (int)(to - from), unmap ? default : e.DataMemory.Slice((int)(from - e.Offset), (int)(to - from)), unmap);
        }
        return w.Changes = changes;
    }

    /// <summary>Applies changes, in order, to a block's content in memory.</summary>
    private static void ApplyChanges(ReadOnlySpan<BlockChange> changes, Span<byte> content)
    {
        foreach (var c in changes)
        {
            if (c.Unmap)
                content.Slice(c.Offset, c.Length).Clear();
            else
                c.Data.Span.CopyTo(content[c.Offset..]);
        }
    }

    /// <summary>An apply round followed by a checkpoint (tests and shutdown); returns the checkpointed sequence.</summary>
    internal long DrainOnce()
    {
        ApplyRound();
        Checkpoint();
        return Metadata.DrainedSequence;
    }

    /// <summary>Applies every durable undrained record to the extent store (page cache); returns the sequence applied up to.</summary>
    internal long ApplyRound()
    {
        if (_appliedUpTo < 0)
            _appliedUpTo = Metadata.DrainedSequence;
        long upTo = Journal.LastSequence;
        if (upTo <= _appliedUpTo)
            return _appliedUpTo;

        // Only durable records are applied in place: if the power went before the journal reached the
        // disk, a record the extent store already half holds must still be there to replay over it.
        if (!Journal.WaitDurableAsync(upTo).AsTask().GetAwaiter().GetResult())
            return _appliedUpTo;

        var work = new List<BlockWork>();
        int records = 0;
        foreach (var v in _byId.Values)
        {
            if (v.Deleted)
                continue;
            lock (v.Lock)
            {
                foreach (var (block, s) in v.Blocks)
                {
                    if (s.Pending is null || s.Pending.Count == 0 || s.Pending[0].Sequence > upTo)
                        continue;
                    int n = 0;
                    while (n < s.Pending.Count && s.Pending[n].Sequence <= upTo)
                        n++;
                    work.Add(new BlockWork(v, block, s.Pending.GetRange(0, n).ToArray()));
                    records += n;
                }
            }
        }
        // Blocks are written in vDisk and block order: neighbouring blocks share extent groups.
        work.Sort((a, b) => a.VDisk.Id != b.VDisk.Id ? a.VDisk.Id.CompareTo(b.VDisk.Id) : a.Block.CompareTo(b.Block));

        var newLocations = new Dictionary<EngineVDisk, Dictionary<long, SlotRef>>();
        long stuck = long.MaxValue;
        for (int i = 0; i < work.Count; i++)
        {
            var w = work[i];
            if (i % PrepareBatch == 0)
                Prepare(work.GetRange(i, Math.Min(PrepareBatch, work.Count - i)));
            try
            {
                if (ApplyBlock(w, _checkpointBatch, out var newLocation))
                {
                    if (!newLocations.TryGetValue(w.VDisk, out var map))
                        newLocations[w.VDisk] = map = new Dictionary<long, SlotRef>();
                    map[w.Block] = newLocation;
                }
            }
            catch (IOException e)
            {
                // No room, or no healthy disk, for this block now: its records stay in the journal and in
                // memory (reads still see them) and the drain point stops before the first of them.
                ReturnPrepared(w);
                stuck = Math.Min(stuck, w.Entries[0].Sequence);
                long now = Environment.TickCount64;
                if (now - _lastStuckLog > 10_000)
                {
                    _lastStuckLog = now;
                    EngineLog.BlockStuck(_log, w.VDisk.Name, w.Block, e.Message);
                }
            }
        }

        long applied = stuck == long.MaxValue ? upTo : Math.Max(_appliedUpTo, stuck - 1);
        var released = new List<JournalEntry>();
        foreach (var v in _byId.Values)
            v.CompleteDrain(applied, newLocations.TryGetValue(v, out var map) ? map : null, released);
        foreach (var e in released)
            Journal.Release(e);
        _appliedUpTo = applied;
        EngineLog.Drained(_log, records, work.Count, applied);
        return applied;
    }

    /// <summary>
    /// Makes everything applied durable and trims the journal: flush the extent groups, commit the metadata
    /// batch with the new drain point, delete the segments. On a disk failure the records since the last
    /// checkpoint are read back from the journal and applied again (their blocks move off the failed disk).
    /// </summary>
    internal void Checkpoint()
    {
        _checkpointRequested = false;
        long target = _appliedUpTo < 0 ? Metadata.DrainedSequence : _appliedUpTo;
        if (target <= Metadata.DrainedSequence && _checkpointBatch.Count == 0 && _reduction.Values.All(s => s.DirtyCount == 0))
        {
            _lastCheckpointTicks = Environment.TickCount64;
            return;
        }
        try
        {
            Extents.FlushDirty();
        }
        catch (DiskFailedException e)
        {
            EngineLog.DrainRetried(_log, e.Message);
            ReapplySinceCheckpoint();
            return;
        }
        catch (NoSpaceException e)
        {
            // A group that could not be flushed for want of room stays dirty; the next checkpoint flushes it again.
            EngineLog.DrainCommitFailed(_log, e.Message);
            return;
        }
        foreach (var store in _reduction.Values)
            store.WriteDirty(_checkpointBatch);
        _checkpointBatch.Add(new MetadataOp.SetDrainedSequence(target));
        try
        {
            lock (_commitLock)
                Metadata.Commit(_checkpointBatch);
        }
        catch (MetadataException e)
        {
            // Everything stays as it is (applied, in the journal); the next checkpoint tries again.
            EngineLog.DrainCommitFailed(_log, e.Message);
            return;
        }
        AfterCommit();
        _checkpointBatch = new MetadataBatch();
        _lastCheckpointTicks = Environment.TickCount64;
        Journal.Trim(target);
    }

    /// <summary>
    /// After a commit: freed slots become reusable. Pack slots among them may still be read by a reader that looked a
    /// moved or collected chunk up before the change, so readers of deduplicated data are held out meanwhile.
    /// </summary>
    private void AfterCommit()
    {
        foreach (var store in _reduction.Values)
            store.ReadGate.EnterWriteLock();
        try
        {
            Extents.AfterCommit();
        }
        finally
        {
            foreach (var store in _reduction.Values)
                store.ReadGate.ExitWriteLock();
        }
    }

    /// <summary>After a failed flush: the records since the last checkpoint go back into the overlays to be applied again.</summary>
    private void ReapplySinceCheckpoint()
    {
        long from = Metadata.DrainedSequence;
        foreach (var e in Journal.ReadBack(from, _appliedUpTo))
        {
            if (_byId.TryGetValue(e.VDiskId, out var v) && !v.Deleted)
                v.Index(e);
            else
                Journal.Release(e);
        }
        _appliedUpTo = from;
        _checkpointRequested = true;
    }

    /// <summary>Applies one block's records; true with the block's new location when it changed.</summary>
    private bool ApplyBlock(BlockWork w, MetadataBatch batch, out SlotRef newLocation)
    {
        var v = w.VDisk;
        lock (v.StripeOf(w.Block))
        {
            if (w.Content is { } content)
            {
                // Rewritten whole and chunked ahead (see Prepare): store it.
                var (loc, chunks) = v.EnsureExtents(w.Block);
                try
                {
                    ReduceBlock(v, w.Block, content.AsSpan(0, v.BlockSize), w.Ids!, loc, chunks, batch);
                }
                finally
                {
                    ReturnPrepared(w);
                }
                newLocation = SlotRef.None;
                return true;
            }
            var changes = Changes(w);
            if (ApplyReduced(v, w.Block, changes, batch, out newLocation))
                return true;
            return ApplyToSlot(v, w.Block, changes, changes.Any(c => !c.Unmap), batch, out newLocation);
        }
    }

    private static void ReturnPrepared(BlockWork w)
    {
        if (w.Content is { } content)
            ArrayPool<byte>.Shared.Return(content);
        w.Content = null;
        w.Ids = null;
    }

    /// <summary>Applies changes to the block's slot, allocating one for a new block (the block's stripe is held).</summary>
    private bool ApplyToSlot(EngineVDisk v, long block, ReadOnlySpan<BlockChange> changes, bool anyWrite, MetadataBatch batch, out SlotRef newLocation)
    {
        newLocation = SlotRef.None;
        {
            var loc = v.EnsureLocation(block);
            bool changed = false;
            if (loc.IsNone)
            {
                if (!anyWrite)
                    return false; // unmapping what was never written
                // The block keeps its reservation flag until its location is published below: a write
                // arriving meanwhile must see "reserved" or "allocated", never neither, or it would ask
                // for space again (refused in a full pool although the block needs none, or a
                // reservation taken that nothing ever releases).
                bool reserved;
                lock (v.Lock)
                    reserved = v.Blocks[block].Reserved;
                loc = Extents.AllocateSlot(v.Container.Id, v.Id, block, batch, reserved);
                bool raced;
                lock (v.Lock)
                {
                    var s = v.Blocks[block];
                    raced = !reserved && s.Reserved; // a write reserved while the slot was being allocated
                    s.Reserved = false;
                    s.Location = loc;
                    s.LocationKnown = true;
                }
                if (raced)
                    Extents.ReleaseReservation(v.Container.Id);
                batch.Add(new MetadataOp.PutBlock(new BlockRecord(v.Id, block, loc.EgroupId, loc.Slot)));
                changed = true;
            }
            else if (Extents.IsOnFailedDisk(loc))
            {
                loc = Relocate(v, block, loc, batch);
                changed = true;
            }

            var tolerate = v.ToleranceFor(block);
            bool empty;
            try
            {
                empty = Extents.Apply(loc, changes, tolerate);
            }
            catch (DiskFailedException)
            {
                loc = Relocate(v, block, loc, batch);
                changed = true;
                empty = Extents.Apply(loc, changes, tolerate);
            }
            if (empty)
            {
                // Top-down for a free: the block row goes first, then the extent.
                batch.Add(new MetadataOp.DeleteBlock(v.Id, block));
                Extents.FreeSlot(loc, batch);
                newLocation = SlotRef.None;
                return true;
            }
            newLocation = loc;
            return changed;
        }
    }

    /// <summary>
    /// Data reduction as the journal drains (issue 7). A block is reduced inline only when this round rewrites all of
    /// it (sequential and whole-block writes: clones, copies, image uploads). Partial writes go to a slot, cheap to
    /// update in place: a deduplicated block they touch becomes an ordinary slot again with its whole content (once;
    /// re-chunking a whole block for every few random writes cost 4x the CPU per byte in fio), and the Curator
    /// reduces the block again once it has been quiet for the container's post-process delay. False when the block
    /// is left to <see cref="ApplyToSlot"/>. The block's stripe is held.
    /// </summary>
    private bool ApplyReduced(EngineVDisk v, long block, BlockChange[] changes, MetadataBatch batch, out SlotRef newLocation)
    {
        newLocation = SlotRef.None;
        var (loc, chunks) = v.EnsureExtents(block);
        // Blocks of a vDisk that reduces nothing inline, never reduced before, are the plain path: no more work here.
        if (chunks is null && !v.ReducesInline)
            return false;
        var store = v.Dedup!;
        bool covered = Covers(changes, v.BlockSize);
        bool reduce = v.ReducesInline && covered;
        if (chunks is null && !reduce)
            return false;

        var buffer = ArrayPool<byte>.Shared.Rent(v.BlockSize);
        try
        {
            var content = buffer.AsSpan(0, v.BlockSize);
            if (chunks is null || covered)
            {
                content.Clear();
            }
            else
            {
                var r = store.ReadBlock(chunks, 0, content, out int failedAt);
                if (r != ExtentReadResult.Ok)
                    throw new IOException($"its deduplicated extent at block offset {failedAt} cannot be read ({r})");
            }
            ApplyChanges(changes, content);
            if (reduce)
            {
                ReduceBlock(v, block, content, loc, chunks, batch);
                return true;
            }

            // The block goes back to a slot with its whole content; the Curator reduces it later.
            store.Release(chunks!);
            v.Publish(block, SlotRef.None, null);
            var slices = SliceChanges(buffer, v.BlockSize);
            if (!slices.Any(c => !c.Unmap))
            {
                batch.Add(new MetadataOp.DeleteBlock(v.Id, block));
                return true;
            }
            ApplyToSlot(v, block, slices, anyWrite: true, batch, out newLocation);
            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Stores a block's whole content as deduplicated extents and makes the block list them, releasing what it held
    /// before (a slot, freed after the row that named it, or chunks). All zeros: the block keeps no data at all.
    /// </summary>
    /// <exception cref="IOException">No room or a failed disk: nothing changed.</exception>
    internal void ReduceBlock(EngineVDisk v, long block, ReadOnlySpan<byte> content, SlotRef oldSlot, ExtentId[]? oldChunks, MetadataBatch batch) =>
        ReduceBlock(v, block, content, v.Dedup!.ChunkAndHash(content, v.SharesExtents ? 0 : v.Id, block), oldSlot, oldChunks, batch);

    private void ReduceBlock(EngineVDisk v, long block, ReadOnlySpan<byte> content, ExtentId[] chunked, SlotRef oldSlot, ExtentId[]? oldChunks, MetadataBatch batch)
    {
        var store = v.Dedup!;
        var ids = store.Store(content, chunked, batch);
        if (oldChunks is not null)
            store.Release(oldChunks);
        v.Publish(block, SlotRef.None, ids.Length == 0 ? null : ids);
        bool reserved;
        lock (v.Lock)
        {
            var s = v.Blocks[block];
            reserved = s.Reserved;
            s.Reserved = false;
        }
        if (reserved)
            Extents.ReleaseReservation(v.Container.Id);
        batch.Add(ids.Length == 0
            ? new MetadataOp.DeleteBlock(v.Id, block)
            : new MetadataOp.PutBlock(new BlockRecord(v.Id, block, 0, -1, DedupStore.Serialize(ids))));
        if (!oldSlot.IsNone)
            Extents.FreeSlot(oldSlot, batch);
    }

    /// <summary>Whether the changes together cover [0, size).</summary>
    private static bool Covers(BlockChange[] changes, int size)
    {
        if (changes.Length == 1)
            return changes[0].Offset == 0 && changes[0].Length == size;
        var spans = changes.Select(c => (c.Offset, End: c.Offset + c.Length)).OrderBy(x => x.Offset).ToArray();
        int reached = 0;
        foreach (var (offset, end) in spans)
        {
            if (offset > reached)
                return false;
            reached = Math.Max(reached, end);
        }
        return reached >= size;
    }

    /// <summary>A whole block's content as slice runs: zero slices as deallocations, the rest as data.</summary>
    private static BlockChange[] SliceChanges(byte[] content, int size)
    {
        const int slice = ExtentStore.ExtentStore.SliceSize;
        var list = new List<BlockChange>();
        int i = 0;
        while (i < size)
        {
            bool zero = !content.AsSpan(i, slice).ContainsAnyExcept((byte)0);
            int j = i + slice;
            while (j < size && !content.AsSpan(j, slice).ContainsAnyExcept((byte)0) == zero)
                j += slice;
            list.Add(new BlockChange(i, j - i, zero ? default : content.AsMemory(i, j - i), zero));
            i = j;
        }
        return list.ToArray();
    }

    /// <summary>Moves a block off a failed disk: a new slot elsewhere, the readable slices copied, the lost ones marked bad.</summary>
    private SlotRef Relocate(EngineVDisk v, long block, SlotRef old, MetadataBatch batch)
    {
        var slot = Extents.AllocateSlot(v.Container.Id, v.Id, block, batch, reserved: false);
        Extents.CopySlot(old, slot, v.ToleranceFor(block));
        batch.Add(new MetadataOp.PutBlock(new BlockRecord(v.Id, block, slot.EgroupId, slot.Slot)));
        Extents.FreeSlot(old, batch);
        EngineLog.BlockMoved(_log, v.Name, block, Extents.DiskPathOf(old));
        return slot;
    }

    /// <summary>Deletes a vDisk's data: undrained writes dropped, extents freed, then its row removed.</summary>
    private bool DeleteVDiskJob(VDiskRecord record)
    {
        var released = new List<JournalEntry>();
        var reserved = new List<long>();
        if (_byId.TryGetValue(record.Id, out var v))
            v.DropAll(released, reserved);
        foreach (var e in released)
            Journal.Release(e);
        foreach (var _ in reserved)
            Extents.ReleaseReservation(record.ContainerId);

        _reduction.TryGetValue(record.ContainerId, out var store);
        if (store is { DirtyCount: > 0 })
            Checkpoint(); // so that the counts written below hold only this deletion's changes
        var batch = new MetadataBatch();
        foreach (var b in Metadata.Blocks(record.Id))
        {
            batch.Add(new MetadataOp.DeleteBlock(record.Id, b.Block));
            if (b.Extents is { } ids)
                store?.Release(DedupStore.Deserialize(ids));
            else
                Extents.FreeSlot(new SlotRef(b.EgroupId, b.Slot), batch);
        }
        // The reference counts change with the rows (in this batch, not at the next checkpoint).
        store?.WriteDirty(batch);
        batch.Add(new MetadataOp.DeleteVDisk(record.Id));
        try
        {
            lock (_commitLock)
                Metadata.Commit(batch);
        }
        catch (MetadataException e)
        {
            EngineLog.DrainCommitFailed(_log, e.Message);
            Extents.AbortBatch();
            return false;
        }
        AfterCommit();
        _byId.TryRemove(record.Id, out _);
        return true;
    }

    private void StopDrainer(bool drainFirst)
    {
        if (_drainThread is null)
            return;
        if (drainFirst)
        {
            var done = DrainAsync();
            done.Wait(TimeSpan.FromSeconds(30));
        }
        _stopping = true;
        _drainSignal.Set();
        _drainThread.Join(TimeSpan.FromSeconds(30));
        _drainThread = null;
    }
}
