using System.Buffers;
using StorageAppliance.DataReduction;
using StorageAppliance.ExtentStore;
using StorageAppliance.Metadata;

namespace StorageAppliance.VDisk;

/// <summary>What a Curator pass found and did.</summary>
public sealed record CuratorReport(
    DateTimeOffset Started,
    TimeSpan Took,
    bool Scrubbed,
    int BlocksReduced,
    long BytesReduced,
    int ReferencesFixed,
    int OrphanSlotsFreed,
    int ExtentsCollected,
    long BytesCollected,
    int PacksFreed,
    int PacksCompacted,
    long BytesMoved,
    int ExtentsVerified,
    int BlocksVerified,
    IReadOnlyList<string> Problems);

/// <summary>Where the running pass is: its phase, and how far through it.</summary>
public sealed record CuratorProgress(bool Running, string Phase, long Done, long Total, CuratorReport? Last);

// The Curator (seed 003): a background service that scans the metadata in passes and
//   1. reduces (dedup + compression) blocks of reducing vDisks that went to a slot and have been quiet for the
//      container's post-process delay: partial writes in an inline container, every write in a post-process one;
//   2. audits reference counts against the vDisk map (fixing any that disagree) and frees orphan slots no block
//      names (left by an interrupted write, should one ever commit half-way);
//   3. collects deduplicated extents no block refers to any more, and pack slots left empty;
//   4. compacts packs whose live data fell under half a slot, copying their live extents together;
//   5. with scrub, reads every extent and slot back, checking slice CRCs and each shared extent's SHA-1.
// Every step runs on the drainer thread, a little per round, so it never races the data path and yields to it:
// a background pass takes a few blocks per round; an operator's `curator scan` runs a round after another.
// Its changes join the checkpoint batch, so a crash at any point leaves the last checkpoint's state, whose slots
// and packs still hold everything it names.
public sealed partial class StorageEngine
{
    private const int CuratorBlocksPerStep = 16;
    private const double CompactThreshold = 0.5;

    private sealed class CuratorPass(bool scrub, bool urgent)
    {
        public bool Scrub { get; } = scrub;
        public bool Urgent { get; } = urgent;
        public DateTimeOffset Started { get; } = DateTimeOffset.UtcNow;
        public TaskCompletionSource<CuratorReport> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Phase;
        public List<(EngineVDisk VDisk, long Block)>? Work;
        public int Next;
        public int BlocksReduced;
        public long BytesReduced;
        public int ReferencesFixed;
        public int OrphansFreed;
        public int ExtentsCollected;
        public long BytesCollected;
        public int PacksFreed;
        public int PacksCompacted;
        public long BytesMoved;
        public int ExtentsVerified;
        public int BlocksVerified;

        /// <summary>Compaction steps left for the store being compacted: a pass compacts what was sparse when it got there, not what writes keep making sparse meanwhile.</summary>
        public int CompactSteps = -1;
        public List<string> Problems { get; } = new();
        public volatile string PhaseName = "starting";
        public long Progress;
        public long Total;
    }

    private volatile CuratorPass? _curatorPass;
    private CuratorReport? _lastCuratorReport;
    private long _lastBackgroundPass = Environment.TickCount64;

    /// <summary>Seconds between background passes (0: none); tests turn it off.</summary>
    public TimeSpan CuratorInterval { get; set; } = TimeSpan.FromMinutes(5);

    public CuratorProgress CuratorStatus
    {
        get
        {
            var p = _curatorPass;
            return p is null
                ? new CuratorProgress(false, "idle", 0, 0, _lastCuratorReport)
                : new CuratorProgress(true, p.PhaseName, Interlocked.Read(ref p.Progress), Interlocked.Read(ref p.Total), _lastCuratorReport);
        }
    }

