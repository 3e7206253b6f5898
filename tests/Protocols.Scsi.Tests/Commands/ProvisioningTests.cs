using Microsoft.Extensions.Logging.Abstractions;
using StorageAppliance.Protocols.Scsi.Tests.TestDoubles;
using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi.Tests.Commands;

public class UnmapTests
{
    [Test]
    public void ReleasesEveryRangeAndTheyReadBackAsZeros()
    {
        var f = LuFixture.Create();
        f.Memory.Bytes[..(64 * 512)].Fill((byte)'a');
        var list = Cdbs.UnmapList((2, 3), (10, 1), (20, 0));
        TaskAssert.Good(f.Run(Cdbs.Unmap(list.Length), list));
        Assert.That(f.Disk.Calls.Select(c => (c.Operation, c.Offset, c.Length)), Is.EqualTo(new[] { ("unmap", 1024L, 1536L), ("unmap", 5120L, 512L) }));
        Assert.That(f.DiskBytes(2, 3), Is.All.Zero);
        Assert.That(f.DiskBytes(5, 5), Is.All.EqualTo((byte)'a'));
        var read = f.Run(Cdbs.Block(0x28, 2, 3));
        Assert.That(read.DataIn.ToArray(), Is.All.Zero);
    }

    [Test]
    public void ZeroLengthCases_AreGood()
    {
        var f = LuFixture.Create();
        TaskAssert.Good(f.Run(Cdbs.Unmap(0), Array.Empty<byte>()));
        var list = Cdbs.UnmapList((f.Blocks, 0));
        TaskAssert.Good(f.Run(Cdbs.Unmap(list.Length), list));
        list = Cdbs.UnmapList();
        TaskAssert.Good(f.Run(Cdbs.Unmap(list.Length), list));
        Assert.That(f.Disk.Calls, Is.Empty);
    }

    [Test]
    public void AnyRangePastTheEnd_ReleasesNothing()
    {
        var f = LuFixture.Create();
        var list = Cdbs.UnmapList((0, 1), (f.Blocks - 1, 2));
        TaskAssert.Check(f.Run(Cdbs.Unmap(list.Length), list), SenseCode.LbaOutOfRange);
        Assert.That(f.Disk.Calls, Is.Empty);
    }

    [Test]
    public void ShortParameterList_IsParameterListLengthError()
    {
        var f = LuFixture.Create();
        TaskAssert.Check(f.Run(Cdbs.Unmap(7), new byte[7]), SenseCode.ParameterListLengthError);
    }

    [Test]
    public void TooManyDescriptorsOrBlocks_IsInvalidFieldInParameterList()
    {
        var f = LuFixture.Create();
        var many = Cdbs.UnmapList(Enumerable.Range(0, 257).Select(i => ((ulong)i, 1u)).ToArray());
        TaskAssert.InvalidParameter(f.Run(Cdbs.Unmap(many.Length), many), 2);
        var huge = new LogicalUnit(new TestDoubles.HugeVDisk(1L << 40), new LogicalUnitOptions { SerialNumber = "h", NaaDesignator = LuFixture.Naa },
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        huge.AddNexus(f.Nexus);
        var big = Cdbs.UnmapList((0, LogicalUnit.MaxUnmapBlocks), (LogicalUnit.MaxUnmapBlocks, 1));
        var task = f.NewTask(Cdbs.Unmap(big.Length), big);
        huge.ExecuteAsync(task).AsTask().Wait(); // the power-on unit attention
        task = f.NewTask(Cdbs.Unmap(big.Length), big);
        huge.ExecuteAsync(task).AsTask().Wait();
        TaskAssert.InvalidParameter(task, 8 + 16 + 8);
    }

    [Test]
    public void Anchor_IsInvalidFieldInCdb()
    {
        var f = LuFixture.Create();
        var list = Cdbs.UnmapList((0, 1));
        TaskAssert.InvalidCdbField(f.Run(Cdbs.Unmap(list.Length, anchor: true), list), 1, 0);
    }

    [Test]
    public void WriteProtected_IsDataProtect()
    {
        var f = LuFixture.Create();
        f.Unit.SoftwareWriteProtect = true;
        var list = Cdbs.UnmapList((0, 1));
        TaskAssert.Check(f.Run(Cdbs.Unmap(list.Length), list), SenseCode.SoftwareWriteProtected);
    }

    [Test]
    public void VDiskFailure_IsReported()
    {
        var f = LuFixture.Create();
        f.Disk.Fail("unmap", IoStatus.WriteError);
        var list = Cdbs.UnmapList((4, 1));
        TaskAssert.Check(f.Run(Cdbs.Unmap(list.Length), list), SenseCode.WriteError);
    }
}

public class WriteSameTests
{
    [TestCase(0x41)]
    [TestCase(0x93)]
    public void WritesTheBlockOverTheRange(int opcode)
    {
        var f = LuFixture.Create();
        var block = f.Pattern(1, seed: 3);
        TaskAssert.Good(f.Run(Cdbs.Block((byte)opcode, 100, 5), block));
        for (ulong lba = 100; lba < 105; lba++)
            Assert.That(f.DiskBytes(lba, 1), Is.EqualTo(block));
        Assert.That(f.DiskBytes(105, 1), Is.All.Zero);
    }

