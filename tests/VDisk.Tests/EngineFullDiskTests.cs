using NUnit.Framework;
using StorageAppliance.Common.Devices;
using StorageAppliance.Director;

namespace StorageAppliance.VDisk.Tests;

/// <summary>
/// A full file system under the engine (issue 13): ENOSPC from the journal or the extent groups is "out of space"
/// (DATA PROTECT 27h/07h, NFS3ERR_NOSPC), never a medium error or a failed disk; the engine refuses data writes
/// before the file system is full (real free space against a reserve); and everything works again once room
/// returns, with no restart, losing nothing that was acknowledged.
/// </summary>
public sealed class EngineFullDiskTests
{
    private const int Block = EngineHarness.BlockSize;

    [Test]
    public void Enospc_in_the_journal_is_out_of_space_and_writes_resume_once_room_returns()
    {
        using var h = new EngineHarness();
        var acknowledged = new Dictionary<int, byte[]>();
        for (int b = 0; b < 4; b++)
        {
            acknowledged[b] = EngineHarness.Pattern(8192, b);
            Assert.That(h.Write((long)b * Block, acknowledged[b], fua: true), Is.EqualTo(IoStatus.Ok));
        }

        h.Faults.Fail("/journal/", FaultOperation.Write, errno: NativeFile.ENOSPC);
        Assert.That(h.Write(5L * Block, EngineHarness.Pattern(8192, 5)), Is.EqualTo(IoStatus.NoSpace), "a write the journal has no room for");
        Assert.That(h.Write(0, EngineHarness.Pattern(4096, 50), fua: true), Is.EqualTo(IoStatus.NoSpace), "an overwrite the journal has no room for");
        Assert.That(h.Unmap(Block, Block), Is.EqualTo(IoStatus.NoSpace), "an unmap the journal has no room for");
        foreach (var (b, data) in acknowledged)
            Assert.That(h.ReadOk((long)b * Block, data.Length), Is.EqualTo(data), $"block {b} reads as acknowledged while the disk is full");
        Assert.That(h.Engine.Journal.Failure, Is.Null, "a full file system is not a failed journal");

        h.Faults.Heal();
        for (int b = 4; b < 8; b++)
        {
            acknowledged[b] = EngineHarness.Pattern(8192, 100 + b);
            Assert.That(h.Write((long)b * Block, acknowledged[b], fua: true), Is.EqualTo(IoStatus.Ok), $"write {b} once room returned, with no restart");
        }
        h.Drain();
        foreach (var (b, data) in acknowledged)
            Assert.That(h.ReadOk((long)b * Block, data.Length), Is.EqualTo(data), $"block {b} after the drain");

        // The segment that met ENOSPC was cut back to its last whole record: a crash replays everything after it.
        for (int b = 8; b < 10; b++)
        {
            acknowledged[b] = EngineHarness.Pattern(8192, 200 + b);
            Assert.That(h.Write((long)b * Block, acknowledged[b], fua: true), Is.EqualTo(IoStatus.Ok));
        }
        h.Crash();
        foreach (var (b, data) in acknowledged)
            Assert.That(h.ReadOk((long)b * Block, data.Length), Is.EqualTo(data), $"block {b} after a crash");
    }

    [Test]
    public void Enospc_when_the_journal_starts_a_segment_is_out_of_space_too()
    {
        using var h = new EngineHarness();
        // The harness's segments are 1 MiB: a few 256 KiB writes need a new one.
        h.Faults.Fail("/journal/seg-", FaultOperation.Write, errno: NativeFile.ENOSPC);
        var statuses = new List<IoStatus>();
        var written = new Dictionary<int, byte[]>();
        h.Faults.Heal();
        for (int i = 0; i < 3; i++)
        {
            written[i] = EngineHarness.Pattern(256 * 1024, i);
            Assert.That(h.Write((long)i * 4 * Block, written[i]), Is.EqualTo(IoStatus.Ok));
        }
        h.Faults.Fail("/journal/seg-", FaultOperation.Write, errno: NativeFile.ENOSPC);
        for (int i = 3; i < 8; i++)
            statuses.Add(h.Write((long)i * 4 * Block, EngineHarness.Pattern(256 * 1024, i)));
        Assert.That(statuses, Is.All.EqualTo(IoStatus.NoSpace));
        h.Faults.Heal();
        for (int i = 3; i < 8; i++)
        {
            written[i] = EngineHarness.Pattern(256 * 1024, 10 + i);
            Assert.That(h.Write((long)i * 4 * Block, written[i], fua: true), Is.EqualTo(IoStatus.Ok), $"write {i} after room returned (a new segment is started)");
        }
        h.Crash();
        foreach (var (i, data) in written.Where(w => w.Key >= 3))
            Assert.That(h.ReadOk((long)i * 4 * Block, data.Length), Is.EqualTo(data), $"write {i} after a crash");
    }

