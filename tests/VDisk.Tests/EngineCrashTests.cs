using System.Buffers.Binary;
using NUnit.Framework;
using StorageAppliance.Common.Devices;
using StorageAppliance.Director;
using StorageAppliance.Metadata;

namespace StorageAppliance.VDisk.Tests;

/// <summary>
/// Power cuts: a device that drops (or tears) every write not yet made durable, cut at every step of a
/// drain and at random points of a write workload. Nothing acknowledged as durable may be lost and
/// nothing half-written may be visible.
/// </summary>
public sealed class EngineCrashTests
{
    [Test]
    public void Fua_writes_survive_a_power_cut_before_any_drain()
    {
        using var h = new EngineHarness();
        var data = EngineHarness.Pattern(300_000, 1);
        Assert.That(h.Write(12_345, data, fua: true), Is.EqualTo(IoStatus.Ok));
        h.Crash();
        Assert.That(h.ReadOk(12_345, data.Length), Is.EqualTo(data));
    }

    [Test]
    public void Synchronize_cache_makes_earlier_cached_writes_durable()
    {
        using var h = new EngineHarness();
        var data = EngineHarness.Pattern(50_000, 2);
        h.Write(0, data);
        Assert.That(h.V.FlushAsync(EngineHarness.Ctx).AsTask().Result, Is.EqualTo(IoStatus.Ok));
        h.Crash();
        Assert.That(h.ReadOk(0, data.Length), Is.EqualTo(data));
    }

    [Test]
    public void Concurrent_fua_writes_share_journal_syncs()
    {
        // The journal's first sync is held until every write is in, as on a disk whose fdatasync is slow:
        // the 63 writes appended meanwhile must share the next sync instead of taking one each.
        var gate = new GateFileSystem(new PowerCutFileSystem());
        using var h = new EngineHarness(fileSystem: gate);
        long before = h.Engine.Journal.SyncCount;
        gate.Close("/journal/", flushes: true);
        var first = h.V.WriteAsync(0, EngineHarness.Pattern(4096, 0), IoFlags.ForceUnitAccess, EngineHarness.Ctx).AsTask();
        Assert.That(gate.Entered.Wait(TimeSpan.FromSeconds(10)), Is.True, "the first write asked for a sync");
        var writes = Enumerable.Range(1, 63).Select(i => h.V.WriteAsync(i * 4096L, EngineHarness.Pattern(4096, i), IoFlags.ForceUnitAccess, EngineHarness.Ctx).AsTask()).ToList();
        Assert.That(writes.Any(w => w.IsCompleted), Is.False, "no FUA write completes before its sync");
        gate.Open();
        writes.Add(first);
        Assert.That(Task.WhenAll(writes).Result, Is.All.EqualTo(IoStatus.Ok));
        long syncs = h.Engine.Journal.SyncCount - before;
        Assert.That(syncs, Is.InRange(1, 3), "group commit: 64 FUA writes share a few syncs");
    }

    /// <summary>The data a drain works on: new blocks, partial slices over drained data, unmaps, a freed block.</summary>
    private static byte[] PrepareDrainWorkload(EngineHarness h)
    {
        var model = new byte[1 << 20];
        void W(long off, int len, int seed)
        {
            var d = EngineHarness.Pattern(len, seed);
            Assert.That(h.Write(off, d, fua: true), Is.EqualTo(IoStatus.Ok));
            d.CopyTo(model, off);
        }
        W(0, 3 * EngineHarness.BlockSize, 1);
        h.Drain();
        W(1000, 700, 2);                               // partial slice in a drained block
        W(EngineHarness.BlockSize - 100, 300, 3);      // across two drained blocks
        W(5 * EngineHarness.BlockSize + 4096, 8192, 4); // a new block
        Assert.That(h.Unmap(2 * EngineHarness.BlockSize, EngineHarness.BlockSize), Is.EqualTo(IoStatus.Ok)); // frees a block
        Array.Clear(model, 2 * EngineHarness.BlockSize, EngineHarness.BlockSize);
        Assert.That(h.V.FlushAsync(EngineHarness.Ctx).AsTask().Result, Is.EqualTo(IoStatus.Ok));
        return model;
    }

    [TestCase(false)]
    [TestCase(true)]
    public void A_power_cut_at_every_step_of_a_drain_loses_nothing(bool tornWrites)
    {
        int cuts = 0;
        for (int k = 1; k < 500; k++)
        {
            using var h = new EngineHarness();
            var model = PrepareDrainWorkload(h);
            h.PowerFs!.TornWrites = tornWrites;
            h.PowerFs.CrashAfter(k, seed: k);
            h.Drain();
            bool cut = h.PowerFs.PowerIsOff;
            h.Crash();
            Assert.That(h.ReadOk(0, model.Length), Is.EqualTo(model), $"after a cut at step {k} of the drain");
            h.Drain();
            Assert.That(h.ReadOk(0, model.Length), Is.EqualTo(model), $"after draining again (cut at step {k})");
            h.Restart();
            Assert.That(h.ReadOk(0, model.Length), Is.EqualTo(model), $"after a restart (cut at step {k})");
            if (!cut)
            {
                Assert.That(cuts, Is.GreaterThan(5), "the drain should take several device operations");
                return; // the drain finished before step k: every step has been cut
            }
            cuts++;
        }
        Assert.Fail("the drain never finished");
    }