    [Test]
    public void LargerThanAChunk()
    {
        var f = LuFixture.Create(blocks: 8192);
        var block = f.Pattern(1, seed: 5);
        TaskAssert.Good(f.Run(Cdbs.Block(0x93, 0, 5000), block));
        Assert.That(f.DiskBytes(4999, 1), Is.EqualTo(block));
        Assert.That(f.DiskBytes(5000, 1), Is.All.Zero);
    }

    [Test]
    public void UnmapWithZeros_ReleasesTheRange()
    {
        var f = LuFixture.Create();
        f.Memory.Bytes[..(16 * 512)].Fill(0xFF);
        TaskAssert.Good(f.Run(Cdbs.Block(0x93, 4, 8, 0x08), new byte[512]));
        Assert.That(f.Disk.Calls.Single().Operation, Is.EqualTo("unmap"));
        Assert.That(f.DiskBytes(4, 8), Is.All.Zero);
        Assert.That(f.DiskBytes(12, 1), Is.All.EqualTo(0xFF));
    }

    [Test]
    public void UnmapWithNonZeroData_ReleasesTheRangeAsSbc3Allows()
    {
        // SBC-3: with UNMAP=1 each LBA is either written or unmapped; this unit unmaps, and LBPRZ=1 makes it read zeros.
        var f = LuFixture.Create();
        f.Memory.Bytes[..(8 * 512)].Fill(0xFF);
        TaskAssert.Good(f.Run(Cdbs.Block(0x41, 4, 2, 0x08), f.Pattern(1)));
        Assert.That(f.Disk.Calls.Single().Operation, Is.EqualTo("unmap"));
        Assert.That(f.DiskBytes(4, 2), Is.All.Zero);
        Assert.That(f.DiskBytes(6, 1), Is.All.EqualTo(0xFF));
    }

    [Test]
    public void UnmapOnAThickUnit_IsInvalidFieldAtTheUnmapBit()
    {
        var f = LuFixture.Create(thin: false);
        TaskAssert.InvalidCdbField(f.Run(Cdbs.Block(0x41, 4, 2, 0x08), new byte[512]), 1, 3);
        Assert.That(f.Disk.Calls, Is.Empty);
    }

    [Test]
    public void NoDataOut_WritesOrReleasesZeros()
    {
        var f = LuFixture.Create();
        f.Memory.Bytes[..(16 * 512)].Fill(0xFF);
        var task = f.Run(Cdbs.Block(0x93, 0, 2, 0x01));
        TaskAssert.Good(task);
        Assert.That(task.TransferLength, Is.Zero);
        Assert.That(f.DiskBytes(0, 2), Is.All.Zero);
        TaskAssert.Good(f.Run(Cdbs.Block(0x93, 2, 2, 0x09)));
        Assert.That(f.Disk.Calls.Last().Operation, Is.EqualTo("unmap"));
    }

