using System.Buffers.Binary;
using System.Text;

namespace StorageAppliance.Metadata.Tests;

/// <summary>
/// The <see cref="IMetadataStore"/> contract, written once and run against every implementation: upserts, deletes,
/// order within a batch, atomicity, snapshot reads during commits, durable ids, drain point and values.
/// </summary>
public abstract class MetadataStoreContractTests
{
    protected IMetadataStore Store { get; private set; } = null!;

    /// <summary>A new, empty store (each call a different one).</summary>
    protected abstract IMetadataStore CreateStore(long? applianceIdIfNew = null);

    /// <summary>Closes <paramref name="store"/> and opens what it persisted, as a restarted appliance would.</summary>
    protected abstract IMetadataStore ReopenStore(IMetadataStore store, long? applianceIdIfNew = null);

    /// <summary>Makes the next commit of <paramref name="store"/> fail after applying <paramref name="afterOps"/> ops.</summary>
    protected abstract void FailNextCommit(IMetadataStore store, int afterOps);

    [SetUp]
    public void CreateTheStore() => Store = CreateStore();

    [TearDown]
    public void DisposeTheStore() => Store.Dispose();

    protected void Reopen(long? applianceIdIfNew = null) => Store = ReopenStore(Store, applianceIdIfNew);

    [Test]
    public void DedupExtents_AndDeduplicatedBlocks_RoundTrip_PerContainer_AndSurviveReopen()
    {
        byte[] id = new byte[24];
        id[3] = 200;
        id[23] = 7;
        byte[] list = [.. id, .. id];
        Store.Commit(new MetadataBatch()
            .Add(new MetadataOp.PutDedupExtent(new DedupExtentRecord(5, id, 70, 2, 8192, 1000, new DedupEncoding(2, 1), 3)))
            .Add(new MetadataOp.PutDedupExtent(new DedupExtentRecord(6, id, 0, -1, 0, 0, new DedupEncoding(0, 0), 1)))
            .Add(new MetadataOp.PutBlock(new BlockRecord(9, 4, 0, -1, list)))
            .Add(new MetadataOp.PutBlock(new BlockRecord(9, 5, 70, 3))));
        Reopen();
        var rows = Store.DedupExtents().OrderBy(r => r.ContainerId).ToList();
        Assert.That(rows, Has.Count.EqualTo(2), "the same id in two containers is two extents");
        Assert.That((rows[0].EgroupId, rows[0].Slot, rows[0].Offset, rows[0].StoredLength, rows[0].Encoding, rows[0].RefCount), Is.EqualTo((70L, 2, 8192, 1000, new DedupEncoding(2, 1), 3L)));
        Assert.That(rows[0].ExtentId, Is.EqualTo(id));
        Assert.That(Store.TryGetBlock(9, 4, out var b4), Is.True);
        Assert.That(b4!.Extents, Is.EqualTo(list));
        Assert.That(b4.IsDeduplicated, Is.True);
        Assert.That(Store.Blocks(9).Single(b => b.Block == 5).Extents, Is.Null, "an ordinary block has no extent list");
        Store.Commit(new MetadataBatch().Add(new MetadataOp.DeleteDedupExtent(5, id)));
        Assert.That(Store.DedupExtents().Single().ContainerId, Is.EqualTo(6));
    }

