using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;
using StorageAppliance.Common.Devices;

namespace StorageAppliance.Journal.Tests;

public sealed class JournalTests
{
    private const string Dir = "/j";

    private static Journal NewJournal(IStorageFileSystem fs, long segmentSize = 1 << 20) =>
        new(fs, new JournalOptions { Directory = Dir, SegmentSize = segmentSize, BackgroundFlushInterval = TimeSpan.Zero }, NullLogger.Instance);

    private static byte[] Data(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    [Test]
    public void Records_replay_in_order_with_their_fields_after_a_clean_reopen()
    {
        var fs = new PowerCutFileSystem();
        using (var j = NewJournal(fs))
        {
            j.Open(0);
            j.AppendWrite(7, 4096, Data(1000, 1));
            j.AppendUnmap(7, 0, 1 << 30);
            j.AppendWrite(8, 12, Data(3, 2));
            Assert.That(j.WaitDurableAsync(3).AsTask().Result, Is.True);
        }
        using var again = NewJournal(fs);
        var entries = again.Open(0);
        Assert.That(entries.Select(e => e.Sequence), Is.EqualTo(new long[] { 1, 2, 3 }));
        Assert.That(entries[0].Data.ToArray(), Is.EqualTo(Data(1000, 1)));
        Assert.That((entries[0].VDiskId, entries[0].Offset), Is.EqualTo((7L, 4096L)));
        Assert.That(entries[1].Type, Is.EqualTo(JournalRecordType.Unmap));
        Assert.That(entries[1].Length, Is.EqualTo(1L << 30));
        Assert.That(entries.All(e => e.Recovered), Is.True);
        Assert.That(again.LastSequence, Is.EqualTo(3));
    }

    [Test]
    public void Records_at_or_below_the_drained_sequence_are_not_replayed()
    {
        var fs = new PowerCutFileSystem();
        using (var j = NewJournal(fs))
        {
            j.Open(0);
            for (int i = 0; i < 5; i++)
                j.AppendWrite(1, i * 512, Data(512, i));
            j.WaitDurableAsync(5).AsTask().Wait();
        }
        using var again = NewJournal(fs);
        Assert.That(again.Open(3).Select(e => e.Sequence), Is.EqualTo(new long[] { 4, 5 }));
    }

    [Test]
    public void Unsynced_records_are_lost_in_a_power_cut_and_synced_ones_are_not()
    {
        var fs = new PowerCutFileSystem();
        var j = NewJournal(fs);
        j.Open(0);
        j.AppendWrite(1, 0, Data(512, 1));
        j.AppendWrite(1, 512, Data(512, 2));
        Assert.That(j.WaitDurableAsync(2).AsTask().Result, Is.True);
        j.AppendWrite(1, 1024, Data(512, 3));
        fs.CutPower();
        fs.PowerCycle();
        using var again = NewJournal(fs);
        Assert.That(again.Open(0).Select(e => e.Sequence), Is.EqualTo(new long[] { 1, 2 }));
    }

    [Test]
    public void A_damaged_record_ends_the_replay_of_its_segment()
    {
        var fs = new PowerCutFileSystem();
        using (var j = NewJournal(fs))
        {
            j.Open(0);
            for (int i = 0; i < 4; i++)
                j.AppendWrite(1, i * 512, Data(512, i));
            j.WaitDurableAsync(4).AsTask().Wait();
        }
        string seg = Dir + "/" + fs.List(Dir, "*.jnl").Single();
        // Flip a byte in the payload of the third record (64-byte segment header, 568-byte records).
        fs.Corrupt(seg, 64 + 2 * 568 + 100);
        using var again = NewJournal(fs);
        Assert.That(again.Open(0).Select(e => e.Sequence), Is.EqualTo(new long[] { 1, 2 }));
    }

    [Test]
    public void A_stale_record_in_a_reused_segment_file_is_never_replayed()
    {
        // Segment N's first record is torn but its second survived; after the restart the journal starts
        // a segment at sequence N again, under the same file name. The stale second record must stay dead.
        var fs = new PowerCutFileSystem();
        using (var j = NewJournal(fs, segmentSize: 2048))
        {
            j.Open(0);
            for (int i = 0; i < 6; i++)
                j.AppendWrite(1, i * 512, Data(512, i)); // 568 bytes each: three to a segment
            j.WaitDurableAsync(6).AsTask().Wait();
        }
        var names = fs.List(Dir, "*.jnl");
        Assert.That(names, Has.Count.GreaterThan(1));
        string second = Dir + "/" + names[1];
        fs.Corrupt(second, 64 + 100); // tear the first record of the second segment (sequence 4)
        using (var j = NewJournal(fs, segmentSize: 2048))
        {
            var replayed = j.Open(0);
            Assert.That(replayed.Select(e => e.Sequence), Is.EqualTo(new long[] { 1, 2, 3 }));
            var e = j.AppendWrite(1, 0, Data(512, 99)); // reuses sequence 4, and the file name
            Assert.That(e.Sequence, Is.EqualTo(4));
            j.WaitDurableAsync(4).AsTask().Wait();
        }
        using var third = NewJournal(fs, segmentSize: 2048);
        var final = third.Open(0);
        Assert.That(final.Select(e => e.Sequence), Is.EqualTo(new long[] { 1, 2, 3, 4 }), "the old records 5 and 6 must not come back");
        Assert.That(final[3].Data.ToArray(), Is.EqualTo(Data(512, 99)));
    }

    [Test]
    public void Segments_roll_over_and_drained_ones_are_deleted()
    {
        var fs = new PowerCutFileSystem();
        using var j = NewJournal(fs, segmentSize: 4096);
        j.Open(0);
        for (int i = 0; i < 40; i++)
            j.AppendWrite(1, i * 512, Data(512, i));
        int before = fs.List(Dir, "*.jnl").Count;
        Assert.That(before, Is.GreaterThan(5));
        j.Trim(30);
        int after = fs.List(Dir, "*.jnl").Count;
        Assert.That(after, Is.LessThan(before));
        Assert.That(j.ReadBack(0, 40).Select(e => e.Sequence).First(), Is.LessThanOrEqualTo(31), "records after the drain point are still readable");
    }

    [Test]
    public void Group_commit_shares_one_sync_among_concurrent_waiters()
    {
        var fs = new PowerCutFileSystem();
        using var j = NewJournal(fs);
        j.Open(0);
        for (int i = 0; i < 100; i++)
            j.AppendWrite(1, i * 512, Data(512, i));
        var waits = Enumerable.Range(1, 100).Select(s => j.WaitDurableAsync(s).AsTask()).ToArray();
        Assert.That(Task.WhenAll(waits).Result, Is.All.True);
        Assert.That(j.SyncCount, Is.LessThan(10));
        Assert.That(j.DurableSequence, Is.EqualTo(100));
    }

    [Test]
    public void A_failed_sync_stops_the_journal_taking_writes_with_a_reason()
    {
        var fs = new FaultInjectingFileSystem(new PowerCutFileSystem());
        using var j = NewJournal(fs);
        j.Open(0);
        j.AppendWrite(1, 0, Data(512, 1));
        fs.Fail(".jnl", FaultOperation.Flush);
        Assert.That(j.WaitDurableAsync(1).AsTask().Result, Is.False);
        Assert.That(j.Failure, Does.Contain("fdatasync"));
        Assert.Throws<JournalFailedException>(() => j.AppendWrite(1, 512, Data(512, 2)));
    }

    [Test]
    public void A_failed_append_moves_to_a_fresh_segment_so_later_records_stay_replayable()
    {
        var inner = new PowerCutFileSystem();
        var fs = new FaultInjectingFileSystem(inner);
        using (var j = NewJournal(fs))
        {
            j.Open(0);
            j.AppendWrite(1, 0, Data(512, 1));
            fs.Fail(".jnl", FaultOperation.Write, calls: 1);
            Assert.Throws<JournalFailedException>(() => j.AppendWrite(1, 512, Data(512, 2)));
            var e = j.AppendWrite(1, 1024, Data(512, 3));
            Assert.That(e.Sequence, Is.EqualTo(2), "the failed append did not use up a sequence number");
            j.WaitDurableAsync(2).AsTask().Wait();
        }
        using var again = NewJournal(inner);
        var replayed = again.Open(0);
        Assert.That(replayed.Select(x => x.Sequence), Is.EqualTo(new long[] { 1, 2 }));
        Assert.That(replayed[1].Offset, Is.EqualTo(1024));
    }
    /// <summary>
    /// Found through the real appliance (Integration.Tests CrashRecoveryTests): a clean stop that appended
    /// nothing since its start leaves an empty current segment named for the next sequence number. The next
    /// start named its new segment the same, kept the old one in its list as "fully drained", and its Trim
    /// deleted the file the new segment writes to: every write acknowledged after that start was lost at
    /// the next crash.
    /// </summary>
    [Test]
    public void Records_written_after_two_clean_restarts_in_a_row_survive_a_crash()
    {
        var fs = new PowerCutFileSystem();
        using (var j = NewJournal(fs))
        {
            j.Open(0);
            j.AppendWrite(1, 0, Data(512, 1));
            j.AppendWrite(1, 512, Data(512, 2));
            Assert.That(j.WaitDurableAsync(2).AsTask().Result, Is.True);
            j.Trim(2); // drained and checkpointed
        }
        using (var idle = NewJournal(fs))
            Assert.That(idle.Open(2), Is.Empty, "a start that writes nothing, then a clean stop");
        var j3 = NewJournal(fs);
        Assert.That(j3.Open(2), Is.Empty);
        j3.AppendWrite(1, 1024, Data(512, 3));
        j3.AppendWrite(1, 1536, Data(512, 4));
        Assert.That(j3.WaitDurableAsync(4).AsTask().Result, Is.True, "acknowledged as durable");
        Assert.That(fs.List(Dir, "*.jnl"), Is.Not.Empty, "the segment the records went to is on disk");
        fs.CutPower();
        fs.PowerCycle();
        using var again = NewJournal(fs);
        var replayed = again.Open(2);
        Assert.That(replayed.Select(x => x.Sequence), Is.EqualTo(new long[] { 3, 4 }));
        Assert.That(replayed[1].Data.ToArray(), Is.EqualTo(Data(512, 4)));
    }
}