    [Test]
    public void UnmapOnAThickUnit_IsInvalidFieldInCdb()
    {
        var f = LuFixture.Create(thin: false);
        TaskAssert.InvalidCdbField(f.Run(Cdbs.Block(0x93, 0, 1, 0x08), new byte[512]), 1, 3);
        TaskAssert.Good(f.Run(Cdbs.Block(0x93, 0, 1), new byte[512]));
    }

    [Test]
    public void Anchor_IsInvalidFieldInCdb()
    {
        var f = LuFixture.Create();
        TaskAssert.InvalidCdbField(f.Run(Cdbs.Block(0x93, 0, 1, 0x10), new byte[512]), 1, 4);
        TaskAssert.InvalidCdbField(f.Run(Cdbs.Block(0x93, 0, 1, 0x18), new byte[512]), 1, 4);
    }

    [Test]
    public void AboveTheMaximum_GivenOrImpliedByZeroBlocks_IsInvalidFieldAtTheLength()
    {
        var f = LuFixture.Create(blocks: 65536 + 16);
        // WSNZ=0: zero blocks means "to the end", here 65552 blocks, above the maximum of 32768.
        TaskAssert.InvalidCdbField(f.Run(Cdbs.Block(0x93, 0, 0), new byte[512]), 10, 7);
        TaskAssert.InvalidCdbField(f.Run(Cdbs.Block(0x41, 0, 0), new byte[512]), 7, 7);
        TaskAssert.InvalidCdbField(f.Run(Cdbs.Block(0x41, f.Blocks - 32769, 0), new byte[512]), 7, 7);
        TaskAssert.InvalidCdbField(f.Run(Cdbs.Block(0x93, 0, 65536, 0x08), new byte[512]), 10, 7);
        Assert.That(f.Disk.Calls, Is.Empty);
    }

    [Test]
    public void ZeroBlocks_WritesToTheEndOfTheMedium()
    {
        var f = LuFixture.Create(blocks: 2048);
        var block = f.Pattern(1, seed: 3);
        TaskAssert.Good(f.Run(Cdbs.Block(0x41, 2000, 0), block));
        for (ulong lba = 2000; lba < 2048; lba++)
            Assert.That(f.DiskBytes(lba, 1), Is.EqualTo(block), $"LBA {lba}");
        Assert.That(f.DiskBytes(1999, 1), Is.All.Zero);
        // The largest range allowed: exactly MAXIMUM WRITE SAME LENGTH blocks from the end.
        var big = LuFixture.Create(blocks: 40000);
        TaskAssert.Good(big.Run(Cdbs.Block(0x93, 40000 - 32768, 0, 0x08), new byte[512]));
        Assert.That(big.Disk.Unmaps.Single().Length, Is.EqualTo(32768L * 512));
    }

    [Test]
    public void ZeroBlocksPastTheEnd_IsLbaOutOfRange()
    {
        var f = LuFixture.Create(blocks: 2048);
        TaskAssert.Check(f.Run(Cdbs.Block(0x41, 2048, 0), new byte[512]), SenseCode.LbaOutOfRange);
        TaskAssert.Check(f.Run(Cdbs.Block(0x41, 2049, 0), new byte[512]), SenseCode.LbaOutOfRange);
        TaskAssert.Check(f.Run(Cdbs.Block(0x41, 0xFFFFFFFF, 0), new byte[512]), SenseCode.LbaOutOfRange);
        TaskAssert.Check(f.Run(Cdbs.Block(0x93, 1UL << 63, 0), new byte[512]), SenseCode.LbaOutOfRange);
    }

    [Test]
    public void WrongDataOutSize_IsRefused()
    {
        var f = LuFixture.Create();
        TaskAssert.Check(f.Run(Cdbs.Block(0x93, 0, 1), new byte[256]), SenseCode.InvalidFieldInInformationUnit);
        TaskAssert.Check(f.Run(Cdbs.Block(0x93, 0, 1), new byte[1024]), SenseCode.InvalidFieldInInformationUnit);
    }

