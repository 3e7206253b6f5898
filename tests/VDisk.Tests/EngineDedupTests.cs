using NUnit.Framework;
using StorageAppliance.DataReduction.Chunking;
using StorageAppliance.DataReduction.Compression;
using StorageAppliance.Director;
using StorageAppliance.Metadata;

namespace StorageAppliance.VDisk.Tests;

/// <summary>Deduplication and compression in the drain, and the Curator's passes (issue 7), on the engine harness (64 KiB blocks).</summary>
public sealed class EngineDedupTests
{
    private const int B = EngineHarness.BlockSize;

    private static DataReductionSpec Inline(CompressionKind compression = CompressionKind.Lz4, bool dedup = true) =>
        new(dedup, new ChunkingOptions(2048, 8192, 32768), compression, 3, Inline: true, PostProcessDelay: TimeSpan.Zero);

    private static DataReductionSpec PostProcess() =>
        new(true, new ChunkingOptions(2048, 8192, 32768), CompressionKind.Lz4, 3, Inline: false, PostProcessDelay: TimeSpan.Zero);

    /// <summary>Data like a VM image's: half text-like (compressible), half random, in runs.</summary>
    internal static byte[] ImageLike(int length, int seed)
    {
        var rng = new Random(seed);
        var b = new byte[length];
        int pos = 0;
        while (pos < length)
        {
            int run = Math.Min(length - pos, rng.Next(1024, 16384));
            if (rng.Next(2) == 0)
                rng.NextBytes(b.AsSpan(pos, run));
            else
                for (int i = 0; i < run; i++)
                    b[pos + i] = (byte)"the quick brown fox jumps over the lazy dog "[(pos + i) % 44];
            pos += run;
        }
        return b;
    }

    private static IoStatus WriteTo(EngineHarness h, string vdisk, long offset, byte[] data) =>
        h.Engine.Open(vdisk)!.WriteAsync(offset, data, IoFlags.None, EngineHarness.Ctx).AsTask().GetAwaiter().GetResult();

    private static byte[] ReadFrom(EngineHarness h, string vdisk, long offset, int length)
    {
        var buffer = new byte[length];
        Assert.That(h.Engine.Open(vdisk)!.ReadAsync(offset, buffer, EngineHarness.Ctx).AsTask().GetAwaiter().GetResult(), Is.EqualTo(IoStatus.Ok), $"read {vdisk} at {offset}");
        return buffer;
    }

    private static ReductionFigures Container(EngineHarness h) => h.Engine.ReductionStats().Single(r => r.VDisk is null);

    private static CuratorReport Curate(EngineHarness h, bool scrub = true)
    {
        var task = h.Engine.RunCuratorAsync(scrub);
        Assert.That(task.Wait(TimeSpan.FromSeconds(60)), Is.True, "the Curator pass did not finish");
        return task.Result;
    }

    [Test]
    public void The_same_data_written_to_two_vdisks_is_stored_once()
    {
        using var h = new EngineHarness(reduction: Inline());
        var data = ImageLike(16 * B, 1);
        Assert.That(WriteTo(h, "v", 0, data), Is.EqualTo(IoStatus.Ok));
        h.Drain();
        long one = Container(h).StoredBytes;
        Assert.That(WriteTo(h, "w", 0, data), Is.EqualTo(IoStatus.Ok));
        h.Drain();
        var c = Container(h);
        Assert.That(c.LogicalBytes, Is.EqualTo(2L * data.Length));
        Assert.That(c.StoredBytes, Is.EqualTo(one), "the second copy adds nothing");
        Assert.That(one, Is.LessThan(data.Length * 0.75), "the compressible half is compressed");
        Assert.That(h.Meta.Blocks(h.Engine.Open("w")!.Id), Has.All.Matches<BlockRecord>(b => b.IsDeduplicated));
        Assert.That(ReadFrom(h, "v", 0, data.Length), Is.EqualTo(data));
        Assert.That(ReadFrom(h, "w", 0, data.Length), Is.EqualTo(data));
        h.Restart();
        Assert.That(ReadFrom(h, "w", 0, data.Length), Is.EqualTo(data), "after a restart, from the metadata");
        Assert.That(Container(h).StoredBytes, Is.EqualTo(one));
    }

