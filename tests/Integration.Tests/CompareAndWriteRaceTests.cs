using System.Buffers.Binary;
using System.Diagnostics;

namespace StorageAppliance.Integration.Tests;

/// <summary>
/// COMPARE AND WRITE is atomic against every write to its blocks from any session (SBC-4 COMPARE AND WRITE: the compare and
/// the write are one uninterrupted operation): one session swaps a 512-byte lock block with COMPARE AND WRITE
/// (as VMFS does with ATS) while another session hammers plain WRITEs of increasing sequence numbers. Every
/// block read is one whole version, and the answers (reads, swaps, miscompares) and the final block are
/// explained by one serial order that respects real time, so no acknowledged write is lost under a swap.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class CompareAndWriteRaceTests
{
    private const ulong LockLba = 7;

    private static byte[] Read10(ulong lba) => [0x28, 0, 0, 0, 0, (byte)lba, 0, 0, 1, 0];

    private static byte[] Write10(ulong lba) => [0x2A, 0, 0, 0, 0, (byte)lba, 0, 0, 1, 0];

    private static byte[] CompareAndWrite(ulong lba)
    {
        var c = new byte[16];
        c[0] = 0x89;
        BinaryPrimitives.WriteUInt64BigEndian(c.AsSpan(2), lba);
        c[13] = 1;
        return c;
    }

    /// <summary>The block a value is written as: the 8-byte value repeated 64 times, so a mixed block shows.</summary>
    private static byte[] BlockOf(ulong value)
    {
        var b = new byte[512];
        for (int i = 0; i < 512; i += 8)
            BinaryPrimitives.WriteUInt64BigEndian(b.AsSpan(i), value);
        return b;
    }

    /// <summary>The value of a block, or null when its 64 copies differ (a torn block).</summary>
    private static ulong? ValueOf(byte[] block)
    {
        if (block.Length != 512)
            return null;
        ulong v = BinaryPrimitives.ReadUInt64BigEndian(block);
        for (int i = 8; i < 512; i += 8)
            if (BinaryPrimitives.ReadUInt64BigEndian(block.AsSpan(i)) != v)
                return null;
        return v;
    }

    /// <summary>One operation on the block as the client saw it: sent at Start, answered at End (Stopwatch ticks).</summary>
    internal sealed record Op(string Kind, ulong Compare, ulong Value, bool Ok, long Start, long End)
    {
        public override string ToString() => Kind == "caw" ? $"CAW({Compare:x}->{Value:x}, {(Ok ? "GOOD" : "MISCOMPARE")})" : Kind == "write" ? $"WRITE({Value:x})" : $"READ={Value:x}";
    }

    /// <summary>
    /// Checks a history of blind WRITEs (one session, in order, unique values), COMPARE AND WRITEs and READs
    /// (another session, in order) against the final content of the block: it must be the outcome of one serial
    /// order of the operations that respects real time (an operation answered before another was sent comes first).
    /// Values are unique, so the order of installed values is forced: after value V comes the value of the
    /// successful COMPARE AND WRITE that compared V, else the next WRITE. Returns the violations (empty when consistent).
    /// </summary>
    internal static List<string> CheckSerializable(IReadOnlyList<Op> writes, IReadOnlyList<Op> swapperOps, ulong initial, ulong final)
    {
        var problems = new List<string>();
        var casByCompare = new Dictionary<ulong, Op>();
        foreach (var c in swapperOps.Where(o => o.Kind == "caw" && o.Ok))
            if (!casByCompare.TryAdd(c.Compare, c))
                problems.Add($"two successful {c} and {casByCompare[c.Compare]} compared the same value");

        // The chain of installed values, each with the operation that installed it (null: the initial content).
        var chain = new List<(ulong Value, Op? By)> { (initial, null) };
        var position = new Dictionary<ulong, int> { [initial] = 0 };
        int nextWrite = 0;
        while (true)
        {
            ulong current = chain[^1].Value;
            Op? next = casByCompare.Remove(current, out var cas) ? cas : nextWrite < writes.Count ? writes[nextWrite++] : null;
            if (next is null)
                break;
            if (!position.TryAdd(next.Value, chain.Count))
            {
                problems.Add($"{next} installs a value seen before");
                break;
            }
            chain.Add((next.Value, next));
        }
        foreach (var c in casByCompare.Values)
            problems.Add($"{c} succeeded, but the value it compared was never current in any serial order (a lost update)");
        if (chain[^1].Value != final)
            problems.Add($"the block ends as {final:x}, but the serial order ends with {chain[^1].By} (a lost update)");

        // Real time: no operation placed later in the chain may have been answered before an earlier one was sent.
        long minEndAfter = long.MaxValue;
        for (int i = chain.Count - 1; i >= 1; i--)
        {
            var op = chain[i].By!;
            if (minEndAfter < op.Start)
                problems.Add($"{op} must come after an operation that was answered before it was sent");
            minEndAfter = Math.Min(minEndAfter, op.End);
        }

        // Reads and failed compares: while it ran, the value it saw (or did not see) was current.
        foreach (var o in swapperOps.Where(o => o.Kind == "read" || (o.Kind == "caw" && !o.Ok)))
        {
            ulong v = o.Kind == "read" ? o.Value : o.Compare;
            if (!position.TryGetValue(v, out int p))
            {
                if (o.Kind == "read")
                    problems.Add($"{o} saw a value never installed");
                continue;
            }
            Op? installer = chain[p].By;
            Op? successor = p + 1 < chain.Count ? chain[p + 1].By : null;
            if (o.Kind == "read")
            {
                if (installer is not null && installer.Start > o.End)
                    problems.Add($"{o} saw {installer} before it was sent");
                if (successor is not null && successor.End < o.Start)
                    problems.Add($"{o} saw a value {successor} had replaced before the read was sent (a lost update)");
            }
            else if ((installer is null || installer.End < o.Start) && (successor is null || successor.Start > o.End))
            {
                problems.Add($"{o} miscompared although {v:x} was current for the whole command");
            }
        }
        return problems;
    }

    [Test]
    public void CompareAndWrite_FromOneSession_AgainstWritesFromAnother_IsSerializable()
    {
        using var appliance = ApplianceProcess.Start(ApplianceProcess.SimpleConfig("64MiB"));
        using var swapper = new RawInitiator(appliance.IscsiPort);
        using var hammer = new RawInitiator(appliance.IscsiPort);
        Assert.That(swapper.Login("iqn.2026-11.test:ats-host1", ApplianceProcess.DefaultTarget), Is.EqualTo(0));
        Assert.That(hammer.Login("iqn.2026-11.test:ats-host2", ApplianceProcess.DefaultTarget), Is.EqualTo(0));
        Assert.That(swapper.ClearUnitAttentions() && hammer.ClearUnitAttentions(), Is.True);
        Assert.That(swapper.ScsiCommandOut(Write10(LockLba), BlockOf(0)).Status, Is.Zero, "the initial value");

        // The writer writes 8000..01h, 8000..02h, ... (high bit set); the swapper's values are 1, 2, ...: all unique.
        const ulong WriterTag = 1UL << 63;
        var stop = new CancellationTokenSource();
        var writes = new List<Op>();
        string? writerError = null;
        var writer = Task.Run(() =>
        {
            for (ulong k = 1; !stop.IsCancellationRequested; k++)
            {
                long start = Stopwatch.GetTimestamp();
                var (status, sense) = hammer.ScsiCommandOut(Write10(LockLba), BlockOf(WriterTag | k));
                long end = Stopwatch.GetTimestamp();
                if (status != 0)
                {
                    writerError = $"plain WRITE {k}: status {status:x2}, sense {Convert.ToHexString(sense)}";
                    return;
                }
                writes.Add(new Op("write", 0, WriterTag | k, true, start, end));
            }
        });

        var ops = new List<Op>();
        var torn = new List<string>();
        int swapped = 0, miscompared = 0;
        ulong nextValue = 1;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(15) && ops.Count < 12000 && writerError is null)
        {
            long rs0 = Stopwatch.GetTimestamp();
            var (rs, current) = swapper.ScsiCommandIn(Read10(LockLba), 512);
            ops.Add(new Op("read", 0, ValueOf(current) ?? ulong.MaxValue, true, rs0, Stopwatch.GetTimestamp()));
            Assert.That(rs, Is.Zero);
            if (ValueOf(current) is not { } seen)
            {
                torn.Add($"read {ops.Count}: {Convert.ToHexString(current, 0, 16)}...");
                continue;
            }
            // Swap only the value just read: success means nothing was written in between.
            ulong value = nextValue++;
            long cs0 = Stopwatch.GetTimestamp();
            var (status, sense) = swapper.ScsiCommandOut(CompareAndWrite(LockLba), [.. BlockOf(seen), .. BlockOf(value)]);
            long cs1 = Stopwatch.GetTimestamp();
            if (status == 0)
            {
                swapped++;
            }
            else
            {
                Assert.That(status, Is.EqualTo(0x02), "GOOD or CHECK CONDITION");
                Assert.That(sense[2] & 0x0F, Is.EqualTo(0x0E), "MISCOMPARE");
                Assert.That((sense[12], sense[13]), Is.EqualTo(((byte)0x1D, (byte)0x00)));
                // SBC-4 COMPARE AND WRITE: the sense INFORMATION field is the offset of the first differing byte; a whole-block value differs in byte 0..7.
                uint offset = BinaryPrimitives.ReadUInt32BigEndian(sense.AsSpan(3));
                if (offset >= 8)
                    torn.Add($"miscompare at offset {offset}: the compare saw a mixed block");
                miscompared++;
            }
            ops.Add(new Op("caw", seen, value, status == 0, cs0, cs1));
        }
        stop.Cancel();
        Assert.That(writer.Wait(TimeSpan.FromSeconds(30)), Is.True, "the writer stops");
        Assert.That(writerError, Is.Null);
        var (fs, finalBlock) = swapper.ScsiCommandIn(Read10(LockLba), 512);
        Assert.That(fs, Is.Zero);
        ulong? final = ValueOf(finalBlock);
        Assert.That(final, Is.Not.Null, "the final block is one whole value");

        TestContext.Out.WriteLine($"{ops.Count} swapper commands: {swapped} swapped, {miscompared} miscompared, against {writes.Count} plain writes");
        Assert.That(torn, Is.Empty);
        Assert.That(CheckSerializable(writes, ops, 0, final!.Value), Is.Empty, "one serial order explains every answer and the final block");
        Assert.That(swapped, Is.GreaterThan(0), "some COMPARE AND WRITEs won");
        Assert.That(miscompared, Is.GreaterThan(0), "the writer really raced the swapper");
        Assert.That(writes, Has.Count.GreaterThan(100));
    }

    /// <summary>The checker itself: histories with a lost update, a stale read or a spurious miscompare are caught; a serial one passes.</summary>
    [Test]
    public void TheSerializabilityCheck_CatchesLostUpdates()
    {
        const ulong W = 1UL << 63;
        var w1 = new Op("write", 0, W | 1, true, 10, 20);
        var w2 = new Op("write", 0, W | 2, true, 30, 40);
        // Serial: w1, CAW(w1 -> 1), w2; reads along the way.
        var swapper = new List<Op> { new("read", 0, W | 1, true, 21, 22), new("caw", W | 1, 1, true, 23, 35), new("read", 0, W | 2, true, 41, 42) };
        Assert.That(CheckSerializable([w1, w2], swapper, 0, W | 2), Is.Empty);

        // The CAW compared w1 and wrote 1 while w2 was acknowledged, and 1 stayed: w2 is lost.
        var lost = new List<Op> { new("read", 0, W | 1, true, 21, 22), new("caw", W | 1, 1, true, 23, 45), new("read", 0, 1, true, 46, 47) };
        Assert.That(CheckSerializable([w1, w2], lost, 0, 1), Is.Not.Empty, "final value 1 after w2 was acknowledged");
        // A CAW that succeeded comparing w1 although w2 had replaced it before the CAW was sent.
        var stale = new List<Op> { new("read", 0, W | 1, true, 21, 22), new("caw", W | 1, 1, true, 41, 45) };
        Assert.That(CheckSerializable([w1, w2], stale, 0, 1), Is.Not.Empty, "w2 answered before the CAW was sent");
        // A read of w1 sent after w2 and a later CAW were answered.
        var staleRead = new List<Op> { new("caw", W | 1, 1, true, 21, 25), new("read", 0, W | 1, true, 50, 51) };
        Assert.That(CheckSerializable([w1, w2], staleRead, 0, W | 2), Is.Not.Empty);
        // A miscompare against a value that was current throughout.
        var spurious = new List<Op> { new("caw", W | 2, 1, false, 50, 51) };
        Assert.That(CheckSerializable([w1, w2], spurious, 0, W | 2), Is.Not.Empty);
    }

    [Test]
    public void TwoSessionsSwappingOneLock_ExactlyOneWinsEachRound()
    {
        using var appliance = ApplianceProcess.Start(ApplianceProcess.SimpleConfig("64MiB"));
        using var a = new RawInitiator(appliance.IscsiPort);
        using var b = new RawInitiator(appliance.IscsiPort);
        Assert.That(a.Login("iqn.2026-11.test:ats-a", ApplianceProcess.DefaultTarget), Is.EqualTo(0));
        Assert.That(b.Login("iqn.2026-11.test:ats-b", ApplianceProcess.DefaultTarget), Is.EqualTo(0));
        Assert.That(a.ClearUnitAttentions() && b.ClearUnitAttentions(), Is.True);
        var free = new byte[512];
        Assert.That(a.ScsiCommandOut(Write10(LockLba), free).Status, Is.Zero);
        for (int round = 1; round <= 200; round++)
        {
            // Both try to take the free lock at once; then the winner frees it.
            byte[] mineA = Enumerable.Repeat((byte)0xAA, 512).ToArray(), mineB = Enumerable.Repeat((byte)0xBB, 512).ToArray();
            var ta = Task.Run(() => a.ScsiCommandOut(CompareAndWrite(LockLba), [.. free, .. mineA]).Status);
            var tb = Task.Run(() => b.ScsiCommandOut(CompareAndWrite(LockLba), [.. free, .. mineB]).Status);
            int winners = (ta.Result == 0 ? 1 : 0) + (tb.Result == 0 ? 1 : 0);
            Assert.That(winners, Is.EqualTo(1), $"round {round}");
            var owner = ta.Result == 0 ? a : b;
            byte[] held = ta.Result == 0 ? mineA : mineB;
            Assert.That(owner.ScsiCommandIn(Read10(LockLba), 512).Data, Is.EqualTo(held));
            Assert.That(owner.ScsiCommandOut(CompareAndWrite(LockLba), [.. held, .. free]).Status, Is.Zero);
        }
    }
}