    [Test]
    public void RangeProtectAndWriteProtect()
    {
        var f = LuFixture.Create();
        TaskAssert.Check(f.Run(Cdbs.Block(0x93, f.Blocks - 1, 2), new byte[512]), SenseCode.LbaOutOfRange);
        TaskAssert.Check(f.Run(Cdbs.Block(0x93, ulong.MaxValue, 1), new byte[512]), SenseCode.LbaOutOfRange);
        TaskAssert.InvalidCdbField(f.Run(Cdbs.Block(0x93, 0, 1, 0x20), new byte[512]), 1, 7);
        f.Unit.SoftwareWriteProtect = true;
        TaskAssert.Check(f.Run(Cdbs.Block(0x93, 0, 1), new byte[512]), SenseCode.SoftwareWriteProtected);
        Assert.That(f.Disk.Calls, Is.Empty);
    }

    [Test]
    public void WriteCacheOff_WritesDurably()
    {
        var f = LuFixture.Create(writeCache: false);
        TaskAssert.Good(f.Run(Cdbs.Block(0x41, 0, 2), new byte[512]));
        Assert.That(f.Disk.Writes.Single().Flags, Is.EqualTo(IoFlags.ForceUnitAccess));
    }
}

public class GetLbaStatusTests
{
    /// <summary>The descriptors of a GET LBA STATUS reply as (lba, blocks, provisioning status), checked against PARAMETER DATA LENGTH.</summary>
    private static List<(ulong Lba, uint Blocks, int Status)> Descriptors(ScsiTask task)
    {
        TaskAssert.Good(task);
        var d = task.DataIn.ToArray();
        Assert.That(LuFixture.U32(d, 0), Is.EqualTo(d.Length - 4), "PARAMETER DATA LENGTH");
        var list = new List<(ulong, uint, int)>();
        for (int at = 8; at + 16 <= d.Length; at += 16)
            list.Add((LuFixture.U64(d, at), LuFixture.U32(d, at + 8), d[at + 12] & 0x0F));
        return list;
    }

    [Test]
    public void ANeverWrittenDisk_IsOneDeallocatedRunToTheEnd()
    {
        var f = LuFixture.Create(blocks: 2048);
        Assert.That(Descriptors(f.Run(Cdbs.GetLbaStatus(100))), Is.EqualTo(new[] { (100UL, 1948u, 1) }));
    }

    [Test]
    public void WrittenAndUnmappedRanges_AreReportedAsTheyAre()
    {
        var f = LuFixture.Create(blocks: 2048);
        TaskAssert.Good(f.Run(Cdbs.Block(0x2A, 16, 32), f.Pattern(32)));
        TaskAssert.Good(f.Run(Cdbs.Block(0x2A, 100, 8), f.Pattern(8)));
        var list = Cdbs.UnmapList((20, 4));
        TaskAssert.Good(f.Run(Cdbs.Unmap(list.Length), list));
        Assert.That(Descriptors(f.Run(Cdbs.GetLbaStatus(0, 4096))), Is.EqualTo(new[]
        {
            (0UL, 16u, 1), (16UL, 4u, 0), (20UL, 4u, 1), (24UL, 24u, 0), (48UL, 52u, 1), (100UL, 8u, 0), (108UL, 1940u, 1),
        }));
        // SBC-4 (LBA status descriptor relationships): the first descriptor starts at the STARTING LOGICAL BLOCK ADDRESS, even inside a run.
        Assert.That(Descriptors(f.Run(Cdbs.GetLbaStatus(30, 4096)))[0], Is.EqualTo((30UL, 18u, 0)));
    }