    [Test]
    public void A_partial_write_into_a_deduplicated_block_keeps_the_rest_shared()
    {
        using var h = new EngineHarness(reduction: Inline());
        var data = ImageLike(4 * B, 2);
        WriteTo(h, "v", 0, data);
        WriteTo(h, "w", 0, data);
        h.Drain();
        long before = Container(h).StoredBytes;
        var patch = EngineHarness.Pattern(4096, 9);
        WriteTo(h, "w", B + 8192, patch);
        Assert.That(ReadFrom(h, "w", B + 8192, 4096), Is.EqualTo(patch), "from the journal");
        h.Drain();
        Array.Copy(patch, 0, data, B + 8192, 4096);
        Assert.That(ReadFrom(h, "w", 0, data.Length), Is.EqualTo(data));
        Assert.That(ReadFrom(h, "v", B + 8192, 4096), Is.Not.EqualTo(patch), "the other vDisk is unchanged");
        var w = h.Engine.Open("w")!;
        Assert.That(h.Meta.Blocks(w.Id).Single(b => b.Block == 1).IsDeduplicated, Is.False, "the touched block went to a slot, whole");
        Assert.That(Curate(h).BlocksReduced, Is.EqualTo(1));
        long after = Container(h).StoredBytes;
        Assert.That(after - before, Is.LessThan(40_000), "reduced again: only the chunks around the change are new");
        Assert.That(h.Meta.Blocks(w.Id).Single(b => b.Block == 1).IsDeduplicated, Is.True);
        Assert.That(ReadFrom(h, "w", 0, data.Length), Is.EqualTo(data));
    }

    [Test]
    public void An_overwrite_and_an_unmap_free_space_after_a_curator_pass()
    {
        using var h = new EngineHarness(reduction: Inline());
        var first = ImageLike(32 * B, 3);
        WriteTo(h, "v", 0, first);
        h.Drain();
        long stored = Container(h).StoredBytes;
        int packsBefore = h.Meta.Extents().Count(x => x.Block == -1);
        var second = ImageLike(16 * B, 4);
        WriteTo(h, "v", 0, second);               // overwrites the first half
        Assert.That(h.Unmap(16 * B, 16 * B), Is.EqualTo(IoStatus.Ok)); // releases the second half
        h.Drain();
        Assert.That(Container(h).LogicalBytes, Is.EqualTo(second.Length));
        var report = Curate(h);
        Assert.That(report.ExtentsCollected, Is.GreaterThan(0));
        Assert.That(report.PacksFreed + report.PacksCompacted, Is.GreaterThan(0), "packs of dead extents were freed or compacted");
        Assert.That(report.Problems, Is.Empty);
        var (live, all, _) = h.Engine.ReductionStats().Count > 0 ? (Container(h).StoredBytes, 0L, 0) : (0L, 0L, 0);
        Assert.That(live, Is.LessThan(stored * 0.7));
        Assert.That(h.Meta.DedupExtents().All(x => x.RefCount > 0), Is.True, "no unreferenced extent is left in the metadata");
        Assert.That(h.Meta.Extents().Count(x => x.Block == -1), Is.LessThan(packsBefore + 2));
        Assert.That(ReadFrom(h, "v", 0, second.Length), Is.EqualTo(second));
        Assert.That(ReadFrom(h, "v", 16 * B, 16 * B), Is.All.EqualTo(0));
        h.Restart();
        Assert.That(ReadFrom(h, "v", 0, second.Length), Is.EqualTo(second));
    }

    [Test]
    public void Chunk_boundaries_resynchronise_after_shifted_data()
    {
        using var h = new EngineHarness(vdiskSize: 16 << 20, reduction: Inline(CompressionKind.None));
        var data = EngineHarness.Pattern(96 * B, 5);   // incompressible: only dedup can save
        WriteTo(h, "v", 0, data);
        h.Drain();
        long one = Container(h).StoredBytes;
        var shifted = new byte[data.Length];
        EngineHarness.Pattern(1000, 6).CopyTo(shifted, 0);   // 1000 new bytes inserted at the front
        Array.Copy(data, 0, shifted, 1000, data.Length - 1000);
        WriteTo(h, "w", 0, shifted);
        h.Drain();
        long added = Container(h).StoredBytes - one;
        // Fixed-size blocks would share nothing; content-defined chunks share all but the chunks at block edges.
        Assert.That(added, Is.LessThan(data.Length * 0.6), $"the shifted copy added {added} of {data.Length} bytes");
        Assert.That(ReadFrom(h, "w", 0, shifted.Length), Is.EqualTo(shifted));
    }

