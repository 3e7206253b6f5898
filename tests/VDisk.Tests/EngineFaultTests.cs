using NUnit.Framework;
using StorageAppliance.Common.Devices;
using StorageAppliance.Director;
using StorageAppliance.Metadata;

namespace StorageAppliance.VDisk.Tests;

/// <summary>A full pool, a corrupted slice, a failing disk: each fails only what it touches, with a clear status.</summary>
public sealed class EngineFaultTests
{
    [Test]
    public void A_full_pool_refuses_writes_that_need_new_space_but_not_overwrites_or_reads()
    {
        // 1 MiB of capacity: 16 slots of 64 KiB, less the group's overhead.
        using var h = new EngineHarness(vdiskSize: 8 << 20, diskCapacity: 1 << 20);
        int filled = 0;
        for (int b = 0; b < 64; b++)
        {
            var status = h.Write((long)b * EngineHarness.BlockSize, EngineHarness.Pattern(4096, b));
            if (status == IoStatus.NoSpace)
                break;
            Assert.That(status, Is.EqualTo(IoStatus.Ok));
            filled++;
        }
        Assert.That(filled, Is.InRange(10, 16), "the pool took what fits");
        h.Drain();
        // Overwrites of allocated blocks and reads keep working.
        Assert.That(h.Write(0, EngineHarness.Pattern(4096, 999)), Is.EqualTo(IoStatus.Ok));
        Assert.That(h.ReadOk(0, 4096), Is.EqualTo(EngineHarness.Pattern(4096, 999)));
        Assert.That(h.ReadOk(EngineHarness.BlockSize, 4096), Is.EqualTo(EngineHarness.Pattern(4096, 1)), "stored data is intact");
        Assert.That(h.Write((long)(filled + 1) * EngineHarness.BlockSize, EngineHarness.Pattern(512, 3)), Is.EqualTo(IoStatus.NoSpace));
        Assert.That(h.Write((long)(filled + 1) * EngineHarness.BlockSize, new byte[512]), Is.EqualTo(IoStatus.Ok), "zeros need no space");
        // Freeing space makes room again.
        h.Unmap(0, 2 * EngineHarness.BlockSize);
        h.Drain();
        Assert.That(h.Write((long)(filled + 1) * EngineHarness.BlockSize, EngineHarness.Pattern(512, 3)), Is.EqualTo(IoStatus.Ok));
    }

    [Test]
    public void A_container_maximum_is_enforced_like_a_full_pool()
    {
        using var h = new EngineHarness(vdiskSize: 8 << 20, maxContainerCapacity: 4 * (EngineHarness.BlockSize + 16 * 1024));
        Assert.That(Enumerable.Range(0, 4).Select(b => h.Write((long)b * EngineHarness.BlockSize, EngineHarness.Pattern(512, b))), Is.All.EqualTo(IoStatus.Ok));
        Assert.That(h.Write(10L * EngineHarness.BlockSize, EngineHarness.Pattern(512, 5)), Is.EqualTo(IoStatus.NoSpace));
    }

    [Test]
    public void A_corrupted_slice_is_a_medium_error_never_data_and_other_data_still_reads()
    {
        using var h = new EngineHarness();
        h.Write(0, EngineHarness.Pattern(2 * EngineHarness.BlockSize, 1), fua: true);
        h.Drain();
        var file = h.PowerFs!.List("/disks/ssd0/egroups", "*.eg").Single();
        var block = h.Meta.Blocks(h.V.Id).Single(b => b.Block == 0);
        var layout = new ExtentStore.EgroupLayout(EngineHarness.BlockSize, 16, 4096);
        h.PowerFs.Corrupt("/disks/ssd0/egroups/" + file, layout.SlotOffset(block.Slot) + 5000);
        h.Restart(); // no cached pages: the read goes to the disk
        var (status, _) = h.Read(4096, 4096);
        Assert.That(status, Is.EqualTo(IoStatus.MediumError));
        Assert.That(h.Read(0, 4096).Status, Is.EqualTo(IoStatus.Ok), "the slice before is fine");
        Assert.That(h.ReadOk(EngineHarness.BlockSize, 4096), Is.EqualTo(EngineHarness.Pattern(2 * EngineHarness.BlockSize, 1).AsSpan(EngineHarness.BlockSize, 4096).ToArray()));
        // A full rewrite of the slice heals it.
        h.Write(4096, EngineHarness.Pattern(4096, 2));
        h.Drain();
        Assert.That(h.ReadOk(4096, 4096), Is.EqualTo(EngineHarness.Pattern(4096, 2)));
    }

    [Test]
    public void A_partial_write_into_a_corrupted_slice_keeps_it_failing_instead_of_blessing_bad_bytes()
    {
        using var h = new EngineHarness();
        h.Write(0, EngineHarness.Pattern(EngineHarness.BlockSize, 1), fua: true);
        h.Drain();
        var file = h.PowerFs!.List("/disks/ssd0/egroups", "*.eg").Single();
        var block = h.Meta.Blocks(h.V.Id).Single();
        var layout = new ExtentStore.EgroupLayout(EngineHarness.BlockSize, 16, 4096);
        h.PowerFs.Corrupt("/disks/ssd0/egroups/" + file, layout.SlotOffset(block.Slot) + 100);
        h.Restart();
        h.Write(2000, new byte[10]);
        h.Drain();
        Assert.That(h.Read(0, 4096).Status, Is.EqualTo(IoStatus.MediumError));
    }