    [Test]
    public void A_power_cut_at_the_metadata_commit_of_a_drain_loses_nothing()
    {
        using var h = new EngineHarness();
        var model = PrepareDrainWorkload(h);
        ((MemoryMetadataStore)h.Meta).CutPowerAtCommit();
        h.Drain();
        h.Crash();
        Assert.That(h.ReadOk(0, model.Length), Is.EqualTo(model));
        h.Drain();
        Assert.That(h.ReadOk(0, model.Length), Is.EqualTo(model));
    }

    [Test]
    public void An_interrupted_drain_leaves_no_orphan_extent_group_after_restart()
    {
        using var h = new EngineHarness();
        Assert.That(h.Write(0, EngineHarness.Pattern(4096, 1), fua: true), Is.EqualTo(IoStatus.Ok));
        ((MemoryMetadataStore)h.Meta).CutPowerAtCommit();
        h.Drain(); // creates an extent group file, then the commit fails
        h.Crash();
        var files = h.PowerFs!.List("/disks/ssd0/egroups", "*.eg");
        Assert.That(files, Is.Empty, "the extent group the failed drain created was removed at start");
        h.Drain();
        Assert.That(h.PowerFs.List("/disks/ssd0/egroups", "*.eg"), Has.Count.EqualTo(1));
    }

    /// <summary>Each 4 KiB unit holds a tagged version: (unit, version) in its first 8 bytes, then a pattern of both.</summary>
    private static byte[] Version(int unit, int version)
    {
        var b = EngineHarness.Pattern(4096, unit * 100_003 + version);
        BinaryPrimitives.WriteInt32LittleEndian(b, unit);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4), version);
        return b;
    }

    [TestCase(1, false)]
    [TestCase(2, true)]
    [TestCase(3, false)]
    [TestCase(4, true)]
    [TestCase(5, false)]
    public void Random_power_cuts_during_a_write_workload_lose_no_durable_write_and_tear_none(int seed, bool tornWrites)
    {
        const int Units = 96; // 1.5 blocks of 64 KiB... over 6 blocks
        var rng = new Random(seed);
        using var h = new EngineHarness();
        var written = new List<int>[Units];     // versions written, in order
        var durable = new int[Units];           // last version known durable (0 = never written)
        for (int u = 0; u < Units; u++)
            written[u] = new List<int> { 0 };
        int nextVersion = 1;
        var sinceDurable = new List<(int Unit, int Version)>();

        for (int round = 0; round < 8; round++)
        {
            h.PowerFs!.TornWrites = tornWrites;
            h.PowerFs.CrashAfter(rng.Next(20, 400), seed + round);
            for (int i = 0; i < 300 && !h.PowerFs.PowerIsOff; i++)
            {
                int unit = rng.Next(Units);
                int op = rng.Next(100);
                if (op < 85)
                {
                    int v = nextVersion++;
                    bool fua = op < 25;
                    var status = h.Write(unit * 4096L, Version(unit, v), fua);
                    if (status != IoStatus.Ok)
                    {
                        // The power went during this write. A write that failed may or may not have taken
                        // effect (SCSI leaves the range indeterminate), but it is whole either way.
                        written[unit].Add(v);
                        break;
                    }
                    written[unit].Add(v);
                    sinceDurable.Add((unit, v));
                    if (fua)
                    {
                        // The journal is in order: this FUA made every earlier write durable too.
                        foreach (var (u, ver) in sinceDurable)
                            durable[u] = Math.Max(durable[u], ver);
                        sinceDurable.Clear();
                    }
                }
                else if (op < 95)
                {
                    h.Engine.RequestDrain();
                }
                else
                {
                    h.Drain();
                }
            }
            h.Crash();
            sinceDurable.Clear();
            for (int u = 0; u < Units; u++)
            {
                var data = h.ReadOk(u * 4096L, 4096);
                int v = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(4));
                if (data.AsSpan().IndexOfAnyExcept((byte)0) < 0)
                    v = 0;
                else
                    Assert.That(data, Is.EqualTo(Version(u, v)), $"round {round}: unit {u} holds a torn or foreign version");
                Assert.That(written[u], Does.Contain(v), $"round {round}: unit {u} holds version {v}, never written");
                Assert.That(v, Is.GreaterThanOrEqualTo(durable[u]), $"round {round}: unit {u} lost durable version {durable[u]} (has {v})");
                // Whatever survived is now the durable state.
                int idx = written[u].IndexOf(v);
                written[u].RemoveRange(idx + 1, written[u].Count - idx - 1);
                durable[u] = v;
            }
        }
    }
}