    [Test]
    public void Zero_blocks_and_zero_chunks_are_stored_as_nothing()
    {
        using var h = new EngineHarness(reduction: Inline());
        var data = new byte[4 * B];
        EngineHarness.Pattern(10_000, 7).CopyTo(data, B);          // block 1: some data then zeros
        WriteTo(h, "v", 0, data);
        h.Drain();
        Assert.That(h.Meta.Blocks(h.V.Id).Select(b => b.Block), Is.EqualTo(new long[] { 1 }), "zero blocks have no row");
        Assert.That(Container(h).StoredBytes, Is.LessThan(20_000));
        Assert.That(ReadFrom(h, "v", 0, data.Length), Is.EqualTo(data));
    }

    [Test]
    public void Partial_writes_go_to_a_slot_and_the_curator_reduces_them()
    {
        using var h = new EngineHarness(reduction: Inline());
        var data = ImageLike(8 * B, 8);
        for (int off = 0; off < data.Length; off += 16384)
            WriteTo(h, "v", off, data.AsSpan(off, 16384).ToArray());
        // Each 16 KiB write drains on its own round: the block is never covered by one round.
        h.Drain();
        Assert.That(h.Meta.Blocks(h.V.Id).Count(b => b.IsDeduplicated), Is.EqualTo(8), "the round saw whole blocks");
        for (int k = 0; k < 4; k++)
        {
            WriteTo(h, "w", k * 16384, data.AsSpan(k * 16384, 16384).ToArray());
            h.Drain();
        }
        var w = h.Engine.Open("w")!;
        Assert.That(h.Meta.Blocks(w.Id).Single().IsDeduplicated, Is.False, "a block written in parts lands in a slot");
        var report = Curate(h);
        Assert.That(report.BlocksReduced, Is.EqualTo(1));
        Assert.That(h.Meta.Blocks(w.Id).Single().IsDeduplicated, Is.True);
        Assert.That(ReadFrom(h, "w", 0, B), Is.EqualTo(data.AsSpan(0, B).ToArray()));
        Assert.That(h.Meta.Extents().Count(x => x.Block != -1), Is.Zero, "its slot was freed");
    }

    [Test]
    public void A_post_process_container_reduces_only_in_the_curator_and_materializes_on_partial_write()
    {
        using var h = new EngineHarness(reduction: PostProcess());
        var data = ImageLike(4 * B, 10);
        WriteTo(h, "v", 0, data);
        h.Drain();
        Assert.That(h.Meta.Blocks(h.V.Id).Any(b => b.IsDeduplicated), Is.False);
        Assert.That(Curate(h).BlocksReduced, Is.EqualTo(4));
        Assert.That(h.Meta.Blocks(h.V.Id).All(b => b.IsDeduplicated), Is.True);
        WriteTo(h, "v", 100, EngineHarness.Pattern(50, 11));
        h.Drain();
        EngineHarness.Pattern(50, 11).CopyTo(data, 100);
        Assert.That(h.Meta.Blocks(h.V.Id).Single(b => b.Block == 0).IsDeduplicated, Is.False, "block 0 went back to a slot");
        Assert.That(ReadFrom(h, "v", 0, data.Length), Is.EqualTo(data));
        h.Restart();
        Assert.That(ReadFrom(h, "v", 0, data.Length), Is.EqualTo(data));
    }

    [Test]
    public void A_vdisk_with_dedup_off_in_a_compressing_container_is_compressed_but_not_shared()
    {
        using var h = new EngineHarness(reduction: Inline(dedup: false));
        var data = ImageLike(4 * B, 12);
        WriteTo(h, "v", 0, data);
        WriteTo(h, "w", 0, data);
        h.Drain();
        var c = Container(h);
        Assert.That(c.StoredBytes, Is.LessThan(c.LogicalBytes * 0.8), "compressed");
        var v = h.Engine.ReductionStats().Single(r => r.VDisk == "v");
        Assert.That(c.StoredBytes, Is.EqualTo(2 * v.StoredBytes).Within(1), "each copy stored apart");
        Assert.That(ReadFrom(h, "w", 0, data.Length), Is.EqualTo(data));
        Assert.That(Curate(h).Problems, Is.Empty, "scrub checks private chunks without their salted hash");
    }

