using NUnit.Framework;
using StorageAppliance.Common.Devices;
using StorageAppliance.Director;

namespace StorageAppliance.VDisk.Tests;

/// <summary>
/// Writes that arrive while the drainer is allocating their block's first extent. Found through the real
/// appliance (Integration.Tests StorageFaultTests): the drainer dropped the block's reservation before
/// publishing its new location, so in that window the block looked neither reserved nor allocated. An
/// overwrite then asked for new space: refused in a full pool (an overwrite failing with SPACE
/// ALLOCATION FAILED), or, with room left, a reservation taken that nothing released (the pool later
/// refusing space it had).
/// </summary>
public sealed class EngineSpaceRaceTests
{
    [Test]
    public void An_overwrite_while_the_drainer_allocates_the_block_needs_no_new_space()
    {
        var gate = new GateFileSystem(new PowerCutFileSystem());
        // 1 MiB disk: 15 blocks of 64 KiB fit with the group's overhead.
        using var h = new EngineHarness(vdiskSize: 8 << 20, diskCapacity: 1 << 20, fileSystem: gate);
        int filled = 0;
        while (h.Write((long)filled * EngineHarness.BlockSize, EngineHarness.Pattern(4096, filled)) == IoStatus.Ok)
            filled++;
        Assert.That(filled, Is.InRange(10, 16), "the pool is full of reserved blocks");
        long containerId = h.Engine.Metadata.Containers().Single().Id;
        long poolId = h.Engine.Metadata.Pools().Single().Id;

        // The drainer stops inside the allocation of block 0 (its extent group's first write).
        gate.Close("/egroups/");
        var drain = h.Engine.DrainAsync();
        Assert.That(gate.Entered.Wait(TimeSpan.FromSeconds(10)), Is.True, "the drainer reached the extent group");
        try
        {
            Assert.That(h.Write(0, EngineHarness.Pattern(4096, 1000)), Is.EqualTo(IoStatus.Ok), "an overwrite of a reserved block needs no new space");
        }
        finally
        {
            gate.Open();
        }
        Assert.That(drain.Wait(TimeSpan.FromSeconds(30)), Is.True);
        h.Drain();

        Assert.That(h.ReadOk(0, 4096), Is.EqualTo(EngineHarness.Pattern(4096, 1000)));
        for (int b = 1; b < filled; b++)
            Assert.That(h.ReadOk((long)b * EngineHarness.BlockSize, 4096), Is.EqualTo(EngineHarness.Pattern(4096, b)), $"block {b}");
        var (_, used, reserved) = h.Engine.Extents.PoolSpace(poolId);
        Assert.That(reserved, Is.EqualTo(0), "every reservation was consumed by an allocation: none leaked");
        Assert.That(used, Is.EqualTo(h.Engine.Extents.UsedBytes(containerId)));
    }

    [Test]
    public void A_write_while_the_drainer_allocates_the_block_leaks_no_reservation()
    {
        var gate = new GateFileSystem(new PowerCutFileSystem());
        using var h = new EngineHarness(vdiskSize: 8 << 20, diskCapacity: 4 << 20, fileSystem: gate);
        long poolId = h.Engine.Metadata.Pools().Single().Id;
        Assert.That(h.Write(0, EngineHarness.Pattern(4096, 1)), Is.EqualTo(IoStatus.Ok));
        gate.Close("/egroups/");
        var drain = h.Engine.DrainAsync();
        Assert.That(gate.Entered.Wait(TimeSpan.FromSeconds(10)), Is.True);
        try
        {
            for (int i = 0; i < 5; i++)
                Assert.That(h.Write(8192, EngineHarness.Pattern(4096, 10 + i)), Is.EqualTo(IoStatus.Ok));
        }
        finally
        {
            gate.Open();
        }
        Assert.That(drain.Wait(TimeSpan.FromSeconds(30)), Is.True);
        h.Drain();
        Assert.That(h.Engine.Extents.PoolSpace(poolId).Reserved, Is.EqualTo(0), "no reservation is left once everything is drained");
        Assert.That(h.ReadOk(8192, 4096), Is.EqualTo(EngineHarness.Pattern(4096, 14)));
    }
}
