using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi.Tests.Commands;

public class CompareAndWriteTests
{
    private static byte[] Cdb(ulong lba, byte blocks, byte flags = 0)
    {
        var c = Cdbs.Block(0x89, lba, 0, flags);
        c[13] = blocks;
        return c;
    }

    [Test]
    public void Match_WritesTheSecondHalf()
    {
        var f = LuFixture.Create();
        var old = f.Pattern(2, seed: 1);
        old.CopyTo(f.Memory.Bytes[(8 * 512)..]);
        var next = f.Pattern(2, seed: 9);
        var task = f.Run(Cdb(8, 2), [.. old, .. next]);
        TaskAssert.Good(task);
        Assert.That(task.TransferLength, Is.EqualTo(4 * 512));
        Assert.That(f.DiskBytes(8, 2), Is.EqualTo(next));
    }

    [Test]
    public void Mismatch_IsMiscompareWithTheOffset_AndWritesNothing()
    {
        var f = LuFixture.Create();
        var old = f.Pattern(2, seed: 1);
        old.CopyTo(f.Memory.Bytes[(8 * 512)..]);
        var verify = (byte[])old.Clone();
        verify[2 * 512 - 27] ^= 1;
        var sense = TaskAssert.Check(f.Run(Cdb(8, 2), [.. verify, .. f.Pattern(2, seed: 9)]), SenseCode.MiscompareDuringVerify);
        Assert.That(sense.Information, Is.EqualTo(2 * 512 - 27));
        Assert.That(f.DiskBytes(8, 2), Is.EqualTo(old));
    }

    [Test]
    public void DataOutOfTheWrongSize_IsRefused()
    {
        var f = LuFixture.Create();
        TaskAssert.InvalidCdbField(f.Run(Cdb(0, 1), new byte[4 * 512]), 13, 7);
        TaskAssert.InvalidCdbField(f.Run(Cdb(0, 0), new byte[2 * 512]), 13, 7);
        Assert.That(f.Disk.Calls, Is.Empty);
    }

    [Test]
    public void ZeroBlocks_IsGood()
    {
        var f = LuFixture.Create();
        TaskAssert.Good(f.Run(Cdb(0, 0), Array.Empty<byte>()));
    }

    [Test]
    public void FlagsRangeAndProtection()
    {
        var f = LuFixture.Create(writeCache: true);
        var data = new byte[1024];
        TaskAssert.Good(f.Run(Cdb(0, 1, 0x08), data));
        Assert.That(f.Disk.Writes.Single().Flags, Is.EqualTo(IoFlags.ForceUnitAccess));
        TaskAssert.Good(f.Run(Cdb(0, 1, 0x10), data));
        TaskAssert.InvalidCdbField(f.Run(Cdb(0, 1, 0x20), data), 1, 7);
        TaskAssert.Check(f.Run(Cdb(f.Blocks, 1), data), SenseCode.LbaOutOfRange);
        f.Unit.SoftwareWriteProtect = true;
        TaskAssert.Check(f.Run(Cdb(0, 1), data), SenseCode.SoftwareWriteProtected);
    }

    [Test]
    public void ConcurrentCompareAndWrites_ExactlyOneWins()
    {
        var f = LuFixture.Create();
        f.Disk.Asynchronous = true;
        var zero = new byte[512];
        var tasks = Enumerable.Range(1, 32).Select(i =>
        {
            var mine = Enumerable.Repeat((byte)i, 512).ToArray();
            var t = f.NewTask(Cdb(5, 1), [.. zero, .. mine]);
            return (Task: t, Run: f.Unit.ExecuteAsync(t).AsTask());
        }).ToList();
        Task.WaitAll(tasks.Select(t => t.Run).ToArray());
        Assert.That(tasks.Count(t => t.Task.Status == ScsiStatus.Good), Is.EqualTo(1));
        Assert.That(tasks.Count(t => t.Task.Status == ScsiStatus.CheckCondition), Is.EqualTo(31));
        byte winner = f.DiskBytes(5, 1)[0];
        Assert.That(f.DiskBytes(5, 1), Is.All.EqualTo(winner));
        Assert.That(winner, Is.Not.Zero);
    }

    [Test]
    public void BlockLimits_AdvertisesTheMaximum()
    {
        var f = LuFixture.Create();
        Assert.That(f.Run(Cdbs.Inquiry(255, evpd: true, page: 0xB0)).DataIn.Span[5], Is.EqualTo(255));
    }
}