    [Test]
    public void Deleting_a_vdisk_releases_its_references()
    {
        using var h = new EngineHarness(reduction: Inline());
        var data = ImageLike(4 * B, 13);
        WriteTo(h, "v", 0, data);
        WriteTo(h, "w", 0, data);
        h.Drain();
        long stored = Container(h).StoredBytes;
        h.Engine.Delete("w");
        Assert.That(Container(h).StoredBytes, Is.EqualTo(stored), "still used by v");
        h.Engine.Delete("v");
        Curate(h);
        Assert.That(h.Meta.DedupExtents(), Is.Empty);
        Assert.That(h.Meta.Extents(), Is.Empty, "every pack freed");
    }

    [Test]
    public void A_scrub_finds_a_corrupted_extent_and_reads_of_it_fail()
    {
        using var h = new EngineHarness(reduction: Inline(CompressionKind.None));
        var data = EngineHarness.Pattern(2 * B, 14);
        WriteTo(h, "v", 0, data);
        h.Drain();
        Assert.That(Curate(h).Problems, Is.Empty);
        var first = h.Meta.Blocks(h.V.Id).Single(b => b.Block == 0).Extents!.AsSpan(0, 24).ToArray();
        var chunk = h.Meta.DedupExtents().Single(x => x.ExtentId.AsSpan().SequenceEqual(first));
        var file = h.PowerFs!.List("/disks/ssd0/egroups", "*.eg").Single();
        var layout = new ExtentStore.EgroupLayout(EngineHarness.BlockSize, 16, 4096);
        h.PowerFs.Corrupt("/disks/ssd0/egroups/" + file, layout.SlotOffset(chunk.Slot) + chunk.Offset + 100);
        h.Restart();
        var report = Curate(h);
        Assert.That(report.Problems, Has.Count.EqualTo(1));
        Assert.That(report.Problems[0], Does.Contain("corrupt extent").And.Contain("vDisk v"));
        var buffer = new byte[4096];
        Assert.That(h.V.ReadAsync(0, buffer, EngineHarness.Ctx).AsTask().Result, Is.EqualTo(IoStatus.MediumError), "the chunk at the start of block 0");
        Assert.That(ReadFrom(h, "v", B, 4096), Is.EqualTo(data.AsSpan(B, 4096).ToArray()), "the other block still reads");
    }

    [Test]
    public void The_audit_corrects_a_wrong_reference_count()
    {
        using var h = new EngineHarness(reduction: Inline());
        WriteTo(h, "v", 0, ImageLike(2 * B, 15));
        h.Drain();
        var x = h.Meta.DedupExtents().First(r => r.StoredLength > 0);
        h.Meta.Commit(new MetadataBatch().Add(new MetadataOp.PutDedupExtent(x with { RefCount = x.RefCount + 5 })));
        h.Restart();
        var report = Curate(h);
        Assert.That(report.ReferencesFixed, Is.EqualTo(1));
        Assert.That(h.Meta.DedupExtents().Single(r => r.ExtentId.AsSpan().SequenceEqual(x.ExtentId)).RefCount, Is.EqualTo(x.RefCount));
    }

    [Test]
    public void A_copy_by_reference_shares_the_source_extents_and_stores_nothing_new()
    {
        using var h = new EngineHarness(reduction: Inline());
        var data = ImageLike(6 * B, 30);
        WriteTo(h, "v", 0, data);
        WriteTo(h, "w", 0, ImageLike(2 * B, 31)); // to be replaced
        h.Drain();
        long stored = Container(h).StoredBytes;
        var w = h.Engine.Open("w")!;
        long done = w.CopyByReferenceAsync(h.V, 2 * B, 0, 4 * B + 100, EngineHarness.Ctx).AsTask().Result;
        Assert.That(done, Is.EqualTo(4L * B), "whole blocks only");
        Assert.That(ReadFrom(h, "w", 0, 4 * B), Is.EqualTo(data.AsSpan(2 * B, 4 * B).ToArray()));
        Assert.That(h.Meta.Blocks(w.Id).Count(b => b.IsDeduplicated), Is.EqualTo(4), "durable at once: in the committed vDisk map");
        Curate(h);
        Assert.That(Container(h).StoredBytes, Is.LessThanOrEqualTo(stored), "nothing new stored; w's old data collected");
        h.Crash();
        Assert.That(ReadFrom(h, "w", 0, 4 * B), Is.EqualTo(data.AsSpan(2 * B, 4 * B).ToArray()), "after a power cut");
        // A block with a write still in the journal is not copied by reference.
        WriteTo(h, "w", 4 * B + 10, [1, 2, 3]);
        Assert.That(w.CopyByReferenceAsync(h.V, 0, 4 * B, B, EngineHarness.Ctx).AsTask().Result, Is.Zero);
    }

