using System.Buffers.Binary;
using System.Diagnostics;

namespace StorageAppliance.Integration.Tests;

/// <summary>
/// COMPARE AND WRITE is atomic against every write to its blocks from any session: one session swaps a
/// 512-byte lock block with COMPARE AND WRITE (as VMFS does with ATS) while another session hammers plain
/// WRITEs of the same block with other patterns. Every block a session ever reads is one whole version, and a
/// MISCOMPARE always points at byte 0 (the compare never sees a block half overwritten).
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

    private static bool Uniform(byte[] block) => block.Length == 512 && !block.AsSpan().ContainsAnyExcept(block[0]);

    [Test]
    public void CompareAndWrite_FromOneSession_AgainstWritesFromAnother_NeverMixes()
    {
        using var appliance = ApplianceProcess.Start(ApplianceProcess.SimpleConfig("64MiB"));
        using var swapper = new RawInitiator(appliance.IscsiPort);
        using var hammer = new RawInitiator(appliance.IscsiPort);
        Assert.That(swapper.Login("iqn.2026-11.test:ats-host1", ApplianceProcess.DefaultTarget), Is.EqualTo(0));
        Assert.That(hammer.Login("iqn.2026-11.test:ats-host2", ApplianceProcess.DefaultTarget), Is.EqualTo(0));
        Assert.That(swapper.ClearUnitAttentions() && hammer.ClearUnitAttentions(), Is.True);

        var stop = new CancellationTokenSource();
        int writes = 0;
        var writer = Task.Run(() =>
        {
            byte pattern = 1;
            while (!stop.IsCancellationRequested)
            {
                var (status, _) = hammer.ScsiCommandOut(Write10(LockLba), Enumerable.Repeat(pattern, 512).ToArray());
                Assert.That(status, Is.Zero, "plain WRITE");
                pattern = (byte)(pattern % 0x7F + 1); // 01h..7Fh: never a lock value
                writes++;
            }
        });

        int swapped = 0, miscompared = 0, rounds = 0;
        var mixed = new List<string>();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(15) && rounds < 4000)
        {
            rounds++;
            var (rs, current) = swapper.ScsiCommandIn(Read10(LockLba), 512);
            Assert.That(rs, Is.Zero);
            if (!Uniform(current))
                mixed.Add($"read before swap {rounds}: {Convert.ToHexString(current, 0, 16)}...");
            byte next = (byte)(0x80 | (rounds & 0x7F)); // 80h..FFh: lock values only the swapper writes
            var (status, sense) = swapper.ScsiCommandOut(CompareAndWrite(LockLba), [.. current, .. Enumerable.Repeat(next, 512)]);
            if (status == 0)
            {
                swapped++;
            }
            else
            {
                Assert.That(status, Is.EqualTo(0x02), "GOOD or CHECK CONDITION");
                Assert.That(sense[2] & 0x0F, Is.EqualTo(0x0E), "MISCOMPARE");
                Assert.That((sense[12], sense[13]), Is.EqualTo(((byte)0x1D, (byte)0x00)));
                uint offset = BinaryPrimitives.ReadUInt32BigEndian(sense.AsSpan(3));
                if (offset != 0)
                    mixed.Add($"miscompare at offset {offset} in round {rounds}: the compare saw a mixed block");
                miscompared++;
            }
            var (after, block) = swapper.ScsiCommandIn(Read10(LockLba), 512);
            Assert.That(after, Is.Zero);
            if (!Uniform(block))
                mixed.Add($"read after swap {rounds}: {Convert.ToHexString(block, 0, 16)}...");
        }
        stop.Cancel();
        writer.Wait(TimeSpan.FromSeconds(30));
        TestContext.Out.WriteLine($"{rounds} rounds: {swapped} swapped, {miscompared} miscompared, against {writes} plain writes");
        Assert.That(mixed, Is.Empty);
        Assert.That(swapped, Is.GreaterThan(0), "some COMPARE AND WRITEs won");
        Assert.That(miscompared, Is.GreaterThan(0), "the writer really raced the swapper");
        Assert.That(writes, Is.GreaterThan(100));
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