    [Test]
    public void NewStore_IsEmpty()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Store.Pools(), Is.Empty);
            Assert.That(Store.Disks(), Is.Empty);
            Assert.That(Store.Containers(), Is.Empty);
            Assert.That(Store.VDisks(), Is.Empty);
            Assert.That(Store.Egroups(), Is.Empty);
            Assert.That(Store.Extents(), Is.Empty);
            Assert.That(Store.Blocks(1), Is.Empty);
            Assert.That(Store.TryGetBlock(1, 0, out _), Is.False);
            Assert.That(Store.TryGetExtentId(Rec.Sha1Like(1), out _), Is.False);
            Assert.That(Store.GetValue("anything"), Is.Null);
            Assert.That(Store.DrainedSequence, Is.Zero);
        });
    }

    [Test]
    public void EveryRecordType_RoundTripsWithAllItsFields()
    {
        Store.Commit(Rec.Batch(
            new MetadataOp.PutPool(Rec.Pool(1)),
            new MetadataOp.PutDisk(Rec.Disk(4, tier: StorageTier.Hdd)),
            new MetadataOp.PutDisk(Rec.Disk(5, tier: StorageTier.Ssd)),
            new MetadataOp.PutContainer(Rec.Container(9)),
            new MetadataOp.PutVDisk(Rec.VDisk(21, state: VDiskState.Deleting)),
            new MetadataOp.PutVDisk(Rec.VDisk(22, "other", VDiskState.Active) with { Thin = false }),
            new MetadataOp.PutEgroup(Rec.Egroup(77)),
            new MetadataOp.PutEgroup(Rec.Egroup(78) with { DiskOffset = 123L << 32 }),
            new MetadataOp.PutExtent(Rec.Extent(77, 3, refCount: 2)),
            new MetadataOp.PutExtentId(Rec.Sha1Like(1), 78),
            new MetadataOp.PutBlock(Rec.Block(21, long.MaxValue - 1, 77, 3)),
            new MetadataOp.PutValue("pr/lun0", [1, 2, 3])));

        Assert.Multiple(() =>
        {
            Assert.That(Store.Pools(), Is.EqualTo(new[] { Rec.Pool(1) }));
            Assert.That(Store.Disks(), Is.EqualTo(new[] { Rec.Disk(4, tier: StorageTier.Hdd), Rec.Disk(5, tier: StorageTier.Ssd) }));
            Assert.That(Store.Containers(), Is.EqualTo(new[] { Rec.Container(9) }));
            Assert.That(Store.VDisks(), Is.EqualTo(new[] { Rec.VDisk(21, state: VDiskState.Deleting), Rec.VDisk(22, "other", VDiskState.Active) with { Thin = false } }));
            Assert.That(Store.Egroups(), Is.EqualTo(new[] { Rec.Egroup(77), Rec.Egroup(78) with { DiskOffset = 123L << 32 } }));
            Assert.That(Store.Extents(), Is.EqualTo(new[] { Rec.Extent(77, 3, refCount: 2) }));
            Assert.That(Store.TryGetBlock(21, long.MaxValue - 1, out BlockRecord? block), Is.True);
            Assert.That(block, Is.EqualTo(Rec.Block(21, long.MaxValue - 1, 77, 3)));
            Assert.That(Store.TryGetExtentId(Rec.Sha1Like(1), out long egroup), Is.True);
            Assert.That(egroup, Is.EqualTo(78));
            Assert.That(Store.GetValue("pr/lun0"), Is.EqualTo(new byte[] { 1, 2, 3 }));
        });
    }

    [Test]
    public void Put_IsAnUpsertByKey()
    {
        Store.Commit(Rec.Batch(
            new MetadataOp.PutPool(Rec.Pool(1, "first")),
            new MetadataOp.PutDisk(Rec.Disk(4)),
            new MetadataOp.PutContainer(Rec.Container(9, "first")),
            new MetadataOp.PutVDisk(Rec.VDisk(21, "first")),
            new MetadataOp.PutEgroup(Rec.Egroup(77, owner: 1)),
            new MetadataOp.PutExtent(Rec.Extent(77, 0, refCount: 1)),
            new MetadataOp.PutExtentId(Rec.Sha1Like(1), 77),
            new MetadataOp.PutBlock(Rec.Block(21, 5, 77, 0)),
            new MetadataOp.PutValue("k", [1])));
        Store.Commit(Rec.Batch(
            new MetadataOp.PutPool(Rec.Pool(1, "second")),
            new MetadataOp.PutDisk(Rec.Disk(4, poolId: 2)),
            new MetadataOp.PutContainer(Rec.Container(9, "second")),
            new MetadataOp.PutVDisk(Rec.VDisk(21, "second")),
            new MetadataOp.PutEgroup(Rec.Egroup(77, owner: 2)),
            new MetadataOp.PutExtent(Rec.Extent(77, 0, refCount: 3)),
            new MetadataOp.PutExtentId(Rec.Sha1Like(1), 78),
            new MetadataOp.PutBlock(Rec.Block(21, 5, 78, 1)),
            new MetadataOp.PutValue("k", [2, 2])));

        Assert.Multiple(() =>
        {
            Assert.That(Store.Pools(), Is.EqualTo(new[] { Rec.Pool(1, "second") }));
            Assert.That(Store.Disks(), Is.EqualTo(new[] { Rec.Disk(4, poolId: 2) }));
            Assert.That(Store.Containers(), Is.EqualTo(new[] { Rec.Container(9, "second") }));
            Assert.That(Store.VDisks(), Is.EqualTo(new[] { Rec.VDisk(21, "second") }));
            Assert.That(Store.Egroups(), Is.EqualTo(new[] { Rec.Egroup(77, owner: 2) }));
            Assert.That(Store.Extents(), Is.EqualTo(new[] { Rec.Extent(77, 0, refCount: 3) }));
            Assert.That(Store.TryGetExtentId(Rec.Sha1Like(1), out long egroup) ? egroup : -1, Is.EqualTo(78));
            Assert.That(Store.Blocks(21), Is.EqualTo(new[] { Rec.Block(21, 5, 78, 1) }));
            Assert.That(Store.GetValue("k"), Is.EqualTo(new byte[] { 2, 2 }));
        });
    }

    [Test]
    public void Delete_OfMissingKeys_IsNotAnError()
    {
        Assert.DoesNotThrow(() => Store.Commit(Rec.Batch(
            new MetadataOp.DeleteVDisk(1),
            new MetadataOp.DeleteEgroup(2),
            new MetadataOp.DeleteExtent(2, 0),
            new MetadataOp.DeleteExtentId(Rec.Sha1Like(3)),
            new MetadataOp.DeleteBlock(1, 0),
            new MetadataOp.DeleteValue("never-written"))));
        Assert.That(Snapshot.Of(Store, 1), Is.EqualTo("drained 0"));
        Assert.That(Store.GetValue("never-written"), Is.Null);
    }

    [Test]
    public void Delete_RemovesOnlyItsKey()
    {
        Store.Commit(Rec.Batch(
            new MetadataOp.PutVDisk(Rec.VDisk(21)), new MetadataOp.PutVDisk(Rec.VDisk(22)),
            new MetadataOp.PutEgroup(Rec.Egroup(77)), new MetadataOp.PutEgroup(Rec.Egroup(78)),
            new MetadataOp.PutExtent(Rec.Extent(77, 0)), new MetadataOp.PutExtent(Rec.Extent(77, 1)), new MetadataOp.PutExtent(Rec.Extent(78, 0)),
            new MetadataOp.PutExtentId(Rec.Sha1Like(1), 77), new MetadataOp.PutExtentId(Rec.Sha1Like(2), 78),
            new MetadataOp.PutBlock(Rec.Block(21, 0)), new MetadataOp.PutBlock(Rec.Block(21, 1)), new MetadataOp.PutBlock(Rec.Block(22, 0)),
            new MetadataOp.PutValue("a", [1]), new MetadataOp.PutValue("b", [2])));
        Store.Commit(Rec.Batch(
            new MetadataOp.DeleteVDisk(21), new MetadataOp.DeleteEgroup(77), new MetadataOp.DeleteExtent(77, 0),
            new MetadataOp.DeleteExtentId(Rec.Sha1Like(1)), new MetadataOp.DeleteBlock(21, 0), new MetadataOp.DeleteValue("a")));

        Assert.Multiple(() =>
        {
            Assert.That(Store.VDisks().Select(v => v.Id), Is.EqualTo(new[] { 22L }));
            Assert.That(Store.Egroups().Select(e => e.Id), Is.EqualTo(new[] { 78L }));
            Assert.That(Store.Extents(), Is.EqualTo(new[] { Rec.Extent(77, 1), Rec.Extent(78, 0) }));
            Assert.That(Store.TryGetExtentId(Rec.Sha1Like(1), out _), Is.False);
            Assert.That(Store.TryGetExtentId(Rec.Sha1Like(2), out _), Is.True);
            Assert.That(Store.Blocks(21), Is.EqualTo(new[] { Rec.Block(21, 1) }));
            Assert.That(Store.Blocks(22), Is.EqualTo(new[] { Rec.Block(22, 0) }));
            Assert.That(Store.GetValue("a"), Is.Null);
            Assert.That(Store.GetValue("b"), Is.EqualTo(new byte[] { 2 }));
        });
    }

    [Test]
    public void Batch_IsAppliedInOrder()
    {
        Store.Commit(Rec.Batch(
            // put then delete: gone
            new MetadataOp.PutBlock(Rec.Block(1, 10)), new MetadataOp.DeleteBlock(1, 10),
            new MetadataOp.PutValue("v1", [1]), new MetadataOp.DeleteValue("v1"),
            new MetadataOp.PutEgroup(Rec.Egroup(5)), new MetadataOp.DeleteEgroup(5),
            new MetadataOp.PutExtentId(Rec.Sha1Like(9), 5), new MetadataOp.DeleteExtentId(Rec.Sha1Like(9)),
            // delete then put: present
            new MetadataOp.DeleteBlock(1, 11), new MetadataOp.PutBlock(Rec.Block(1, 11)),
            new MetadataOp.DeleteExtent(6, 0), new MetadataOp.PutExtent(Rec.Extent(6, 0)),
            // put, put again: the last wins
            new MetadataOp.PutBlock(Rec.Block(1, 12, 100, 0)), new MetadataOp.PutBlock(Rec.Block(1, 12, 200, 1)),
            new MetadataOp.PutVDisk(Rec.VDisk(3, "a")), new MetadataOp.PutVDisk(Rec.VDisk(3, "b")),
            new MetadataOp.SetDrainedSequence(5), new MetadataOp.SetDrainedSequence(7)));

        Assert.Multiple(() =>
        {
            Assert.That(Store.Blocks(1), Is.EqualTo(new[] { Rec.Block(1, 11), Rec.Block(1, 12, 200, 1) }));
            Assert.That(Store.GetValue("v1"), Is.Null);
            Assert.That(Store.Egroups(), Is.Empty);
            Assert.That(Store.TryGetExtentId(Rec.Sha1Like(9), out _), Is.False);
            Assert.That(Store.Extents(), Is.EqualTo(new[] { Rec.Extent(6, 0) }));
            Assert.That(Store.VDisks(), Is.EqualTo(new[] { Rec.VDisk(3, "b") }));
            Assert.That(Store.DrainedSequence, Is.EqualTo(7));
        });
    }

    [Test]
    public void Blocks_AreOrderedByBlock_AndOnlyThoseOfTheVDisk()
    {
        var random = new Random(7);
        long[] blocks = Enumerable.Range(0, 500).Select(_ => random.NextInt64(0, long.MaxValue)).Distinct().ToArray();
        var batch = new MetadataBatch();
        foreach (long b in blocks)
        {
            batch.Add(new MetadataOp.PutBlock(Rec.Block(2, b, egroupId: b % 1000)));
            batch.Add(new MetadataOp.PutBlock(Rec.Block(b % 2 == 0 ? 1 : 3, b)));
        }
        Store.Commit(batch);

        IReadOnlyList<BlockRecord> rows = Store.Blocks(2);
        Assert.That(rows.Select(r => r.Block), Is.EqualTo(blocks.Order()));
        Assert.That(rows.All(r => r.VDiskId == 2 && r.EgroupId == r.Block % 1000), Is.True);
    }

    [Test]
    public void Lists_AreOrderedByKey()
    {
        Store.Commit(Rec.Batch(
            new MetadataOp.PutPool(Rec.Pool(30)), new MetadataOp.PutPool(Rec.Pool(-2)), new MetadataOp.PutPool(Rec.Pool(7)),
            new MetadataOp.PutEgroup(Rec.Egroup(9)), new MetadataOp.PutEgroup(Rec.Egroup(1)),
            new MetadataOp.PutExtent(Rec.Extent(9, 1)), new MetadataOp.PutExtent(Rec.Extent(1, 2)), new MetadataOp.PutExtent(Rec.Extent(9, 0)),
            new MetadataOp.PutExtent(Rec.Extent(1, 0))));

        Assert.That(Store.Pools().Select(p => p.Id), Is.EqualTo(new[] { -2L, 7, 30 }));
        Assert.That(Store.Egroups().Select(e => e.Id), Is.EqualTo(new[] { 1L, 9 }));
        Assert.That(Store.Extents().Select(x => (x.EgroupId, x.Slot)), Is.EqualTo(new[] { (1L, 0), (1L, 2), (9L, 0), (9L, 1) }));
    }

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(6)]
    [TestCase(1000)] // past the last op: fails at the very end
    public void FailedBatch_AppliesNothing_AndTheStoreGoesOn(int afterOps)
    {
        Store.Commit(Rec.Batch(
            new MetadataOp.PutEgroup(Rec.Egroup(1)), new MetadataOp.PutExtent(Rec.Extent(1, 0)),
            new MetadataOp.PutBlock(Rec.Block(5, 0, 1, 0)), new MetadataOp.PutValue("v", [1]),
            new MetadataOp.PutExtentId(Rec.Sha1Like(1), 1), new MetadataOp.SetDrainedSequence(10)));
        string before = Snapshot.Of(Store, 5);

        var batch = Rec.Batch(
            new MetadataOp.PutEgroup(Rec.Egroup(2)), new MetadataOp.PutExtent(Rec.Extent(2, 0)),
            new MetadataOp.PutBlock(Rec.Block(5, 0, 2, 0)), new MetadataOp.PutBlock(Rec.Block(5, 1, 2, 1)),
            new MetadataOp.DeleteExtent(1, 0), new MetadataOp.DeleteEgroup(1), new MetadataOp.PutValue("v", [2]),
            new MetadataOp.DeleteExtentId(Rec.Sha1Like(1)), new MetadataOp.SetDrainedSequence(20));
        FailNextCommit(Store, afterOps);
        Assert.Throws<MetadataException>(() => Store.Commit(batch));

        Assert.That(Snapshot.Of(Store, 5), Is.EqualTo(before));
        Assert.That(Store.GetValue("v"), Is.EqualTo(new byte[] { 1 }));
        Assert.That(Store.TryGetExtentId(Rec.Sha1Like(1), out _), Is.True);
        Assert.That(Store.DrainedSequence, Is.EqualTo(10));

        // One failure only: the same batch commits next time.
        Store.Commit(batch);
        Assert.That(Store.DrainedSequence, Is.EqualTo(20));
        Assert.That(Store.Blocks(5), Is.EqualTo(new[] { Rec.Block(5, 0, 2, 0), Rec.Block(5, 1, 2, 1) }));

        Reopen();
        Assert.That(Store.DrainedSequence, Is.EqualTo(20));
        Assert.That(Store.GetValue("v"), Is.EqualTo(new byte[] { 2 }));
    }

    [Test]
    public void MalformedBatch_IsRejectedWhole_BeforeAnythingIsApplied()
    {
        var batch = Rec.Batch(new MetadataOp.PutBlock(Rec.Block(1, 1)), new MetadataOp.PutPool(new PoolRecord(1, null!)));
        Assert.Throws<ArgumentException>(() => Store.Commit(batch));
        batch = Rec.Batch(new MetadataOp.PutBlock(Rec.Block(1, 1)), null!);
        Assert.Throws<ArgumentException>(() => Store.Commit(batch));
        batch = Rec.Batch(new MetadataOp.PutBlock(Rec.Block(1, 1)), new MetadataOp.PutExtentId([], 3));
        Assert.Throws<ArgumentException>(() => Store.Commit(batch));
        Assert.That(Store.Blocks(1), Is.Empty);
    }

    [Test]
    public void EmptyBatch_ChangesNothing()
    {
        Store.Commit(Rec.Batch(new MetadataOp.SetDrainedSequence(3)));
        Store.Commit(new MetadataBatch());
        Assert.That(Store.DrainedSequence, Is.EqualTo(3));
    }

    [Test]
    public void ReadsDuringCommits_SeeAllOrNothingOfEachBatch()
    {
        const int Rows = 200;
        const long VDisk = 7;
        int generations = Store is MemoryMetadataStore ? 3000 : 400;
        using var done = new CancellationTokenSource();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        long reads = 0;

        // Even generations write all rows, odd ones rewrite the first half and delete the second half:
        // a snapshot holds Rows or Rows/2 rows, all of one generation, matching its parity.
        void Writer()
        {
            for (long g = 1; g <= generations; g++)
            {
                var batch = new MetadataBatch();
                for (int b = 0; b < Rows; b++)
                {
                    batch.Add(g % 2 == 0 || b < Rows / 2
                        ? new MetadataOp.PutBlock(new BlockRecord(VDisk, b, g, b))
                        : new MetadataOp.DeleteBlock(VDisk, b));
                }
                batch.Add(new MetadataOp.PutValue("generation", BitConverter.GetBytes(g)));
                batch.Add(new MetadataOp.SetDrainedSequence(g));
                Store.Commit(batch);
            }
        }

        void Reader()
        {
            long lastGeneration = 0, lastDrained = 0, lastValue = 0;
            while (!done.IsCancellationRequested)
            {
                IReadOnlyList<BlockRecord> rows = Store.Blocks(VDisk);
                Interlocked.Increment(ref reads);
                if (rows.Count == 0)
                {
                    if (lastGeneration != 0)
                        failures.Enqueue($"rows vanished after generation {lastGeneration}");
                    continue;
                }
                long g = rows[0].EgroupId;
                int expected = g % 2 == 0 ? Rows : Rows / 2;
                if (rows.Count != expected || rows.Any(r => r.EgroupId != g) || rows.Select(r => r.Block).Distinct().Count() != rows.Count)
                    failures.Enqueue($"generation {g}: {rows.Count} rows of generations {string.Join(",", rows.Select(r => r.EgroupId).Distinct())}");
                if (g < lastGeneration)
                    failures.Enqueue($"went back from generation {lastGeneration} to {g}");
                lastGeneration = g;

                if (Store.TryGetBlock(VDisk, 0, out BlockRecord? first) && first.EgroupId < lastGeneration)
                    failures.Enqueue($"TryGetBlock saw generation {first.EgroupId} after Blocks saw {lastGeneration}");
                long drained = Store.DrainedSequence;
                if (drained < lastDrained)
                    failures.Enqueue($"DrainedSequence went back from {lastDrained} to {drained}");
                lastDrained = drained;
                byte[]? value = Store.GetValue("generation");
                long v = value is null ? 0 : BitConverter.ToInt64(value);
                if (v < lastValue || v < lastGeneration)
                    failures.Enqueue($"value generation {v} after {Math.Max(lastValue, lastGeneration)}");
                lastValue = v;
            }
        }

        Task[] readers = Enumerable.Range(0, 3).Select(_ => Task.Factory.StartNew(Reader, TaskCreationOptions.LongRunning)).ToArray();
        try
        {
            Writer();
        }
        finally
        {
            done.Cancel();
            Task.WaitAll(readers);
        }

        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(10)));
        Assert.That(Interlocked.Read(ref reads), Is.GreaterThan(100), "the readers hardly ran during the commits");
        Assert.That(Store.Blocks(VDisk), Has.Count.EqualTo(generations % 2 == 0 ? Rows : Rows / 2));
    }

    [Test]
    public void AllocateIds_AreNonZeroConsecutiveAndNeverRepeat()
    {
        var ranges = new List<(long First, int Count)>();
        foreach (int count in new[] { 1, 1, 5, 1000, 1, 3000, 7 })
            ranges.Add((Store.AllocateIds(count), count));

        for (int i = 0; i < ranges.Count; i++)
        {
            Assert.That(ranges[i].First, Is.GreaterThan(0));
            if (i > 0)
                Assert.That(ranges[i].First, Is.GreaterThanOrEqualTo(ranges[i - 1].First + ranges[i - 1].Count), "ranges overlap or go back");
        }
    }

    [Test]
    public void AllocateIds_FromManyThreads_NeverOverlap()
    {
        var firsts = new System.Collections.Concurrent.ConcurrentBag<long>();
        Parallel.For(0, 4000, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => firsts.Add(Store.AllocateIds(3)));
        long[] sorted = firsts.Order().ToArray();
        for (int i = 1; i < sorted.Length; i++)
            Assert.That(sorted[i], Is.GreaterThanOrEqualTo(sorted[i - 1] + 3));
    }

    [Test]
    public void AllocateIds_NeverRepeatAcrossReopen()
    {
        var seen = new List<(long First, int Count)>();
        for (int round = 0; round < 4; round++)
        {
            seen.Add((Store.AllocateIds(1), 1));
            seen.Add((Store.AllocateIds(700), 700));
            seen.Add((Store.AllocateIds(2), 2));
            Reopen();
        }
        for (int i = 1; i < seen.Count; i++)
            Assert.That(seen[i].First, Is.GreaterThanOrEqualTo(seen[i - 1].First + seen[i - 1].Count), $"range {i} repeats an earlier id");
    }

    [Test]
    public void AllocateIds_RejectsACountBelowOne()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Store.AllocateIds(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Store.AllocateIds(-1));
    }

    [Test]
    public void DrainedSequence_PersistsAcrossReopen()
    {
        Store.Commit(Rec.Batch(new MetadataOp.SetDrainedSequence(41)));
        Store.Commit(Rec.Batch(new MetadataOp.PutBlock(Rec.Block(1, 1)), new MetadataOp.SetDrainedSequence(42)));
        Reopen();
        Assert.That(Store.DrainedSequence, Is.EqualTo(42));
    }

    [Test]
    public void Values_AreStoredAsCopies()
    {
        byte[] value = Encoding.UTF8.GetBytes("""{"holder":"iqn.1993-08.org.debian:01:abc","type":5}""");
        byte[] original = value.ToArray();
        Store.Commit(Rec.Batch(new MetadataOp.PutValue("pr/lun0", value)));
        value[0] = 0; // the caller reuses its buffer

        byte[]? read = Store.GetValue("pr/lun0");
        Assert.That(read, Is.EqualTo(original));
        read![1] = 0; // and the reader changes what it got
        Assert.That(Store.GetValue("pr/lun0"), Is.EqualTo(original));
    }

    [Test]
    public void Values_EmptyLargeAndUnicodeKeys()
    {
        byte[] large = new byte[1 << 20];
        new Random(1).NextBytes(large);
        Store.Commit(Rec.Batch(
            new MetadataOp.PutValue("empty", []),
            new MetadataOp.PutValue("large", large),
            new MetadataOp.PutValue("clé/ünïcode/日本", [9]),
            new MetadataOp.PutValue("", [8])));

        Assert.Multiple(() =>
        {
            Assert.That(Store.GetValue("empty"), Is.Not.Null.And.Empty);
            Assert.That(Store.GetValue("large"), Is.EqualTo(large));
            Assert.That(Store.GetValue("clé/ünïcode/日本"), Is.EqualTo(new byte[] { 9 }));
            Assert.That(Store.GetValue(""), Is.EqualTo(new byte[] { 8 }));
            Assert.That(Store.GetValue("Empty"), Is.Null, "keys are case-sensitive");
        });
    }

    [Test]
    public void ExtentIdMap_FindsByContentId()
    {
        var batch = new MetadataBatch();
        for (int i = 0; i < 100; i++)
            batch.Add(new MetadataOp.PutExtentId(Rec.Sha1Like(i), 1000 + i));
        Store.Commit(batch);

        for (int i = 0; i < 100; i++)
        {
            Assert.That(Store.TryGetExtentId(Rec.Sha1Like(i), out long egroup), Is.True);
            Assert.That(egroup, Is.EqualTo(1000 + i));
        }
        byte[] other = Rec.Sha1Like(5);
        other[19] ^= 1;
        Assert.That(Store.TryGetExtentId(other, out _), Is.False, "a key differing in one bit is another extent");
        Assert.That(Store.TryGetExtentId(Rec.Sha1Like(5).AsSpan(0, 19), out _), Is.False, "a prefix is another key");
    }

    [Test]
    public void ApplianceId_IsTheRequestedOne_AndStaysAcrossReopen()
    {
        using IMetadataStore store = CreateStore(applianceIdIfNew: 0x0123_4567_89AB_CDEF);
        Assert.That(store.ApplianceId, Is.EqualTo(0x0123_4567_89AB_CDEF));

        long id = Store.ApplianceId;
        Reopen(applianceIdIfNew: 42); // ignored: the store exists
        Assert.That(Store.ApplianceId, Is.EqualTo(id));
    }

    [Test]
    public void ApplianceId_IsRandomAndNonZero_WhenNotGiven()
    {
        using IMetadataStore other = CreateStore();
        Assert.That(Store.ApplianceId, Is.Not.Zero);
        Assert.That(other.ApplianceId, Is.Not.Zero);
        Assert.That(other.ApplianceId, Is.Not.EqualTo(Store.ApplianceId));
    }

    [Test]
    public void Everything_SurvivesReopen()
    {
        long id = Store.ApplianceId;
        long firstId = Store.AllocateIds(10);
        Store.Commit(Rec.Batch(
            new MetadataOp.PutPool(Rec.Pool(1)), new MetadataOp.PutDisk(Rec.Disk(4)), new MetadataOp.PutContainer(Rec.Container(9)),
            new MetadataOp.PutVDisk(Rec.VDisk(21)), new MetadataOp.PutEgroup(Rec.Egroup(77)), new MetadataOp.PutExtent(Rec.Extent(77, 0)),
            new MetadataOp.PutExtentId(Rec.Sha1Like(1), 77), new MetadataOp.PutBlock(Rec.Block(21, 0)), new MetadataOp.PutBlock(Rec.Block(21, 9)),
            new MetadataOp.PutValue("k", [1, 2]), new MetadataOp.SetDrainedSequence(99)));
        string before = Snapshot.Of(Store, 21);

        Reopen();

        Assert.That(Snapshot.Of(Store, 21), Is.EqualTo(before));
        Assert.That(Store.ApplianceId, Is.EqualTo(id));
        Assert.That(Store.GetValue("k"), Is.EqualTo(new byte[] { 1, 2 }));
        Assert.That(Store.TryGetExtentId(Rec.Sha1Like(1), out long egroup) ? egroup : -1, Is.EqualTo(77));
        Assert.That(Store.AllocateIds(1), Is.GreaterThanOrEqualTo(firstId + 10));
    }

    [Test]
    public void DisposedStore_RefusesCalls()
    {
        IMetadataStore store = CreateStore();
        store.Dispose();
        store.Dispose(); // twice is fine
        Assert.Throws<ObjectDisposedException>(() => store.TryGetBlock(1, 1, out _));
        Assert.Throws<ObjectDisposedException>(() => store.Commit(Rec.Batch(new MetadataOp.SetDrainedSequence(1))));
    }
}
