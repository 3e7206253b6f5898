using NUnit.Framework;
using StorageAppliance.Director;

namespace StorageAppliance.VDisk.Tests;

/// <summary>
/// The engine's allocation query (what GET LBA STATUS and qemu's block status report): per 4 KiB slice, from
/// the extent's slice descriptors plus the undrained journal overlay, before and after drains and restarts.
/// </summary>
public sealed class EngineAllocationTests
{
    private const int Slice = 4096;
    private const int Block = EngineHarness.BlockSize;

    /// <summary>The runs from <paramref name="offset"/> to <paramref name="end"/> as (offset, length, mapped), merged.</summary>
    private static List<(long Offset, long Length, bool Mapped)> Runs(EngineHarness h, long offset, long end)
    {
        var runs = new List<(long, long, bool)>();
        while (offset < end)
        {
            var r = h.V.GetAllocationAsync(offset, end - offset, EngineHarness.Ctx).AsTask().GetAwaiter().GetResult();
            Assert.That(r.Status, Is.EqualTo(IoStatus.Ok), $"at {offset}");
            Assert.That(r.Length, Is.GreaterThan(0).And.LessThanOrEqualTo(end - offset), $"at {offset}");
            if (runs.Count > 0 && runs[^1].Item3 == r.Mapped)
                runs[^1] = (runs[^1].Item1, runs[^1].Item2 + r.Length, r.Mapped);
            else
                runs.Add((offset, r.Length, r.Mapped));
            offset += r.Length;
        }
        return runs;
    }

    private static void EachState(EngineHarness h, Action check)
    {
        check();          // journal overlay only
        h.Drain();
        check();          // extents only
        h.Restart();
        check();          // vDisk map and descriptors read back from storage
    }

    [Test]
    public void A_never_written_vdisk_is_one_deallocated_run()
    {
        using var h = new EngineHarness();
        long capacity = h.V.CapacityBytes;
        Assert.That(Runs(h, 0, capacity), Is.EqualTo(new[] { (0L, capacity, false) }));
        Assert.That(Runs(h, 12345 * 512, capacity), Is.EqualTo(new[] { (12345L * 512, capacity - 12345 * 512, false) }));
    }

    [Test]
    public void Writes_map_the_slices_they_touch_across_blocks()
    {
        using var h = new EngineHarness();
        long capacity = h.V.CapacityBytes;
        h.Write(Block - 2 * Slice, EngineHarness.Pattern(3 * Slice, 1)); // spans blocks 0 and 1
        h.Write(5 * Block + 100, EngineHarness.Pattern(10, 2));           // part of one slice maps the whole slice
        EachState(h, () => Assert.That(Runs(h, 0, capacity), Is.EqualTo(new[]
        {
            (0L, Block - 2L * Slice, false),
            (Block - 2L * Slice, 3L * Slice, true),
            (Block + (long)Slice, 4L * Block - Slice, false),
            (5L * Block, (long)Slice, true),
            (5L * Block + Slice, capacity - 5L * Block - Slice, false),
        })));
    }

    [Test]
    public void Unmap_deallocates_only_whole_slices_and_a_later_write_maps_again()
    {
        using var h = new EngineHarness();
        long capacity = h.V.CapacityBytes;
        h.Write(0, EngineHarness.Pattern(4 * Block, 3));
        h.Drain();
        Assert.That(h.Unmap(Slice + 512, 3 * Slice), Is.EqualTo(IoStatus.Ok));  // slices 2 and 3 whole, 1 and 4 in part
        Assert.That(h.Unmap(2 * Block, Block), Is.EqualTo(IoStatus.Ok));        // block 2 whole
        Assert.That(h.Write(2 * Block + 8 * Slice, EngineHarness.Pattern(Slice, 9)), Is.EqualTo(IoStatus.Ok)); // maps again
        EachState(h, () => Assert.That(Runs(h, 0, capacity), Is.EqualTo(new[]
        {
            (0L, 2L * Slice, true),
            (2L * Slice, 2L * Slice, false),
            (4L * Slice, 2L * Block - 4 * Slice, true),
            (2L * Block, 8L * Slice, false),
            (2L * Block + 8 * Slice, (long)Slice, true),
            (2L * Block + 9 * Slice, Block - 9L * Slice, false),
            (3L * Block, (long)Block, true),
            (4L * Block, capacity - 4L * Block, false),
        })));
    }

    [Test]
    public void The_newest_journal_entry_wins_over_the_extent_and_older_entries()
    {
        using var h = new EngineHarness();
        h.Write(0, EngineHarness.Pattern(Block, 4));
        h.Drain();
        h.Unmap(0, Block);                       // undrained: deallocates what the extent holds
        Assert.That(Runs(h, 0, Block), Is.EqualTo(new[] { (0L, (long)Block, false) }));
        h.Write(Slice, new byte[] { 1 });        // newer: maps slice 1 again
        Assert.That(Runs(h, 0, Block), Is.EqualTo(new[] { (0L, (long)Slice, false), ((long)Slice, (long)Slice, true), (2L * Slice, Block - 2L * Slice, false) }));
        h.Drain();
        Assert.That(Runs(h, 0, Block), Is.EqualTo(new[] { (0L, (long)Slice, false), ((long)Slice, (long)Slice, true), (2L * Slice, Block - 2L * Slice, false) }));
    }

    [Test]
    public void A_run_starting_inside_a_slice_starts_at_the_asked_offset_and_stops_at_maxLength()
    {
        using var h = new EngineHarness();
        h.Write(0, EngineHarness.Pattern(2 * Slice, 5));
        var r = h.V.GetAllocationAsync(1536, 10_000, EngineHarness.Ctx).AsTask().Result;
        Assert.That(r, Is.EqualTo(new AllocationRun(IoStatus.Ok, 2 * Slice - 1536, true)));
        r = h.V.GetAllocationAsync(1536, 1024, EngineHarness.Ctx).AsTask().Result;
        Assert.That(r, Is.EqualTo(new AllocationRun(IoStatus.Ok, 1024, true)));
    }

    [Test]
    public void Outside_the_vdisk_is_out_of_range()
    {
        using var h = new EngineHarness();
        Assert.That(h.V.GetAllocationAsync(h.V.CapacityBytes, 512, EngineHarness.Ctx).AsTask().Result.Status, Is.EqualTo(IoStatus.OutOfRange));
        Assert.That(h.V.GetAllocationAsync(-512, 512, EngineHarness.Ctx).AsTask().Result.Status, Is.EqualTo(IoStatus.OutOfRange));
        Assert.That(h.V.GetAllocationAsync(0, 0, EngineHarness.Ctx).AsTask().Result.Status, Is.EqualTo(IoStatus.OutOfRange));
    }

    [Test]
    public void One_query_bounds_its_work_and_a_scan_of_a_large_empty_vdisk_adds_nothing_to_the_index()
    {
        using var h = new EngineHarness(vdiskSize: 4L << 30);
        var r = h.V.GetAllocationAsync(0, h.V.CapacityBytes, EngineHarness.Ctx).AsTask().Result;
        Assert.That(r, Is.EqualTo(new AllocationRun(IoStatus.Ok, (long)EngineVDisk.MaxBlocksPerAllocationQuery * Block, false)));
        Assert.That(((EngineVDisk)h.V).Blocks, Is.Empty);
    }
}
