using Microsoft.Extensions.Logging.Abstractions;
using StorageAppliance.Protocols.Scsi.Tests.TestDoubles;

namespace StorageAppliance.Protocols.Scsi.Tests.Commands;

public class ReadCapacityTests
{
    [Test]
    public void ReadCapacity10_GoldenBytes()
    {
        var f = LuFixture.Create(blocks: 2048);
        var task = f.Run(Cdbs.ReadCapacity10());
        TaskAssert.Good(task);
        Assert.That(task.DataIn.ToArray(), Is.EqualTo(new byte[] { 0x00, 0x00, 0x07, 0xFF, 0x00, 0x00, 0x02, 0x00 }));
    }

    [Test]
    public void ReadCapacity16_GoldenBytes_Thin()
    {
        var f = LuFixture.Create(blocks: 2048);
        var task = f.Run(Cdbs.ReadCapacity16(32));
        TaskAssert.Good(task);
        var expected = new byte[32];
        expected[6] = 0x07;
        expected[7] = 0xFF;
        expected[10] = 0x02;
        expected[14] = 0xC0; // LBPME, LBPRZ
        Assert.That(task.DataIn.ToArray(), Is.EqualTo(expected));
    }

    [TestCase(512, 0, 0)]
    [TestCase(512, 4096, 3)]
    [TestCase(4096, 4096, 0)]
    [TestCase(4096, 0, 0)]
    public void ReadCapacity16_LogicalBlocksPerPhysicalBlockExponent(int logical, int physical, int exponent)
    {
        var memory = new TestDoubles.MemoryVDisk(1 << 20);
        var unit = new LogicalUnit(memory, new LogicalUnitOptions
        {
            SerialNumber = "s",
            NaaDesignator = LuFixture.Naa,
            LogicalBlockSize = logical,
            PhysicalBlockSize = physical,
        }, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var nexus = LuFixture.NewNexus("iqn.1994-05.com.example:h", 1);
        unit.AddNexus(nexus);
        var task = new ScsiTask { Nexus = nexus };
        for (int i = 0; i < 2; i++) // the first reports the power-on unit attention
        {
            task.Reset();
            task.Nexus = nexus;
            Cdbs.ReadCapacity16(32).CopyTo(task.CdbBuffer, 0);
            task.CdbLength = 16;
            task.ExpectedTransferLength = 32;
            unit.ExecuteAsync(task).AsTask().GetAwaiter().GetResult();
        }
        TaskAssert.Good(task);
        Assert.That(task.DataIn.Span[13] & 0x0F, Is.EqualTo(exponent));
    }

    [Test]
    public void ReadCapacity16_Thick_HasNoProvisioningBits()
    {
        var f = LuFixture.Create(thin: false);
        var task = f.Run(Cdbs.ReadCapacity16(32));
        Assert.That(task.DataIn.Span[14], Is.Zero);
        Assert.That(task.DataIn.Span[12], Is.Zero, "no protection information");
    }

    [Test]
    public void ReadCapacity16_AllocationLengthBelow32_IsNotAnError([Range(0, 16)] int allocation)
    {
        var f = LuFixture.Create();
        var task = f.Run(Cdbs.ReadCapacity16((uint)allocation));
        TaskAssert.Good(task);
        Assert.That(task.DataIn.Length, Is.EqualTo(allocation));
        Assert.That(task.TransferLength, Is.EqualTo(allocation));
    }

    [Test]
    public void HugeUnit_ReadCapacity10SaysUseTheSixteenByteForm()
    {
        var unit = new LogicalUnit(new HugeVDisk(512L << 33), new LogicalUnitOptions { SerialNumber = "h", NaaDesignator = LuFixture.Naa }, NullLogger.Instance);
        var nexus = LuFixture.NewNexus("iqn.x", 1);
        unit.AddNexus(nexus);
        ScsiTask Run(byte[] cdb)
        {
            var t = new ScsiTask { Nexus = nexus, CdbLength = cdb.Length, ExpectedTransferLength = 64 };
            cdb.CopyTo(t.CdbBuffer, 0);
            unit.ExecuteAsync(t).AsTask().Wait();
            return t;
        }
        Run(Cdbs.TestUnitReady());
        Assert.That(LuFixture.U32(Run(Cdbs.ReadCapacity10()).DataIn.Span, 0), Is.EqualTo(0xFFFFFFFF));
        Assert.That(LuFixture.U64(Run(Cdbs.ReadCapacity16()).DataIn.Span, 0), Is.EqualTo((1UL << 33) - 1));
        Assert.That(LuFixture.U32(Run(Cdbs.ModeSense6(0x08)).DataIn.Span, 4), Is.EqualTo(0xFFFFFFFF), "short block descriptor");
        TaskAssert.Good(Run(Cdbs.Block(0x88, (1UL << 33) - 1, 1)));
    }

    [Test]
    public void PartialMediumIndicator()
    {
        var f = LuFixture.Create();
        TaskAssert.InvalidCdbField(f.Run(Cdbs.ReadCapacity10(lba: 5, pmi: false)), 2, 7);
        var task = f.Run(Cdbs.ReadCapacity10(lba: 5, pmi: true));
        TaskAssert.Good(task);
        Assert.That(LuFixture.U32(task.DataIn.Span, 0), Is.EqualTo(2047));
    }

    [Test]
    public void CapacityChange_IsAUnitAttentionForEveryNexus_ThenTheNewSize()
    {
        var f = LuFixture.Create(blocks: 2048);
        var other = f.AddNexus();
        f.Memory.Resize(4096 * 512);
        TaskAssert.Check(f.Run(Cdbs.ReadCapacity10()), SenseCode.CapacityDataHasChanged);
        TaskAssert.Check(f.Run(Cdbs.ReadCapacity10(), nexus: other), SenseCode.CapacityDataHasChanged);
        Assert.That(LuFixture.U32(f.Run(Cdbs.ReadCapacity10()).DataIn.Span, 0), Is.EqualTo(4095));
    }
}

public class ReadDefectDataTests
{
    [TestCase(0x00)]
    [TestCase(0x18)]
    [TestCase(0x1D)]
    public void ReadDefectData10_EmptyListsInTheRequestedFormat(int flags)
    {
        var f = LuFixture.Create();
        var task = f.Run(Cdbs.ReadDefectData10((byte)flags));
        TaskAssert.Good(task);
        Assert.That(task.DataIn.ToArray(), Is.EqualTo(new byte[] { 0, (byte)flags, 0, 0 }));
    }

    [Test]
    public void ReadDefectData12()
    {
        var f = LuFixture.Create();
        var task = f.Run(Cdbs.ReadDefectData12(0x0B));
        TaskAssert.Good(task);
        Assert.That(task.DataIn.ToArray(), Is.EqualTo(new byte[] { 0, 0x0B, 0, 0, 0, 0, 0, 0 }));
    }

    [Test]
    public void ReservedFormat_IsInvalid()
    {
        var f = LuFixture.Create();
        TaskAssert.InvalidCdbField(f.Run(Cdbs.ReadDefectData10(0x07)), 2, 2);
    }

    [Test]
    public void AllocationLength()
    {
        var f = LuFixture.Create();
        var task = f.Run(Cdbs.ReadDefectData12(0, allocation: 2));
        Assert.That(task.DataIn.Length, Is.EqualTo(2));
        Assert.That(task.TransferLength, Is.EqualTo(2));
    }
}