    [Test]
    public void Enospc_in_the_extent_groups_keeps_the_disk_in_service_and_the_records_drain_once_room_returns()
    {
        using var h = new EngineHarness();
        var written = new Dictionary<int, byte[]>();
        for (int b = 0; b < 6; b++)
        {
            written[b] = EngineHarness.Pattern(Block, b);
            Assert.That(h.Write((long)b * Block, written[b], fua: true), Is.EqualTo(IoStatus.Ok));
        }
        h.Faults.Fail("/egroups/", FaultOperation.Write, errno: NativeFile.ENOSPC);
        h.Drain();
        Assert.That(h.Engine.Journal.PendingBytes, Is.GreaterThan(0), "nothing could be drained into a full disk");
        foreach (var (b, data) in written)
            Assert.That(h.ReadOk((long)b * Block, data.Length), Is.EqualTo(data), $"block {b} reads from the journal meanwhile");

        h.Faults.Heal();
        h.Drain();
        h.Drain();
        Assert.That(h.Engine.Journal.PendingBytes, Is.Zero, "once room returned everything drained: the disk was not marked failed");
        h.Restart();
        foreach (var (b, data) in written)
            Assert.That(h.ReadOk((long)b * Block, data.Length), Is.EqualTo(data), $"block {b} after a restart");
        Assert.That(h.Write(20L * Block, EngineHarness.Pattern(4096, 20)), Is.EqualTo(IoStatus.Ok), "new blocks still go to that disk");
    }

    [Test]
    public void Data_writes_are_refused_before_the_file_system_is_full_and_admitted_again_when_space_returns()
    {
        using var h = new EngineHarness();
        var written = EngineHarness.Pattern(4096, 1);
        Assert.That(h.Write(0, written, fua: true), Is.EqualTo(IoStatus.Ok));

        // Less free space than the reserve kept for the journal and metadata: read-only.
        h.Faults.FreeSpaceOverride = 100L << 20;
        h.Engine.SampleFreeSpace();
        Assert.That(h.Engine.IsFull, Is.True);
        Assert.That(h.Write(Block, EngineHarness.Pattern(4096, 2)), Is.EqualTo(IoStatus.NoSpace), "a new block");
        Assert.That(h.Write(0, EngineHarness.Pattern(4096, 3)), Is.EqualTo(IoStatus.NoSpace), "an overwrite needs journal room too");
        Assert.That(h.ReadOk(0, 4096), Is.EqualTo(written), "reads are served");
        Assert.That(h.Unmap(0, Block), Is.EqualTo(IoStatus.Ok), "an unmap, which frees space, is let through");
        Assert.That(h.Write(0, written, fua: true), Is.EqualTo(IoStatus.NoSpace));

        // Room returns: writes are admitted again, with no restart.
        h.Faults.FreeSpaceOverride = 1L << 30;
        h.Engine.SampleFreeSpace();
        Assert.That(h.Engine.IsFull, Is.False);
        Assert.That(h.Write(Block, EngineHarness.Pattern(4096, 2), fua: true), Is.EqualTo(IoStatus.Ok));

        // Just above the reserve: undrained data counts against the free space (it still needs extent space), so
        // writes stop before the 4 MiB above the reserve are used, although this fake file system's free space never
        // shrinks (a real one also shows the journal's growth at each sample).
        h.Faults.FreeSpaceOverride = (128L << 20) + (4L << 20);
        h.Engine.SampleFreeSpace();
        int admitted = 0;
        IoStatus last = IoStatus.Ok;
        for (int i = 0; i < 64 && last == IoStatus.Ok; i++)
        {
            last = h.Write((long)(2 + i) * Block, EngineHarness.Pattern(Block, 100 + i));
            if (last == IoStatus.Ok)
                admitted++;
        }
        Assert.That(last, Is.EqualTo(IoStatus.NoSpace), "4 MiB above the reserve cannot take 64 writes of 64 KiB");
        Assert.That(admitted, Is.InRange(8, 63));
    }
}
