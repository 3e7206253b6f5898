using NUnit.Framework;
using StorageAppliance.Director;
using StorageAppliance.Metadata;

namespace StorageAppliance.VDisk.Tests;

public sealed class EngineReadWriteTests
{
    [Test]
    public void Never_written_blocks_read_as_zeros()
    {
        using var h = new EngineHarness();
        Assert.That(h.ReadOk(3 << 20, 100_000), Is.All.EqualTo(0));
    }

    [Test]
    public void A_write_reads_back_from_the_journal_and_again_from_the_extent_after_a_drain()
    {
        using var h = new EngineHarness();
        var data = EngineHarness.Pattern(8192, 1);
        Assert.That(h.Write(70_000, data), Is.EqualTo(IoStatus.Ok));
        Assert.That(h.ReadOk(70_000, 8192), Is.EqualTo(data));
        h.Drain();
        Assert.That(h.Engine.Journal.PendingBytes, Is.EqualTo(0), "drained writes leave memory");
        Assert.That(h.ReadOk(70_000, 8192), Is.EqualTo(data));
        Assert.That(h.Meta.TryGetBlock(h.V.Id, 1, out _), Is.True, "block 1 has an extent after the drain");
    }

    [Test]
    public void Overlapping_unaligned_writes_keep_the_newest_byte_everywhere()
    {
        using var h = new EngineHarness();
        var model = new byte[300_000];
        var rng = new Random(5);
        for (int i = 0; i < 200; i++)
        {
            int off = rng.Next(0, model.Length - 1);
            int len = rng.Next(1, Math.Min(20_000, model.Length - off));
            var data = EngineHarness.Pattern(len, i);
            Assert.That(h.Write(off, data), Is.EqualTo(IoStatus.Ok));
            data.CopyTo(model, off);
            if (i % 37 == 0)
                h.Drain();
        }
        Assert.That(h.ReadOk(0, model.Length), Is.EqualTo(model));
        h.Drain();
        Assert.That(h.ReadOk(0, model.Length), Is.EqualTo(model));
        h.Restart();
        Assert.That(h.ReadOk(0, model.Length), Is.EqualTo(model));
    }

    [Test]
    public void Reads_spanning_blocks_with_mixed_drained_and_undrained_data_are_exact()
    {
        using var h = new EngineHarness();
        var a = EngineHarness.Pattern(3 * EngineHarness.BlockSize, 2);
        h.Write(0, a);
        h.Drain();
        var b = EngineHarness.Pattern(1000, 3);
        h.Write(EngineHarness.BlockSize - 500, b);
        var expected = (byte[])a.Clone();
        b.CopyTo(expected, EngineHarness.BlockSize - 500);
        Assert.That(h.ReadOk(0, a.Length), Is.EqualTo(expected));
    }

    [Test]
    public void Unmap_reads_as_zeros_before_and_after_the_drain_and_keeps_the_rest()
    {
        using var h = new EngineHarness();
        var data = EngineHarness.Pattern(4 * EngineHarness.BlockSize, 4);
        h.Write(0, data);
        h.Drain();
        Assert.That(h.Unmap(10_000, 100_000), Is.EqualTo(IoStatus.Ok));
        var expected = (byte[])data.Clone();
        Array.Clear(expected, 10_000, 100_000);
        Assert.That(h.ReadOk(0, data.Length), Is.EqualTo(expected));
        h.Drain();
        Assert.That(h.ReadOk(0, data.Length), Is.EqualTo(expected));
    }

    [Test]
    public void Unmapping_a_whole_block_frees_its_extent_and_its_space()
    {
        using var h = new EngineHarness();
        h.Write(0, EngineHarness.Pattern(2 * EngineHarness.BlockSize, 5));
        h.Drain();
        long containerId = h.Meta.Containers().Single().Id;
        long used = h.Engine.Extents.UsedBytes(containerId);
        Assert.That(h.Meta.Extents(), Has.Count.EqualTo(2));
        h.Unmap(0, EngineHarness.BlockSize);
        h.Drain();
        Assert.That(h.Meta.TryGetBlock(h.V.Id, 0, out _), Is.False, "the vDisk map row is gone");
        Assert.That(h.Meta.Extents(), Has.Count.EqualTo(1), "its extent is gone (reference count reached zero)");
        Assert.That(h.Engine.Extents.UsedBytes(containerId), Is.LessThan(used));
        Assert.That(h.ReadOk(0, EngineHarness.BlockSize), Is.All.EqualTo(0));
    }

