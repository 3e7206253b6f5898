using StorageAppliance.Director;

namespace StorageAppliance.Protocols.Scsi.Tests.Commands;

public class VerifyTests
{
    private const byte BytChk = 0x02;

    [TestCase(0x2F)]
    [TestCase(0xAF)]
    [TestCase(0x8F)]
    public void ByteCheck_MatchingData_IsGood(int opcode)
    {
        var f = LuFixture.Create();
        var data = f.Pattern(4);
        data.CopyTo(f.Memory.Bytes[(10 * 512)..]);
        var task = f.Run(Cdbs.Block((byte)opcode, 10, 4, BytChk), data);
        TaskAssert.Good(task);
        Assert.That(task.TransferLength, Is.EqualTo(4 * 512));
    }

    [TestCase(0)]
    [TestCase(511)]
    [TestCase(1234)]
    [TestCase(2047)]
    public void ByteCheck_Mismatch_IsMiscompareWithTheOffset(int offset)
    {
        var f = LuFixture.Create();
        var data = f.Pattern(4);
        data.CopyTo(f.Memory.Bytes[(10 * 512)..]);
        data[offset] ^= (byte)'X';
        var sense = TaskAssert.Check(f.Run(Cdbs.Block(0x2F, 10, 4, BytChk), data), SenseCode.MiscompareDuringVerify);
        Assert.That(sense.Information, Is.EqualTo(offset));
    }

    [Test]
    public void ByteCheck_MismatchBeyondTheFirstChunk_InDescriptorFormat()
    {
        var f = LuFixture.Create(blocks: 4096);
        f.Unit.DescriptorSense = true;
        var data = f.Pattern(3000);
        data.CopyTo(f.Memory.Bytes);
        int offset = 1_400_000; // past the first 1 MiB read
        data[offset] ^= 1;
        var task = f.Run(Cdbs.Block(0x8F, 0, 3000, BytChk), data);
        var sense = TaskAssert.Check(task, SenseCode.MiscompareDuringVerify);
        Assert.That(sense.Descriptor, Is.True);
        Assert.That(sense.Information, Is.EqualTo(offset));
    }

    [Test]
    public void NoByteCheck_ReadsTheMediumOnly()
    {
        var f = LuFixture.Create();
        var task = f.Run(Cdbs.Block(0x2F, 0, 8), expectedLength: 0);
        TaskAssert.Good(task);
        Assert.That(task.TransferLength, Is.Zero);
        Assert.That(f.Disk.Calls.Single().Operation, Is.EqualTo("read"));
        Assert.That(f.Disk.Calls.Single().Length, Is.EqualTo(8 * 512));
    }

    [Test]
    public void NoByteCheck_WithDifferentDataSent_IsStillGood()
    {
        var f = LuFixture.Create();
        TaskAssert.Good(f.Run(Cdbs.Block(0x2F, 0, 2), f.Pattern(2, seed: 9)));
    }

    [Test]
    public void NoByteCheck_UnreadableMedium_IsMediumError()
    {
        var f = LuFixture.Create();
        f.Disk.Fail("read", IoStatus.MediumError);
        var sense = TaskAssert.Check(f.Run(Cdbs.Block(0x2F, 5, 2)), SenseCode.UnrecoveredReadError);
        Assert.That(sense.Information, Is.EqualTo(5));
    }

    [Test]
    public void ByteCheck10b_IsReserved()
    {
        var f = LuFixture.Create();
        TaskAssert.InvalidCdbField(f.Run(Cdbs.Block(0x2F, 0, 1, 0x04), new byte[512]), 1, 2);
    }

    [Test]
    public void ByteCheck11b_ComparesOneBlockWithEveryBlock()
    {
        var f = LuFixture.Create();
        var block = f.Pattern(1);
        for (int i = 0; i < 4; i++)
            block.CopyTo(f.Memory.Bytes[((20 + i) * 512)..]);
        var task = f.Run(Cdbs.Block(0x8F, 20, 4, 0x06), block);
        TaskAssert.Good(task);
        Assert.That(task.TransferLength, Is.EqualTo(512));

        f.Memory.Bytes[22 * 512 + 3] ^= 1;
        var sense = TaskAssert.Check(f.Run(Cdbs.Block(0x8F, 20, 4, 0x06), block), SenseCode.MiscompareDuringVerify);
        Assert.That(sense.Information, Is.EqualTo(2 * 512 + 3));
    }

    [Test]
    public void VerifyProtect_IsInvalidFieldInCdb()
    {
        var f = LuFixture.Create();
        for (int p = 1; p < 8; p++)
            TaskAssert.InvalidCdbField(f.Run(Cdbs.Block(0x2F, 0, 1, (byte)((p << 5) | BytChk)), new byte[512]), 1, 7);
    }

    [Test]
    public void DpoIsAccepted()
    {
        var f = LuFixture.Create();
        TaskAssert.Good(f.Run(Cdbs.Block(0x2F, 0, 1, 0x10), new byte[512]));
    }