    /// <summary>Runs a Curator pass now, without pausing between steps (after the one in progress, if any).</summary>
    public Task<CuratorReport> RunCuratorAsync(bool scrub = true)
    {
        var pass = new CuratorPass(scrub, urgent: true);
        _jobs.Enqueue(() => CuratorStep(pass));
        _drainSignal.Set();
        return pass.Completion.Task;
    }

    /// <summary>Starts a background pass when one is due (called by the drain loop).</summary>
    private void MaybeStartBackgroundPass()
    {
        if (CuratorInterval <= TimeSpan.Zero || _curatorPass is not null)
            return;
        if (Environment.TickCount64 - _lastBackgroundPass < (long)CuratorInterval.TotalMilliseconds)
            return;
        _lastBackgroundPass = Environment.TickCount64;
        var pass = new CuratorPass(scrub: false, urgent: false);
        _jobs.Enqueue(() => CuratorStep(pass));
    }

    /// <summary>One step of a pass; true when the pass is over.</summary>
    private bool CuratorStep(CuratorPass pass)
    {
        if (_curatorPass is not null && !ReferenceEquals(_curatorPass, pass))
            return false; // another pass is running: wait for it
        // A background pass yields to foreground writes waiting to drain.
        if (!pass.Urgent && Journal.PendingBytes >= _options.DrainThresholdBytes / 2)
            return false;
        _curatorPass = pass;
        try
        {
            bool phaseDone = pass.Phase switch
            {
                0 => ReduceStep(pass),
                1 => AuditStep(pass),
                2 => CollectStep(pass),
                3 => CompactStep(pass),
                4 => !pass.Scrub || ScrubStep(pass),
                _ => true,
            };
            if (phaseDone)
            {
                pass.Phase++;
                pass.Work = null;
                pass.Next = 0;
            }
            if (pass.Phase <= 4)
            {
                if (pass.Urgent)
                    _drainSignal.Set();
                return false;
            }
            Checkpoint();
            var report = new CuratorReport(pass.Started, DateTimeOffset.UtcNow - pass.Started, pass.Scrub, pass.BlocksReduced, pass.BytesReduced,
                pass.ReferencesFixed, pass.OrphansFreed, pass.ExtentsCollected, pass.BytesCollected, pass.PacksFreed, pass.PacksCompacted,
                pass.BytesMoved, pass.ExtentsVerified, pass.BlocksVerified, pass.Problems.ToList());
            _lastCuratorReport = report;
            _curatorPass = null;
            EngineLog.CuratorPass(_log, report.BlocksReduced, report.ExtentsCollected, report.BytesCollected, report.PacksCompacted, report.Problems.Count);
            foreach (var problem in report.Problems)
                EngineLog.CuratorProblem(_log, problem);
            pass.Completion.TrySetResult(report);
            return true;
        }
        catch (Exception e)
        {
            _curatorPass = null;
            EngineLog.CuratorFailed(_log, e.Message, e);
            pass.Completion.TrySetException(e);
            return true;
        }
    }

    private void SetPhase(CuratorPass pass, string name, long total)
    {
        pass.PhaseName = name;
        Interlocked.Exchange(ref pass.Total, total);
        Interlocked.Exchange(ref pass.Progress, 0);
    }

    // ---------------------------------------------------------------- 1. post-process reduction

