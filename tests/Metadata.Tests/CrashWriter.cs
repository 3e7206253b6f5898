using Microsoft.Extensions.Logging.Abstractions;

namespace StorageAppliance.Metadata.Tests;

/// <summary>
/// The child process of the SIGKILL test: commits large batches, one generation each, forever, and prints
/// "committed G" after each Commit returns. <see cref="Verify"/> checks, after a kill, that every generation is
/// wholly present or wholly absent, and that every one reported committed is present.
/// </summary>
internal static class CrashWriter
{
    public const int BlocksPerBatch = 1000;
    public const int ValueBytes = 64 * 1024;
    public const string ValueKey = "crash-test";

    public static int Run(string path, long first)
    {
        using SqliteMetadataStore store = SqliteMetadataStore.Open(path, NullLogger.Instance);
        for (long g = first; ; g++)
        {
            store.Commit(Batch(g));
            Console.Out.WriteLine($"committed {g}");
            Console.Out.Flush();
        }
    }

    /// <summary>
    /// Generation g: extent group g; vDisk g gets blocks 0..999 (new rows); vDisk 0's blocks 0..999 are rewritten to
    /// point at g (updates); block 0 of vDisk g-1 is deleted; a 64 KiB value is rewritten with the byte g; drained = g.
    /// </summary>
    public static MetadataBatch Batch(long g)
    {
        var batch = new MetadataBatch();
        batch.Add(new MetadataOp.PutEgroup(new EgroupRecord(g, 1, 1, g, 4096, BlocksPerBatch, -1, g)));
        for (int b = 0; b < BlocksPerBatch; b++)
            batch.Add(new MetadataOp.PutBlock(new BlockRecord(g, b, g, b)));
        for (int b = 0; b < BlocksPerBatch; b++)
            batch.Add(new MetadataOp.PutBlock(new BlockRecord(0, b, g, b)));
        batch.Add(new MetadataOp.DeleteBlock(g - 1, 0));
        batch.Add(new MetadataOp.PutValue(ValueKey, Enumerable.Repeat((byte)g, ValueBytes).ToArray()));
        batch.Add(new MetadataOp.SetDrainedSequence(g));
        return batch;
    }

    /// <summary>Checks the store holds exactly generations 1..DrainedSequence, each whole; returns DrainedSequence.</summary>
    public static long Verify(IMetadataStore store, long reportedCommitted)
    {
        long d = store.DrainedSequence;
        Assert.That(d, Is.GreaterThanOrEqualTo(reportedCommitted), "a batch whose Commit returned is missing");

        IReadOnlyList<EgroupRecord> egroups = store.Egroups();
        Assert.That(egroups.Select(e => e.Id), Is.EqualTo(Enumerable.Range(1, (int)d).Select(i => (long)i)), "extent groups are not exactly 1..drained");
        for (long g = 1; g <= d; g++)
        {
            IReadOnlyList<BlockRecord> rows = store.Blocks(g);
            int expected = g == d ? BlocksPerBatch : BlocksPerBatch - 1; // the next generation deleted block 0
            Assert.That(rows, Has.Count.EqualTo(expected), $"generation {g} (drained {d}) is partly there");
            Assert.That(rows.All(r => r.EgroupId == g), Is.True, $"generation {g} has rows of another");
        }
        for (long g = d + 1; g <= d + 3; g++)
            Assert.That(store.Blocks(g), Is.Empty, $"generation {g} is past the drained sequence {d} but has rows");

        if (d > 0)
        {
            IReadOnlyList<BlockRecord> rewritten = store.Blocks(0);
            Assert.That(rewritten, Has.Count.EqualTo(BlocksPerBatch));
            Assert.That(rewritten.All(r => r.EgroupId == d), Is.True, "vDisk 0 mixes generations");
            byte[]? value = store.GetValue(ValueKey);
            Assert.That(value, Has.Length.EqualTo(ValueBytes));
            Assert.That(value!.All(b => b == (byte)d), Is.True, "the value is not the drained generation's");
        }
        return d;
    }
}
