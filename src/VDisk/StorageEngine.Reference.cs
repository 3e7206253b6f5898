using StorageAppliance.DataReduction;
using StorageAppliance.ExtentStore;
using StorageAppliance.Metadata;

namespace StorageAppliance.VDisk;

// EXTENDED COPY and WRITE SAME as reference-count changes (issue 7): whole blocks of the destination come to list
// the extents the source block lists (or those of one block of the pattern), counted once more, instead of data
// being read, journaled and drained again. Done on the drainer thread, where every change of a block's extents
// happens, and checkpointed before the command completes, so the result is as durable as a flushed write.
// A block is done this way only while nothing of it waits in the journal (an older write applied after the new
// list would put old data over it); the first block that does not qualify ends the run and the caller moves the
// rest as data.
public sealed partial class StorageEngine
{
    internal Task<long> ReferenceBlocksAsync(EngineVDisk? source, long sourceBlock, EngineVDisk destination, long block, long count, ReadOnlyMemory<byte> pattern)
    {
        var tcs = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        _jobs.Enqueue(() =>
        {
            try
            {
                tcs.TrySetResult(ReferenceBlocks(source, sourceBlock, destination, block, count, pattern));
            }
            catch (Exception e) when (e is IOException or MetadataException)
            {
                tcs.TrySetResult(0); // the caller moves the data instead
            }
            return true;
        });
        _drainSignal.Set();
        return tcs.Task;
    }

    private long ReferenceBlocks(EngineVDisk? source, long sourceBlock, EngineVDisk dst, long first, long count, ReadOnlyMemory<byte> pattern)
    {
        var store = dst.Dedup!;
        ExtentId[]? patternIds = null;
        bool patternReferenced = true; // Store counts the first reference itself
        if (source is null)
        {
            var content = new byte[dst.BlockSize];
            for (int at = 0; at < content.Length; at += pattern.Length)
                pattern.Span.CopyTo(content.AsSpan(at));
            patternIds = store.Store(content, 0, 0, _checkpointBatch);
            patternReferenced = false;
        }

        long done = 0;
        for (; done < count; done++)
        {
            long db = first + done;
            long sb = sourceBlock + done;
            if (!ReferenceOne(source, sb, dst, db, patternIds, ref patternReferenced))
                break;
        }
        if (patternIds is not null && !patternReferenced)
            store.Release(patternIds);
        Checkpoint();
        return done << dst.BlockShift;
    }

    private bool ReferenceOne(EngineVDisk? source, long sb, EngineVDisk dst, long db, ExtentId[]? patternIds, ref bool patternReferenced)
    {
        var store = dst.Dedup!;
        // Two stripes at most, taken in one order; readers take only one, so this cannot deadlock.
        object a = dst.StripeOf(db);
        object b = source is null ? a : source.StripeOf(sb);
        lock (a)
        {
            lock (b)
            {
                var (oldSlot, oldChunks) = dst.EnsureExtents(db);
                if (Busy(dst, db))
                    return false;
                ExtentId[]? ids;
                if (source is null)
                {
                    ids = patternIds;
                }
                else
                {
                    var (slot, chunks) = source.EnsureExtents(sb);
                    if (Busy(source, sb) || (!slot.IsNone && chunks is null))
                        return false; // a slot block is not reduced yet: copy it as data
                    ids = chunks;
                }
                if (ids is not null)
                {
                    if (source is null && !patternReferenced)
                        patternReferenced = true;
                    else if (!store.TryAddReferences(ids))
                        return false;
                }
                if (oldChunks is not null)
                    store.Release(oldChunks);
                dst.Publish(db, SlotRef.None, ids);
                _checkpointBatch.Add(ids is null
                    ? new MetadataOp.DeleteBlock(dst.Id, db)
                    : new MetadataOp.PutBlock(new BlockRecord(dst.Id, db, 0, -1, DedupStore.Serialize(ids))));
                if (!oldSlot.IsNone)
                    Extents.FreeSlot(oldSlot, _checkpointBatch);
                return true;
            }
        }
    }

    /// <summary>A write of the block waits in the journal (or holds a reservation for one).</summary>
    private static bool Busy(EngineVDisk v, long block)
    {
        lock (v.Lock)
            return v.Blocks.TryGetValue(block, out var s) && (s.Pending is { Count: > 0 } || s.Reserved);
    }

    /// <summary>The block was written less than <paramref name="milliseconds"/> ago (since start).</summary>
    private static bool WrittenWithin(EngineVDisk v, long block, long milliseconds)
    {
        lock (v.Lock)
            return v.Blocks.TryGetValue(block, out var s) && s.LastWriteTicks != 0 && Environment.TickCount64 - s.LastWriteTicks < milliseconds;
    }
}