    [Test]
    public void A_failing_disk_fails_only_reads_of_its_data_and_writes_move_blocks_off_it()
    {
        using var h = new EngineHarness(disks: 2, diskCapacity: 16 << 20);
        var data = EngineHarness.Pattern(4 * EngineHarness.BlockSize, 3);
        h.Write(0, data, fua: true);
        h.Drain();
        var egroup = h.Meta.Egroups().Single();
        var failing = h.Meta.Disks().Single(d => d.Id == egroup.DiskId);
        h.Faults.Fail(failing.Path + "/egroups", FaultOperation.All);

        Assert.That(h.Read(0, 4096).Status, Is.EqualTo(IoStatus.MediumError), "reads of data on the failing disk fail");
        // Writes are journaled and acknowledged; the drain moves each written block to the healthy disk.
        var fresh = EngineHarness.Pattern(EngineHarness.BlockSize, 4);
        Assert.That(h.Write(0, fresh, fua: true), Is.EqualTo(IoStatus.Ok));
        h.Drain();
        h.Drain();
        Assert.That(h.ReadOk(0, EngineHarness.BlockSize), Is.EqualTo(fresh));
        var moved = h.Meta.Blocks(h.V.Id).Single(b => b.Block == 0);
        Assert.That(h.Meta.Egroups().Single(g => g.Id == moved.EgroupId).DiskId, Is.Not.EqualTo(failing.Id), "block 0 now lives on the healthy disk");
        Assert.That(h.Read(EngineHarness.BlockSize, 4096).Status, Is.EqualTo(IoStatus.MediumError), "block 1 was not rewritten and its disk still fails");
    }

    [Test]
    public void A_failing_journal_disk_fails_writes_with_a_clear_status_and_reads_go_on()
    {
        using var h = new EngineHarness();
        h.Write(0, EngineHarness.Pattern(4096, 5), fua: true);
        h.Drain();
        h.Faults.Fail("/journal/", FaultOperation.Write | FaultOperation.Flush);
        Assert.That(h.Write(8192, new byte[4096], fua: true), Is.EqualTo(IoStatus.WriteError));
        Assert.That(h.ReadOk(0, 4096), Is.EqualTo(EngineHarness.Pattern(4096, 5)));
    }

    [Test]
    public void Vdisks_are_created_resized_and_deleted_at_run_time_and_deleting_frees_space()
    {
        using var h = new EngineHarness();
        var v = h.Engine.Create("ctr", "extra", 4 << 20);
        Assert.That(h.Engine.Open("extra"), Is.SameAs(v));
        Assert.Throws<ProvisioningException>(() => h.Engine.Create("ctr", "extra", 4 << 20));
        Assert.Throws<ProvisioningException>(() => h.Engine.Create("nope", "x", 4 << 20));
        Assert.That(v.WriteAsync(0, EngineHarness.Pattern(3 * EngineHarness.BlockSize, 9), IoFlags.None, EngineHarness.Ctx).AsTask().Result, Is.EqualTo(IoStatus.Ok));
        h.Drain();
        long containerId = h.Meta.Containers().Single().Id;
        long used = h.Engine.Extents.UsedBytes(containerId);

        h.Engine.Resize("extra", 8 << 20);
        Assert.That(v.CapacityBytes, Is.EqualTo(8 << 20));
        h.Engine.Resize("extra", EngineHarness.BlockSize);
        h.Drain();
        Assert.That(h.Engine.Extents.UsedBytes(containerId), Is.LessThan(used), "shrinking released the blocks past the end");

        h.Engine.Delete("extra");
        Assert.That(h.Engine.Open("extra"), Is.Null);
        Assert.That(h.Meta.VDisks().Select(r => r.Name), Does.Not.Contain("extra"));
        Assert.That(h.Engine.Extents.UsedBytes(containerId), Is.EqualTo(0));
        h.Restart();
        Assert.That(h.Engine.Open("extra"), Is.Null, "stays deleted");
    }

    [Test]
    public void The_engine_runs_on_the_real_file_system_and_sqlite_and_keeps_data_across_restarts()
    {
        string dir = Directory.CreateTempSubdirectory("engine-real-").FullName;
        try
        {
            var log = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
            var meta = SqliteMetadataStore.Open(Path.Combine(dir, "meta.db"), log);
            var pools = new[] { new PoolSpec("p", [new DiskSpec(Path.Combine(dir, "ssd0"), StorageTier.Ssd, 0)]) };
            var containers = new[] { new ContainerSpec("c", "p", 1, 0, 0, 1 << 20, 64 << 20, [StorageTier.Ssd]) };
            var vdisks = new[] { new VDiskSpec("d", "c", 64 << 20, 512, true) };
            var options = new StorageEngineOptions { JournalDirectory = Path.Combine(dir, "ssd0", "journal") };
            var data = EngineHarness.Pattern(3 << 20, 7);
            using (var e = new StorageEngine(meta, PhysicalFileSystem.Instance, options, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance))
            {
                e.Open(pools, containers, vdisks);
                var v = e.Open("d")!;
                Assert.That(v.WriteAsync(12345, data, IoFlags.None, EngineHarness.Ctx).AsTask().Result, Is.EqualTo(IoStatus.Ok));
                e.DrainAsync().Wait();
            }
            meta.Dispose();
            meta = SqliteMetadataStore.Open(Path.Combine(dir, "meta.db"), log);
            using (var e = new StorageEngine(meta, PhysicalFileSystem.Instance, options, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance))
            {
                e.Open(pools, containers, vdisks);
                var back = new byte[data.Length];
                Assert.That(e.Open("d")!.ReadAsync(12345, back, EngineHarness.Ctx).AsTask().Result, Is.EqualTo(IoStatus.Ok));
                Assert.That(back, Is.EqualTo(data));
            }
            meta.Dispose();
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
