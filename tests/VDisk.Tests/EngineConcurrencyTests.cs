using NUnit.Framework;
using StorageAppliance.Director;

namespace StorageAppliance.VDisk.Tests;

/// <summary>
/// Writers and the drainer at the same time. Found through the real appliance (Integration.Tests
/// DataPathTests, fio verify after 64k random writes read zeros, once in a while under load): a write was
/// appended to the journal, and only then indexed in its vDisk's overlay. A drain round that started in
/// between took a drain point past the write's sequence number without seeing it, and when it finished
/// it dropped every overlay entry up to that point, the late-indexed write among them, which had never
/// reached the extent store: acknowledged data read back as zeros. With a 1 ms pause put between the
/// append and the index (every seventh write), this test lost 4 writes a run; the journal now indexes the
/// entry inside the append, before its sequence number is published (IJournalIndex).
/// </summary>
public sealed class EngineConcurrencyTests
{
    [Test]
    public void Writes_racing_drain_rounds_all_read_back()
    {
        using var h = new EngineHarness(vdiskSize: 256 << 20, diskCapacity: 512 << 20);
        const int writers = 8;
        const int perWriter = 4000;
        var stop = new CancellationTokenSource();
        var drainer = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
                h.Engine.DrainAsync().Wait();
        });
        var tasks = Enumerable.Range(0, writers).Select(w => Task.Run(() =>
        {
            for (int i = 0; i < perWriter; i++)
            {
                long offset = ((long)i * writers + w) * 4096 % (256L << 20);
                var status = h.V.WriteAsync(offset, EngineHarness.Pattern(4096, w * perWriter + i), IoFlags.None, EngineHarness.Ctx).AsTask().Result;
                Assert.That(status, Is.EqualTo(IoStatus.Ok));
            }
        })).ToArray();
        Task.WaitAll(tasks);
        stop.Cancel();
        drainer.Wait();
        h.Drain();

        int lost = 0;
        for (int w = 0; w < writers; w++)
        {
            for (int i = 0; i < perWriter; i++)
            {
                long offset = ((long)i * writers + w) * 4096 % (256L << 20);
                if (!h.ReadOk(offset, 4096).AsSpan().SequenceEqual(EngineHarness.Pattern(4096, w * perWriter + i)))
                    lost++;
            }
        }
        Assert.That(lost, Is.Zero, "every acknowledged write reads back after the drains");
    }

    /// <summary>
    /// Data reduction under the same kind of race: writers mixing whole-block writes (reduced inline, many of the same
    /// content) and 4 KiB writes (which move deduplicated blocks back to slots), each reading its block back after
    /// every write, while drain rounds and Curator passes (post-process reduction, collection, compaction, scrub)
    /// run without pause. Every read must return the writer's latest data; so must every block at the end and after
    /// a restart.
    /// </summary>
    [Test]
    public void Reads_stay_right_while_writes_drains_and_curator_passes_race()
    {
        const int B = EngineHarness.BlockSize;
        const int blocks = 128;
        const int writers = 4;
        var reduction = new DataReductionSpec(true, new DataReduction.Chunking.ChunkingOptions(2048, 8192, 32768),
            DataReduction.Compression.CompressionKind.Lz4, 3, Inline: true, PostProcessDelay: TimeSpan.Zero);
        using var h = new EngineHarness(vdiskSize: (long)blocks * B, diskCapacity: 256 << 20, reduction: reduction);
        var model = new byte[blocks][];
        for (int b = 0; b < blocks; b++)
            model[b] = new byte[B];
        var contents = Enumerable.Range(0, 6).Select(k => EngineDedupTests.ImageLike(B, 100 + k)).ToArray();

        var stop = new CancellationTokenSource();
        var drainer = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
                h.Engine.DrainAsync().Wait();
        });
        int passes = 0;
        var curator = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                h.Engine.RunCuratorAsync(scrub: passes % 3 == 0).Wait();
                Interlocked.Increment(ref passes);
            }
        });
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var tasks = Enumerable.Range(0, writers).Select(w => Task.Run(() =>
        {
            var rng = new Random(w);
            var buffer = new byte[B];
            // At least 600 operations each, and on until several Curator passes have run across them.
            for (int i = 0; i < 50_000 && (i < 600 || Volatile.Read(ref passes) < 6); i++)
            {
                int block = rng.Next(blocks / writers) * writers + w;
                long at = (long)block * B;
                if (rng.Next(2) == 0)
                {
                    var c = contents[rng.Next(contents.Length)];
                    Assert.That(h.V.WriteAsync(at, c, IoFlags.None, EngineHarness.Ctx).AsTask().Result, Is.EqualTo(IoStatus.Ok));
                    c.CopyTo(model[block], 0);
                }
                else
                {
                    int slice = rng.Next(B / 4096);
                    var d = EngineHarness.Pattern(4096, w * 100_000 + i);
                    Assert.That(h.V.WriteAsync(at + slice * 4096, d, IoFlags.None, EngineHarness.Ctx).AsTask().Result, Is.EqualTo(IoStatus.Ok));
                    d.CopyTo(model[block], slice * 4096);
                }
                var status = h.V.ReadAsync(at, buffer, EngineHarness.Ctx).AsTask().Result;
                if (status != IoStatus.Ok || !buffer.AsSpan().SequenceEqual(model[block]))
                    failures.Add($"writer {w} op {i}: block {block} read {status}, {(status == IoStatus.Ok ? "wrong data" : "")}");
            }
        })).ToArray();
        Task.WaitAll(tasks);
        stop.Cancel();
        drainer.Wait();
        curator.Wait();
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(10)));
        Assert.That(passes, Is.GreaterThanOrEqualTo(6), "Curator passes ran during the writes");

        h.Drain();
        var report = h.Engine.RunCuratorAsync(scrub: true).Result;
        Assert.That(report.Problems, Is.Empty);
        Assert.That(report.ReferencesFixed, Is.Zero, "the counts kept up with every change");
        for (int b = 0; b < blocks; b++)
            Assert.That(h.ReadOk((long)b * B, B), Is.EqualTo(model[b]), $"block {b} at the end");
        h.Restart();
        for (int b = 0; b < blocks; b++)
            Assert.That(h.ReadOk((long)b * B, B), Is.EqualTo(model[b]), $"block {b} after a restart");
    }
}
