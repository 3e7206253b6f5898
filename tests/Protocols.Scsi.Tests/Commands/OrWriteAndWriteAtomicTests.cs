using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi.Tests.Commands;

public class OrWriteTests
{
    [Test]
    public void OrsTheDataIntoTheBlocks()
    {
        var f = LuFixture.Create();
        f.Memory.Bytes.Slice(4 * 512, 2 * 512).Fill(0xA0);
        TaskAssert.Good(f.Run(Cdbs.Block(0x8B, 4, 2), Enumerable.Repeat((byte)0x05, 2 * 512).ToArray()));
        Assert.That(f.DiskBytes(4, 2), Is.All.EqualTo(0xA5));
        TaskAssert.Good(f.Run(Cdbs.Block(0x8B, 4, 1), Enumerable.Repeat((byte)0x5A, 512).ToArray()));
        Assert.That(f.DiskBytes(4, 1), Is.All.EqualTo(0xFF));
        Assert.That(f.DiskBytes(5, 1), Is.All.EqualTo(0xA5));
        Assert.That(f.DiskBytes(6, 1), Is.All.Zero);
    }

    [Test]
    public void OddSizes_OrEveryByte()
    {
        var target = new byte[1031];
        var source = new byte[1031];
        for (int i = 0; i < target.Length; i++)
        {
            target[i] = (byte)(i * 3);
            source[i] = (byte)(i * 7 + 1);
        }
        var expected = target.Zip(source, (a, b) => (byte)(a | b)).ToArray();
        LogicalUnit.Or(target, source);
        Assert.That(target, Is.EqualTo(expected));
    }

    [Test]
    public void ZeroBlocks_RangeProtectionAndFlags()
    {
        var f = LuFixture.Create(writeCache: true);
        TaskAssert.Good(f.Run(Cdbs.Block(0x8B, 0, 0)));
        TaskAssert.Check(f.Run(Cdbs.Block(0x8B, f.Blocks + 1, 0)), SenseCode.LbaOutOfRange);
        TaskAssert.Check(f.Run(Cdbs.Block(0x8B, f.Blocks - 1, 2), new byte[1024]), SenseCode.LbaOutOfRange);
        TaskAssert.Check(f.Run(Cdbs.Block(0x8B, ulong.MaxValue, 1), new byte[512]), SenseCode.LbaOutOfRange);
        TaskAssert.InvalidCdbField(f.Run(Cdbs.Block(0x8B, 0, 1, 0x20), new byte[512]), 1, 7);
        TaskAssert.Good(f.Run(Cdbs.Block(0x8B, 0, 1, 0x18), new byte[512])); // DPO, FUA
        Assert.That(f.Disk.Writes.Last().Flags, Is.EqualTo(IoFlags.ForceUnitAccess | IoFlags.DisablePageOut));
        TaskAssert.InvalidCdbField(f.Run(Cdbs.Block(0x8B, 0, 1, 0x01), new byte[512]), 1, 0);
        f.Unit.SoftwareWriteProtect = true;
        TaskAssert.Check(f.Run(Cdbs.Block(0x8B, 0, 1), new byte[512]), SenseCode.SoftwareWriteProtected);
    }

    [Test]
    public void AReadError_WritesNothing()
    {
        var f = LuFixture.Create();
        f.Disk.Fail("read", IoStatus.MediumError);
        TaskAssert.Check(f.Run(Cdbs.Block(0x8B, 3, 1), new byte[512]), SenseCode.UnrecoveredReadError);
        Assert.That(f.Disk.Writes, Is.Empty);
    }

    [Test]
    public void ReportSupportedOperationCodes_ShowsDpoAndFua()
    {
        var f = LuFixture.Create();
        var d = f.Run(Cdbs.ReportSupportedOpcodes(1, 0x8B)).DataIn.Span;
        Assert.That(d[1] & 0x07, Is.EqualTo(3), "supported");
        Assert.That(d[4 + 1] & 0x18, Is.EqualTo(0x18));
    }
}

public class WriteAtomicTests
{
    [Test]
    public void WritesTheBlocks()
    {
        var f = LuFixture.Create();
        var data = f.Pattern(4);
        TaskAssert.Good(f.Run(Cdbs.WriteAtomic16(10, 4), data));
        Assert.That(f.DiskBytes(10, 4), Is.EqualTo(data));
        Assert.That(f.Disk.Writes.Single().Length, Is.EqualTo(4 * 512), "one request to the vDisk");
    }

    [Test]
    public void Limits()
    {
        var f = LuFixture.Create(blocks: 4096);
        TaskAssert.Good(f.Run(Cdbs.WriteAtomic16(0, 0)));
        TaskAssert.Good(f.Run(Cdbs.WriteAtomic16(0, 2048), new byte[2048 * 512]));
        TaskAssert.InvalidCdbField(f.Run(Cdbs.WriteAtomic16(0, 2049), new byte[2049 * 512]), 12, 7);
        TaskAssert.InvalidCdbField(f.Run(Cdbs.WriteAtomic16(0, 1, boundary: 1), new byte[512]), 11, 0); // ATOMIC BOUNDARY: none supported
        // The range is checked first: 512 blocks from the last 256 is out of range, whatever the limits say.
        TaskAssert.Check(f.Run(Cdbs.WriteAtomic16(f.Blocks - 256, 512), new byte[512 * 512]), SenseCode.LbaOutOfRange);
        TaskAssert.Check(f.Run(Cdbs.WriteAtomic16(f.Blocks + 1, 0)), SenseCode.LbaOutOfRange);
        TaskAssert.Check(f.Run(Cdbs.WriteAtomic16(1UL << 63, 1), new byte[512]), SenseCode.LbaOutOfRange);
        TaskAssert.InvalidCdbField(f.Run(Cdbs.WriteAtomic16(0, 1, 0x40), new byte[512]), 1, 7);
        TaskAssert.Check(f.Run(Cdbs.WriteAtomic16(0, 2), new byte[512]), SenseCode.InvalidFieldInInformationUnit);
        f.Unit.SoftwareWriteProtect = true;
        TaskAssert.Check(f.Run(Cdbs.WriteAtomic16(0, 1), new byte[512]), SenseCode.SoftwareWriteProtected);
    }

    [Test]
    public void FuaAndDpo()
    {
        var f = LuFixture.Create(writeCache: true);
        TaskAssert.Good(f.Run(Cdbs.WriteAtomic16(0, 1, 0x18), new byte[512]));
        Assert.That(f.Disk.Writes.Single().Flags, Is.EqualTo(IoFlags.ForceUnitAccess | IoFlags.DisablePageOut));
    }

    [Test]
    public void FourKiBBlocks_MaximumIsStillOneMiB()
    {
        var f = LuFixture.Create(blocks: 1024, blockSize: 4096);
        var d = f.Run(Cdbs.Inquiry(255, evpd: true, page: 0xB0)).DataIn.Span;
        Assert.That(LuFixture.U32(d, 44), Is.EqualTo(256));
    }
}