    [Test]
    public void Zeros_written_to_a_thin_vdisk_are_stored_as_no_data()
    {
        using var h = new EngineHarness();
        long containerId = h.Meta.Containers().Single().Id;
        var data = EngineHarness.Pattern(2 * EngineHarness.BlockSize, 7);
        h.Write(0, data);
        h.Drain();
        long used = h.Engine.Extents.UsedBytes(containerId);
        long journal = h.Engine.Journal.LastSequence;

        // A whole block of zeros over data: its extent and space go, as with UNMAP.
        Assert.That(h.Write(0, new byte[EngineHarness.BlockSize]), Is.EqualTo(IoStatus.Ok));
        Assert.That(h.ReadOk(0, EngineHarness.BlockSize), Is.All.EqualTo(0), "undrained");
        // Part of the other block: reads zeros there and keeps the rest.
        Assert.That(h.Write(EngineHarness.BlockSize + 4096, new byte[8192]), Is.EqualTo(IoStatus.Ok));
        // Zeros never seen before allocate nothing.
        Assert.That(h.Write(3L * EngineHarness.BlockSize, new byte[EngineHarness.BlockSize]), Is.EqualTo(IoStatus.Ok));
        h.Drain();

        var expected = (byte[])data.Clone();
        Array.Clear(expected, 0, EngineHarness.BlockSize);
        Array.Clear(expected, EngineHarness.BlockSize + 4096, 8192);
        Assert.That(h.ReadOk(0, data.Length), Is.EqualTo(expected));
        Assert.That(h.ReadOk(3L * EngineHarness.BlockSize, EngineHarness.BlockSize), Is.All.EqualTo(0));
        Assert.That(h.Meta.TryGetBlock(h.V.Id, 0, out _), Is.False, "block 0 has no extent any more");
        Assert.That(h.Meta.TryGetBlock(h.V.Id, 3, out _), Is.False, "block 3 never got one");
        Assert.That(h.Meta.Extents(), Has.Count.EqualTo(1));
        Assert.That(h.Engine.Extents.UsedBytes(containerId), Is.LessThan(used));
        Assert.That(((EngineVDisk)h.V).ZeroBytesWritten, Is.EqualTo(2L * EngineHarness.BlockSize + 8192));
        Assert.That(h.Engine.Journal.LastSequence - journal, Is.EqualTo(3), "three records, none carrying data");
    }

    [Test]
    public void Overwrites_do_not_allocate_new_space()
    {
        using var h = new EngineHarness();
        h.Write(0, EngineHarness.Pattern(EngineHarness.BlockSize, 6));
        h.Drain();
        long containerId = h.Meta.Containers().Single().Id;
        long used = h.Engine.Extents.UsedBytes(containerId);
        for (int i = 0; i < 20; i++)
        {
            h.Write(i * 512, EngineHarness.Pattern(512, i));
            h.Drain();
        }
        Assert.That(h.Engine.Extents.UsedBytes(containerId), Is.EqualTo(used));
        Assert.That(h.Meta.Extents(), Has.Count.EqualTo(1));
    }

    [Test]
    public void Writes_past_the_end_are_out_of_range()
    {
        using var h = new EngineHarness(vdiskSize: 1 << 20);
        Assert.That(h.Write((1 << 20) - 100, new byte[200]), Is.EqualTo(IoStatus.OutOfRange));
        Assert.That(h.Read(1 << 20, 1).Status, Is.EqualTo(IoStatus.OutOfRange));
        Assert.That(h.Unmap(0, (1 << 20) + 1), Is.EqualTo(IoStatus.OutOfRange));
    }

    [Test]
    public void Thin_provisioning_reports_written_bytes_not_the_size()
    {
        using var h = new EngineHarness(vdiskSize: 8 << 20);
        h.Write(0, EngineHarness.Pattern(8192, 7));
        h.Write(5 << 20, EngineHarness.Pattern(4096, 8));
        h.Drain();
        var d = h.Engine.List().Single();
        Assert.That(d.CapacityBytes, Is.EqualTo(8 << 20));
        Assert.That(d.UsedBytes, Is.EqualTo(12288), "three written 4 KiB slices");
        Assert.That(d.AllocatedBytes, Is.EqualTo(2 * EngineHarness.BlockSize), "two extents");
    }

    [Test]
    public void Random_operations_against_a_model_with_drains_and_restarts()
    {
        using var h = new EngineHarness(vdiskSize: 2 << 20);
        var model = new byte[2 << 20];
        var rng = new Random(11);
        for (int i = 0; i < 600; i++)
        {
            int op = rng.Next(100);
            int off = rng.Next(0, model.Length - 1);
            int len = rng.Next(1, Math.Min(200_000, model.Length - off));
            if (op < 60)
            {
                var data = EngineHarness.Pattern(len, i);
                Assert.That(h.Write(off, data, fua: op < 10), Is.EqualTo(IoStatus.Ok));
                data.CopyTo(model, off);
            }
            else if (op < 75)
            {
                Assert.That(h.Unmap(off, len), Is.EqualTo(IoStatus.Ok));
                Array.Clear(model, off, len);
            }
            else if (op < 95)
            {
                Assert.That(h.ReadOk(off, len), Is.EqualTo(model.AsSpan(off, len).ToArray()), $"op {i}: read [{off}, +{len})");
            }
            else if (op < 98)
            {
                h.Drain();
            }
            else
            {
                h.Restart();
            }
        }
        Assert.That(h.ReadOk(0, model.Length), Is.EqualTo(model));
    }

    [Test]
    public async Task Concurrent_writers_and_readers_on_different_ranges_never_see_each_others_data()
    {
        using var h = new EngineHarness(vdiskSize: 4 << 20);
        var tasks = Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            long region = (long)t * (512 << 10);
            for (int i = 0; i < 200; i++)
            {
                var data = EngineHarness.Pattern(4096, t * 1000 + i);
                long off = region + (i % 100) * 4096L;
                Assert.That(h.Write(off, data), Is.EqualTo(IoStatus.Ok));
                Assert.That(h.ReadOk(off, 4096), Is.EqualTo(data));
                if (i % 50 == 0)
                    h.Engine.RequestDrain();
            }
        })).ToArray();
        var drainer = Task.Run(async () =>
        {
            while (!tasks.All(t => t.IsCompleted))
            {
                await h.Engine.DrainAsync();
            }
        });
        await Task.WhenAll(tasks);
        await drainer;
    }
}