    [Test]
    public void ZeroBlocksAndRange()
    {
        var f = LuFixture.Create();
        TaskAssert.Good(f.Run(Cdbs.Block(0x2F, 0, 0, BytChk)));
        TaskAssert.Check(f.Run(Cdbs.Block(0x2F, f.Blocks + 1, 0, BytChk)), SenseCode.LbaOutOfRange);
        TaskAssert.Check(f.Run(Cdbs.Block(0x2F, 0xFFFFFFFF, 0, BytChk)), SenseCode.LbaOutOfRange);
        TaskAssert.Check(f.Run(Cdbs.Block(0x8F, f.Blocks - 1, 2, BytChk), new byte[1024]), SenseCode.LbaOutOfRange);
        Assert.That(f.Disk.Calls, Is.Empty);
    }

    [Test]
    public void ByteCheck_PartialBlockSent_IsInvalidFieldInInformationUnit()
    {
        var f = LuFixture.Create();
        TaskAssert.Check(f.Run(Cdbs.Block(0x2F, 0, 1, BytChk), new byte[100]), SenseCode.InvalidFieldInInformationUnit);
    }
}

public class WriteAndVerifyTests
{
    [TestCase(0x2E, 0x02)]
    [TestCase(0xAE, 0x02)]
    [TestCase(0x8E, 0x02)]
    [TestCase(0x2E, 0x00)]
    public void WritesDurablyAndReadsBack(int opcode, int bytchk)
    {
        var f = LuFixture.Create(writeCache: true);
        var data = f.Pattern(3);
        var task = f.Run(Cdbs.Block((byte)opcode, 40, 3, (byte)bytchk), data);
        TaskAssert.Good(task);
        Assert.That(f.DiskBytes(40, 3), Is.EqualTo(data));
        Assert.That(f.Disk.Calls.Select(c => c.Operation), Is.EqualTo(new[] { "write", "read" }));
        Assert.That(f.Disk.Writes.Single().Flags & IoFlags.ForceUnitAccess, Is.EqualTo(IoFlags.ForceUnitAccess), "the verify reads the medium, so the data goes there first");
    }

    [Test]
    public void ByteCheck_ReadBackDiffers_IsMiscompare()
    {
        var f = LuFixture.Create();
        f.Disk.CorruptReadAt = 700;
        var sense = TaskAssert.Check(f.Run(Cdbs.Block(0x2E, 0, 2, 0x02), f.Pattern(2)), SenseCode.MiscompareDuringVerify);
        Assert.That(sense.Information, Is.EqualTo(700));
    }

    [Test]
    public void NoByteCheck_ReadBackDiffers_IsGood()
    {
        var f = LuFixture.Create();
        f.Disk.CorruptReadAt = 700;
        TaskAssert.Good(f.Run(Cdbs.Block(0x2E, 0, 2, 0x00), f.Pattern(2)));
    }

    [TestCase(0x04)]
    [TestCase(0x06)]
    public void ReservedByteCheck_IsInvalidFieldInCdb(int flags)
    {
        var f = LuFixture.Create();
        TaskAssert.InvalidCdbField(f.Run(Cdbs.Block(0x2E, 0, 1, (byte)flags), new byte[512]), 1, 2);
        Assert.That(f.Disk.Calls, Is.Empty);
    }

    [Test]
    public void WriteProtect_IsInvalidFieldInCdb()
    {
        var f = LuFixture.Create();
        for (int p = 1; p < 8; p++)
            TaskAssert.InvalidCdbField(f.Run(Cdbs.Block(0x8E, 0, 1, (byte)((p << 5) | 2)), new byte[512]), 1, 7);
    }

    [Test]
    public void WriteFailure_IsReportedAndNothingIsRead()
    {
        var f = LuFixture.Create();
        f.Disk.Fail("write", IoStatus.WriteError);
        var sense = TaskAssert.Check(f.Run(Cdbs.Block(0x2E, 3, 1, 0x02), new byte[512]), SenseCode.WriteError);
        Assert.That(sense.Information, Is.EqualTo(3));
        Assert.That(f.Disk.Calls.Select(c => c.Operation), Is.EqualTo(new[] { "write" }));
    }

    [Test]
    public void ZeroBlocksRangeAndResidual()
    {
        var f = LuFixture.Create();
        TaskAssert.Good(f.Run(Cdbs.Block(0x2E, 0, 0)));
        TaskAssert.Check(f.Run(Cdbs.Block(0x2E, f.Blocks - 1, 2, 2), new byte[1024]), SenseCode.LbaOutOfRange);
        f.Memory.Bytes[..1024].Fill((byte)'a');
        var task = f.Run(Cdbs.Block(0x2E, 0, 2, 2), Enumerable.Repeat((byte)'b', 512).ToArray());
        TaskAssert.Good(task);
        Assert.That(task.TransferLength, Is.EqualTo(1024));
        Assert.That(f.DiskBytes(1, 1), Is.All.EqualTo((byte)'a'));
    }

    [Test]
    public void Asynchronous()
    {
        var f = LuFixture.Create();
        f.Disk.Asynchronous = true;
        TaskAssert.Good(f.Run(Cdbs.Block(0x8E, 0, 2, 2), f.Pattern(2)));
        f.Disk.CorruptReadAt = 1;
        TaskAssert.Check(f.Run(Cdbs.Block(0x8E, 0, 2, 2), f.Pattern(2)), SenseCode.MiscompareDuringVerify);
    }
}