    [Test]
    public void A_write_same_by_reference_stores_the_pattern_block_once()
    {
        using var h = new EngineHarness(reduction: Inline());
        var pattern = EngineHarness.Pattern(512, 32);
        long done = h.V.WriteSameByReferenceAsync(B, 8 * B, pattern, EngineHarness.Ctx).AsTask().Result;
        Assert.That(done, Is.EqualTo(8L * B));
        var expected = new byte[8 * B];
        for (int at = 0; at < expected.Length; at += 512)
            pattern.CopyTo(expected, at);
        Assert.That(ReadFrom(h, "v", B, 8 * B), Is.EqualTo(expected));
        var c = Container(h);
        Assert.That(c.LogicalBytes, Is.EqualTo(8L * B));
        Assert.That(c.StoredBytes, Is.LessThan(B), "one block's chunks, once");
        Assert.That(h.V.WriteSameByReferenceAsync(100, 2 * B, pattern, EngineHarness.Ctx).AsTask().Result, Is.Zero, "not block-aligned");
        Assert.That(h.V.WriteSameByReferenceAsync(0, 2 * B, new byte[512], EngineHarness.Ctx).AsTask().Result, Is.Zero, "zeros are deallocated instead");
        h.Restart();
        Assert.That(ReadFrom(h, "v", B, 8 * B), Is.EqualTo(expected));
    }

    /// <summary>Blocks in slots, then a Curator pass cut by a power failure at every device step: nothing is lost.</summary>
    [TestCase(false)]
    [TestCase(true)]
    public void A_power_cut_at_every_step_of_a_curator_pass_loses_nothing(bool compact)
    {
        int cuts = 0;
        for (int k = 1; k < 400; k++)
        {
            using var h = new EngineHarness(reduction: Inline());
            var model = new byte[12 * B];
            var v = ImageLike(12 * B, 20);
            // Half the blocks in slots (written in parts), half deduplicated; then overwrites to leave sparse packs.
            for (int off = 0; off < 6 * B; off += 16384)
            {
                WriteTo(h, "v", off, v.AsSpan(off, 16384).ToArray());
                h.Drain();
            }
            WriteTo(h, "v", 6 * B, v.AsSpan(6 * B, 6 * B).ToArray());
            h.Drain();
            Array.Copy(v, model, v.Length);
            if (compact)
            {
                var again = ImageLike(5 * B, 21);
                WriteTo(h, "v", 6 * B, again);
                Array.Copy(again, 0, model, 6 * B, again.Length);
                h.Drain();
            }
            Assert.That(h.Engine.DrainAsync().Wait(30_000));
            h.PowerFs!.CrashAfter(k, seed: k);
            var pass = h.Engine.RunCuratorAsync(scrub: false);
            try
            {
                pass.Wait(TimeSpan.FromSeconds(30));
            }
            catch (AggregateException)
            {
                // The cut failed the pass: what matters is what the restart finds.
            }
            bool cut = h.PowerFs.PowerIsOff;
            h.Crash();
            Assert.That(ReadFrom(h, "v", 0, model.Length), Is.EqualTo(model), $"after a cut at step {k}");
            var report = Curate(h);
            Assert.That(report.Problems.Where(p => !p.Contains("slot(s) no block named")), Is.Empty, $"cut at step {k}");
            Assert.That(ReadFrom(h, "v", 0, model.Length), Is.EqualTo(model), $"after a full pass (cut at step {k})");
            h.Restart();
            Assert.That(ReadFrom(h, "v", 0, model.Length), Is.EqualTo(model), $"after a restart (cut at step {k})");
            if (!cut)
            {
                // The pass ran whole this time: it did what the cuts interrupted before.
                Assert.That(cuts, Is.GreaterThan(3), "the pass should take several device operations");
                var whole = pass.Result;
                Assert.That(whole.BlocksReduced, Is.EqualTo(6), "the blocks written in parts were reduced");
                if (compact)
                    Assert.That(whole.PacksCompacted, Is.GreaterThan(0), "packs left sparse by the overwrite were compacted");
                return;
            }
            cuts++;
        }
        Assert.Fail("the pass never finished");
    }
}