    private bool ReduceStep(CuratorPass pass)
    {
        if (pass.Work is null)
        {
            Checkpoint(); // the vDisk map then lists every block applied so far
            pass.Work = new List<(EngineVDisk, long)>();
            foreach (var v in _byId.Values)
            {
                if (v.Deleted || !v.Reduce || v.Dedup is null)
                    continue;
                foreach (var b in Metadata.Blocks(v.Id))
                    if (b.Extents is null)
                        pass.Work.Add((v, b.Block));
            }
            SetPhase(pass, "reducing blocks", pass.Work.Count);
        }
        int budget = pass.Urgent ? CuratorBlocksPerStep * 4 : CuratorBlocksPerStep;
        var buffer = ArrayPool<byte>.Shared.Rent(pass.Work.Count > 0 ? pass.Work[0].VDisk.BlockSize : 1);
        try
        {
            while (pass.Next < pass.Work.Count && budget-- > 0)
            {
                var (v, block) = pass.Work[pass.Next++];
                Interlocked.Increment(ref pass.Progress);
                if (v.Deleted)
                    continue;
                long delay = (long)v.Dedup!.Spec.PostProcessDelay.TotalMilliseconds;
                lock (v.StripeOf(block))
                {
                    var (loc, chunks) = v.EnsureExtents(block);
                    if (Busy(v, block) || WrittenWithin(v, block, delay) || loc.IsNone || chunks is not null || Extents.IsOnFailedDisk(loc))
                        continue;
                    var content = buffer.AsSpan(0, v.BlockSize);
                    var r = Extents.Read(loc, 0, content, null, out int failedSlice);
                    if (r != ExtentReadResult.Ok)
                    {
                        pass.Problems.Add($"vDisk {v.Name} block {block} (offset {(block << v.BlockShift) + Math.Max(0, failedSlice) * (long)ExtentStore.ExtentStore.SliceSize}) cannot be read: {r}; left as it is");
                        continue;
                    }
                    try
                    {
                        ReduceBlock(v, block, content, loc, null, _checkpointBatch);
                    }
                    catch (IOException e)
                    {
                        pass.Problems.Add($"vDisk {v.Name} block {block} could not be reduced: {e.Message}");
                        return true;
                    }
                    pass.BlocksReduced++;
                    pass.BytesReduced += v.BlockSize;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return pass.Next >= pass.Work.Count;
    }

    // ---------------------------------------------------------------- 2. audit

    /// <summary>
    /// Right after a checkpoint the metadata equals the applied state, so reference counts can be checked against
    /// the vDisk map: every count is set to the number of blocks listing the extent, an extent listed but unknown
    /// is reported (data lost), and a slot no block names is freed.
    /// </summary>
    private bool AuditStep(CuratorPass pass)
    {
        SetPhase(pass, "auditing references", _reduction.Count);
        Checkpoint();
        var vdiskContainer = Metadata.VDisks().ToDictionary(v => v.Id, v => v.ContainerId);
        var counts = _reduction.Keys.ToDictionary(id => id, _ => new Dictionary<ExtentId, long>());
        var named = new HashSet<SlotRef>();
        foreach (var (vid, cid) in vdiskContainer)
        {
            counts.TryGetValue(cid, out var map);
            foreach (var b in Metadata.Blocks(vid))
            {
                if (b.Extents is null)
                {
                    named.Add(new SlotRef(b.EgroupId, b.Slot));
                    continue;
                }
                if (map is null)
                    continue;
                foreach (var id in DedupStore.Deserialize(b.Extents))
                    map[id] = map.GetValueOrDefault(id) + 1;
            }
        }
        foreach (var (cid, store) in _reduction)
        {
            var map = counts[cid];
            foreach (var (id, refs) in store.References())
            {
                long actual = map.GetValueOrDefault(id);
                if (actual != refs)
                {
                    store.SetReferences(id, actual);
                    pass.ReferencesFixed++;
                }
                map.Remove(id);
            }
            foreach (var (id, refs) in map)
                pass.Problems.Add($"extent {id} is listed by {refs} block(s) of container {_containers.Values.FirstOrDefault(c => c.Id == cid)?.Name} but is not stored: those blocks cannot be read");
            Interlocked.Increment(ref pass.Progress);
        }
        foreach (var x in Metadata.Extents())
        {
            if (x.OwnerVDiskId == 0 && x.Block == DedupStore.PackBlock)
                continue;
            var slot = new SlotRef(x.EgroupId, x.Slot);
            if (named.Contains(slot))
                continue;
            Extents.FreeSlot(slot, _checkpointBatch);
            pass.OrphansFreed++;
        }
        if (pass.OrphansFreed > 0)
            pass.Problems.Add($"{pass.OrphansFreed} slot(s) no block named were freed");
        return true;
    }

    // ---------------------------------------------------------------- 3. collection, 4. compaction

    private bool CollectStep(CuratorPass pass)
    {
        SetPhase(pass, "collecting unreferenced extents", _reduction.Count);
        foreach (var store in _reduction.Values)
        {
            var (chunks, bytes, packs) = store.Collect(_checkpointBatch);
            pass.ExtentsCollected += chunks;
            pass.BytesCollected += bytes;
            pass.PacksFreed += packs;
            Interlocked.Increment(ref pass.Progress);
        }
        return true;
    }

    private bool CompactStep(CuratorPass pass)
    {
        if (pass.Next == 0)
            SetPhase(pass, "compacting extent groups", _reduction.Count);
        var stores = _reduction.Values.ToList();
        int perStep = pass.Urgent ? 16 : 2;
        while (pass.Next < stores.Count)
        {
            var store = stores[pass.Next];
            if (pass.CompactSteps < 0)
                pass.CompactSteps = store.Space().Packs / perStep + 1;
            var (packs, moved) = pass.CompactSteps-- > 0 ? store.Compact(CompactThreshold, _checkpointBatch, perStep) : (0, 0L);
            pass.PacksCompacted += packs;
            pass.BytesMoved += moved;
            if (packs > 0)
                return false; // more next step
            pass.Next++;
            pass.CompactSteps = -1;
            Interlocked.Increment(ref pass.Progress);
        }
        return true;
    }

    // ---------------------------------------------------------------- 5. scrub

    private bool ScrubStep(CuratorPass pass)
    {
        if (pass.Work is null)
        {
            Checkpoint();
            pass.Work = new List<(EngineVDisk, long)>();
            foreach (var v in _byId.Values.Where(v => !v.Deleted))
                foreach (var b in Metadata.Blocks(v.Id))
                    pass.Work.Add((v, b.Block));
            SetPhase(pass, "verifying checksums", pass.Work.Count);
            _scrubbed.Clear();
        }
        int budget = pass.Urgent ? CuratorBlocksPerStep * 4 : CuratorBlocksPerStep;
        byte[]? buffer = null;
        try
        {
            while (pass.Next < pass.Work.Count && budget-- > 0)
            {
                var (v, block) = pass.Work[pass.Next++];
                Interlocked.Increment(ref pass.Progress);
                buffer ??= ArrayPool<byte>.Shared.Rent(v.BlockSize);
                lock (v.StripeOf(block))
                {
                    var (loc, chunks) = v.EnsureExtents(block);
                    long blockOffset = block << v.BlockShift;
                    if (chunks is not null)
                    {
                        long at = 0;
                        foreach (var id in chunks)
                        {
                            if (_scrubbed.Add((v.Container.Id, id)))
                            {
                                var r = v.Dedup!.Verify(id, buffer, v.SharesExtents);
                                pass.ExtentsVerified++;
                                if (r != ExtentReadResult.Ok)
                                    pass.Problems.Add($"corrupt extent {id} ({r}), used by vDisk {v.Name} at offset {blockOffset + at}; reads of it fail with MEDIUM ERROR");
                            }
                            at += id.Size;
                        }
                    }
                    else if (!loc.IsNone)
                    {
                        var r = Extents.Read(loc, 0, buffer.AsSpan(0, v.BlockSize), v.ToleranceFor(block), out int failedSlice);
                        pass.BlocksVerified++;
                        if (r != ExtentReadResult.Ok)
                            pass.Problems.Add($"corrupt data in vDisk {v.Name} at offset {blockOffset + Math.Max(0, failedSlice) * (long)ExtentStore.ExtentStore.SliceSize} ({r}, disk {Extents.DiskPathOf(loc)}); reads of it fail with MEDIUM ERROR");
                    }
                }
            }
        }
        finally
        {
            if (buffer is not null)
                ArrayPool<byte>.Shared.Return(buffer);
        }
        return pass.Next >= pass.Work.Count;
    }

    private readonly HashSet<(long Container, ExtentId Id)> _scrubbed = new();

    // ---------------------------------------------------------------- statistics

    /// <summary>
    /// Every block of a vDisk that holds data, as it is now: the committed vDisk map, overridden by what the drainer
    /// applied since the last checkpoint (statistics must not lag the data by a checkpoint interval).
    /// </summary>
    private IEnumerable<(SlotRef Slot, ExtentId[]? Chunks)> CurrentBlocks(EngineVDisk v)
    {
        var blocks = new Dictionary<long, (SlotRef, ExtentId[]?)>();
        foreach (var b in Metadata.Blocks(v.Id))
            blocks[b.Block] = b.Extents is { } ids ? (SlotRef.None, DedupStore.Deserialize(ids)) : (new SlotRef(b.EgroupId, b.Slot), null);
        lock (v.Lock)
        {
            foreach (var (block, s) in v.Blocks)
                if (s.LocationKnown)
                    blocks[block] = (s.Location, s.Chunks);
        }
        foreach (var (slot, chunks) in blocks.Values)
            if (chunks is not null || !slot.IsNone)
                yield return (slot, chunks);
    }

    /// <summary>Bytes of data a deduplicated block holds (chunks of zeros excluded).</summary>
    private static long LogicalBytes(DedupStore? store, ExtentId[] ids)
    {
        long n = 0;
        foreach (var id in ids)
            if (store is null || !store.TryGetInfo(id, out int stored, out _) || stored > 0)
                n += id.Size;
        return n;
    }

    /// <summary>
    /// Data reduction per container and per vDisk: logical bytes (data the vDisks hold, zeros excluded), stored bytes
    /// (slot data, plus each deduplicated extent once, as kept: compressed or raw; a vDisk is charged its share of an
    /// extent it shares), and the count of distinct extents.
    /// </summary>
    public IReadOnlyList<ReductionFigures> ReductionStats()
    {
        var result = new List<ReductionFigures>();
        foreach (var c in _containers.Values.OrderBy(c => c.Name, StringComparer.Ordinal))
        {
            var store = _reduction[c.Id];
            long cLogical = 0, cSlot = 0;
            int at = result.Count;
            foreach (var v in _byId.Values.Where(v => v.Container.Id == c.Id && !v.Deleted).OrderBy(v => v.Name, StringComparer.Ordinal))
            {
                long logical = 0, stored = 0;
                double share = 0;
                foreach (var (slot, chunks) in CurrentBlocks(v))
                {
                    if (chunks is not null)
                    {
                        foreach (var id in chunks)
                        {
                            if (!store.TryGetInfo(id, out int len, out long refs))
                                continue;
                            if (len > 0)
                                logical += id.Size;
                            share += refs > 0 ? (double)len / refs : len;
                        }
                    }
                    else
                    {
                        long written = Extents.WrittenBytes(slot);
                        logical += written;
                        stored += written;
                    }
                }
                cLogical += logical;
                cSlot += stored;
                result.Add(new ReductionFigures(v.Name, c.Name, logical, stored + (long)share, 0));
            }
            var (live, liveChunks, _) = store.Space();
            result.Insert(at, new ReductionFigures(null, c.Name, cLogical, cSlot + live, liveChunks));
        }
        return result;
    }
}

/// <summary>One row of <see cref="StorageEngine.ReductionStats"/>: a container (VDisk null) or one of its vDisks.</summary>
public sealed record ReductionFigures(string? VDisk, string Container, long LogicalBytes, long StoredBytes, long Extents)
{
    public long SavedBytes => Math.Max(0, LogicalBytes - StoredBytes);

    /// <summary>Logical over stored bytes; 0 when nothing is stored.</summary>
    public double Ratio => StoredBytes == 0 ? 0 : (double)LogicalBytes / StoredBytes;
}