    [Test]
    public void TheAllocationLength_BoundsTheDescriptors()
    {
        var f = LuFixture.Create(blocks: 2048);
        for (ulong lba = 0; lba < 40; lba += 2)
            TaskAssert.Good(f.Run(Cdbs.Block(0x2A, lba, 1), f.Pattern(1)));
        Assert.That(Descriptors(f.Run(Cdbs.GetLbaStatus(0, 8 + 3 * 16))), Is.EqualTo(new[] { (0UL, 1u, 0), (1UL, 1u, 1), (2UL, 1u, 0) }));
        var many = Descriptors(f.Run(Cdbs.GetLbaStatus(0, 65536)));
        Assert.That(many, Has.Count.EqualTo(40), "20 written, 19 holes between them, then the rest");
        Assert.That(many[^1], Is.EqualTo((39UL, 2009u, 1)));
        // An allocation length shorter than one descriptor truncates it (SPC-4): the header says what was cut off.
        var task = f.Run(Cdbs.GetLbaStatus(0, 12));
        TaskAssert.Good(task);
        Assert.That(task.DataIn.Length, Is.EqualTo(12));
        Assert.That(LuFixture.U32(task.DataIn.Span, 0), Is.EqualTo(20));
    }

    [Test]
    public void AVDiskWithCoarseAllocation_ReportsAPartlyUnmappedUnitAsMapped()
    {
        var memory = new MemoryVDisk(2048 * 512, allocationUnit: 4096);
        var unit = new LogicalUnit(memory, new LogicalUnitOptions { SerialNumber = "c", NaaDesignator = LuFixture.Naa }, NullLogger.Instance);
        var f = LuFixture.For(unit);
        TaskAssert.Good(f.Run(Cdbs.Block(0x2A, 0, 32), f.Pattern(32)));
        var list = Cdbs.UnmapList((4, 12)); // blocks 8..15 are one whole unit, 4..7 half of one
        TaskAssert.Good(f.Run(Cdbs.Unmap(list.Length), list));
        Assert.That(Descriptors(f.Run(Cdbs.GetLbaStatus(0, 4096))), Is.EqualTo(new[] { (0UL, 8u, 0), (8UL, 8u, 1), (16UL, 16u, 0), (32UL, 2016u, 1) }));
    }

    [Test]
    public void RunsLongerThanTheField_AreSplit_AndTheVDiskIsAskedABoundedNumberOfTimes()
    {
        // 2^33 blocks of nothing: more than the 32-bit NUMBER OF LOGICAL BLOCKS holds.
        var unit = new LogicalUnit(new HugeVDisk(512L << 33), new LogicalUnitOptions { SerialNumber = "h", NaaDesignator = LuFixture.Naa }, NullLogger.Instance);
        var f = LuFixture.For(unit);
        var d = Descriptors(f.Run(Cdbs.GetLbaStatus(0, 4096)));
        Assert.That(d, Is.EqualTo(new[] { (0UL, uint.MaxValue, 1), ((ulong)uint.MaxValue, uint.MaxValue, 1), (2UL * uint.MaxValue, 2u, 1) }));
    }

    [Test]
    public void AFailedQuery_IsReportedWithItsSense()
    {
        var f = LuFixture.Create();
        f.Disk.Fail("allocation", IoStatus.MediumError);
        TaskAssert.Check(f.Run(Cdbs.GetLbaStatus(5)), SenseCode.UnrecoveredReadError);
        f.Disk.Heal();
        f.Disk.Asynchronous = true;
        Assert.That(Descriptors(f.Run(Cdbs.GetLbaStatus(5))), Is.EqualTo(new[] { (5UL, (uint)f.Blocks - 5, 1) }), "through the awaiting path");
    }

    [Test]
    public void BeyondTheEnd()
    {
        var f = LuFixture.Create();
        TaskAssert.Check(f.Run(Cdbs.GetLbaStatus(f.Blocks)), SenseCode.LbaOutOfRange);
        TaskAssert.Check(f.Run(Cdbs.GetLbaStatus(ulong.MaxValue)), SenseCode.LbaOutOfRange);
        TaskAssert.Good(f.Run(Cdbs.GetLbaStatus(f.Blocks - 1)));
    }

    [Test]
    public void ThickUnit_DoesNotOfferIt()
    {
        var f = LuFixture.Create(thin: false);
        TaskAssert.InvalidCdbField(f.Run(Cdbs.GetLbaStatus(0)), 1, 4);
    }
}
