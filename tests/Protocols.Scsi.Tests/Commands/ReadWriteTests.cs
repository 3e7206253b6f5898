using StorageAppliance.Director;
using StorageAppliance.Protocols.Scsi.Tests.TestDoubles;

namespace StorageAppliance.Protocols.Scsi.Tests.Commands;

public class ReadWriteTests
{
    private static readonly byte[] Reads = [0x28, 0xA8, 0x88];
    private static readonly byte[] Writes = [0x2A, 0xAA, 0x8A];

    [TestCase(0x2A, 0x28)]
    [TestCase(0xAA, 0xA8)]
    [TestCase(0x8A, 0x88)]
    public void WriteThenRead_RoundTrips(int write, int read)
    {
        var f = LuFixture.Create();
        var data = f.Pattern(3);
        TaskAssert.Good(f.Run(Cdbs.Block((byte)write, 100, 3), data));
        Assert.That(f.DiskBytes(100, 3), Is.EqualTo(data));
        var task = f.Run(Cdbs.Block((byte)read, 100, 3));
        TaskAssert.Good(task);
        Assert.That(task.DataIn.ToArray(), Is.EqualTo(data));
        Assert.That(task.TransferLength, Is.EqualTo(3 * 512));
    }

    [Test]
    public void Read6AndWrite6_ZeroLengthMeans256Blocks()
    {
        var f = LuFixture.Create();
        var data = f.Pattern(256);
        TaskAssert.Good(f.Run(Cdbs.Write6(5, 0), data));
        Assert.That(f.DiskBytes(5, 256), Is.EqualTo(data));
        var task = f.Run(Cdbs.Read6(5, 0));
        TaskAssert.Good(task);
        Assert.That(task.DataIn.Length, Is.EqualTo(256 * 512));
        Assert.That(task.DataIn.ToArray(), Is.EqualTo(data));
    }

    [Test]
    public void Read6_AtTheEnd()
    {
        var f = LuFixture.Create();
        TaskAssert.Good(f.Run(Cdbs.Read6((uint)f.Blocks - 4, 4)));
        TaskAssert.Check(f.Run(Cdbs.Read6((uint)f.Blocks - 3, 4)), SenseCode.LbaOutOfRange);
        TaskAssert.Check(f.Run(Cdbs.Read6(0x1FFFFF, 1)), SenseCode.LbaOutOfRange);
    }

    private static IEnumerable<TestCaseData> BeyondEnd()
    {
        foreach (byte op in Reads.Concat(Writes))
        {
            yield return new TestCaseData(op, 2048UL, 1u).SetName($"{op:X2} one block past the end");
            yield return new TestCaseData(op, 2047UL, 2u).SetName($"{op:X2} straddling the end");
            yield return new TestCaseData(op, 0x80000000UL, 1u).SetName($"{op:X2} at 2^31");
            yield return new TestCaseData(op, op is 0x28 or 0x2A or 0xA8 or 0xAA ? 0xFFFFFFFFUL : ulong.MaxValue, 1u).SetName($"{op:X2} at -1");
            yield return new TestCaseData(op, 2049UL, 0u).SetName($"{op:X2} zero blocks past the end");
        }
        yield return new TestCaseData((byte)0x88, 0x8000000000000000UL, 256u).SetName("88 at 2^63");
    }

    [TestCaseSource(nameof(BeyondEnd))]
    public void BeyondTheEnd_IsLbaOutOfRange_AndTouchesNothing(byte opcode, ulong lba, uint blocks)
    {
        var f = LuFixture.Create();
        bool write = Writes.Contains(opcode);
        var task = f.Run(Cdbs.Block(opcode, lba, blocks), write ? new byte[blocks * 512] : null);
        TaskAssert.Check(task, SenseCode.LbaOutOfRange);
        Assert.That(f.Disk.Calls, Is.Empty);
    }

    [Test]
    public void ZeroBlocks_IsGoodAndDoesNoIo()
    {
        var f = LuFixture.Create();
        foreach (byte op in Reads.Concat(Writes))
        {
            var task = f.Run(Cdbs.Block(op, 0, 0));
            TaskAssert.Good(task);
            Assert.That(task.TransferLength, Is.Zero);
        }
        // An LBA equal to the capacity with zero blocks touches no block.
        TaskAssert.Good(f.Run(Cdbs.Block(0x28, f.Blocks, 0)));
        Assert.That(f.Disk.Calls, Is.Empty);
    }

    [Test]
    public void LastBlocks_AreReachable()
    {
        var f = LuFixture.Create();
        for (uint n = 1; n <= 8; n++)
            TaskAssert.Good(f.Run(Cdbs.Block(0x88, f.Blocks - n, n)));
    }

    [TestCase(0x28)]
    [TestCase(0xA8)]
    [TestCase(0x88)]
    [TestCase(0x2A)]
    [TestCase(0xAA)]
    [TestCase(0x8A)]
    public void NonZeroProtectField_IsInvalidFieldInCdb(int opcode)
    {
        var f = LuFixture.Create();
        bool write = Writes.Contains((byte)opcode);
        for (int protect = 1; protect < 8; protect++)
        {
            var task = f.Run(Cdbs.Block((byte)opcode, 0, 1, (byte)(protect << 5)), write ? new byte[512] : null);
            TaskAssert.InvalidCdbField(task, 1, 7);
        }
        Assert.That(f.Disk.Calls, Is.Empty);
    }

    [TestCase(0x10, IoFlags.DisablePageOut)]
    [TestCase(0x08, IoFlags.ForceUnitAccess)]
    [TestCase(0x18, IoFlags.ForceUnitAccess | IoFlags.DisablePageOut)]
    [TestCase(0x02, IoFlags.None)] // FUA_NV alone: accepted, nothing to do (no volatile/non-volatile cache split)
    [TestCase(0x00, IoFlags.None)]
    public void WriteFlags_WithWriteCacheOn(int cdbFlags, IoFlags expected)
    {
        var f = LuFixture.Create(writeCache: true);
        TaskAssert.Good(f.Run(Cdbs.Block(0x2A, 0, 1, (byte)cdbFlags), new byte[512]));
        Assert.That(f.Disk.Writes.Single().Flags, Is.EqualTo(expected));
    }

    [Test]
    public void WriteCacheOff_MakesEveryWriteForceUnitAccess()
    {
        var f = LuFixture.Create(writeCache: false);
        TaskAssert.Good(f.Run(Cdbs.Block(0x2A, 0, 1), new byte[512]));
        TaskAssert.Good(f.Run(Cdbs.Write6(1, 1), new byte[512]));
        Assert.That(f.Disk.Writes.Select(w => w.Flags), Is.All.EqualTo(IoFlags.ForceUnitAccess));
    }

    [Test]
    public void ReadWithDpoFua_IsAccepted()
    {
        var f = LuFixture.Create();
        TaskAssert.Good(f.Run(Cdbs.Block(0x28, 0, 1, 0x18)));
        TaskAssert.Good(f.Run(Cdbs.Block(0x88, 0, 1, 0x1A, group: 3)));
    }

    [Test]
    public void TransferLengthAboveTheMaximum_IsInvalidFieldAtTheLengthField()
    {
        var f = LuFixture.Create(maxTransferBlocks: 64);
        TaskAssert.Good(f.Run(Cdbs.Block(0x28, 0, 64)));
        TaskAssert.InvalidCdbField(f.Run(Cdbs.Block(0x28, 0, 65)), 7, 7);
        TaskAssert.InvalidCdbField(f.Run(Cdbs.Block(0xA8, 0, 65)), 6, 7);
        TaskAssert.InvalidCdbField(f.Run(Cdbs.Block(0x8A, 0, 65), new byte[65 * 512]), 10, 7);
    }

    // Residuals as libiscsi's iSCSIResiduals tests drive them: the command reports the length its CDB implies.
    [TestCase(0u, 0)]
    [TestCase(200u, 200)]
    [TestCase(512u, 512)]
    [TestCase(10000u, 512)]
    public void Read_ReturnsAtMostTheExpectedLength_AndReportsTheCdbLength(uint expected, int returned)
    {
        var f = LuFixture.Create();
        f.Memory.Bytes[..512].Fill(0xA6);
        var task = f.Run(Cdbs.Block(0x28, 0, 1), expectedLength: expected);
        TaskAssert.Good(task);
        Assert.That(task.DataIn.Length, Is.EqualTo(returned));
        Assert.That(task.DataIn.ToArray(), Is.All.EqualTo(0xA6));
        Assert.That(task.TransferLength, Is.EqualTo(512));
    }

    [Test]
    public void Read_TwoBlocksWithRoomForOne()
    {
        var f = LuFixture.Create();
        var task = f.Run(Cdbs.Block(0x28, 0, 2), expectedLength: 512);
        TaskAssert.Good(task);
        Assert.That(task.DataIn.Length, Is.EqualTo(512));
        Assert.That(task.TransferLength, Is.EqualTo(1024));
    }

    [Test]
    public void Write_LessDataThanTheCdbAsks_WritesOnlyWholeBlocksReceived()
    {
        var f = LuFixture.Create();
        f.Memory.Bytes[..1024].Fill((byte)'a');
        var task = f.Run(Cdbs.Block(0x2A, 0, 2), Enumerable.Repeat((byte)'b', 512).ToArray());
        TaskAssert.Good(task);
        Assert.That(task.TransferLength, Is.EqualTo(1024));
        Assert.That(f.DiskBytes(0, 1), Is.All.EqualTo((byte)'b'));
        Assert.That(f.DiskBytes(1, 1), Is.All.EqualTo((byte)'a'));
    }

    [Test]
    public void Write_MoreDataThanTheCdbAsks_WritesOnlyTheCdbLength()
    {
        var f = LuFixture.Create();
        f.Memory.Bytes[..1024].Fill((byte)'a');
        var task = f.Run(Cdbs.Block(0x2A, 0, 1), Enumerable.Repeat((byte)'b', 1024).ToArray());
        TaskAssert.Good(task);
        Assert.That(task.TransferLength, Is.EqualTo(512));
        Assert.That(f.DiskBytes(1, 1), Is.All.EqualTo((byte)'a'));
    }

    [Test]
    public void Write_PartialBlock_IsInvalidFieldInInformationUnit()
    {
        var f = LuFixture.Create();
        var task = f.Run(Cdbs.Block(0x2A, 0, 1), new byte[200]);
        TaskAssert.Check(task, SenseCode.InvalidFieldInInformationUnit);
        Assert.That(f.Disk.Calls, Is.Empty);
    }

    [Test]
    public void Write_NoDataAtAll_IsGoodWithTheCdbLength()
    {
        var f = LuFixture.Create();
        var task = f.Run(Cdbs.Block(0x2A, 0, 1), Array.Empty<byte>());
        TaskAssert.Good(task);
        Assert.That(task.TransferLength, Is.EqualTo(512));
        Assert.That(f.Disk.Calls, Is.Empty);
    }

    [Test]
    public void ReadFailure_IsMediumErrorWithTheLba()
    {
        var f = LuFixture.Create();
        f.Disk.Fail("read", IoStatus.MediumError);
        var sense = TaskAssert.Check(f.Run(Cdbs.Block(0x28, 77, 1)), SenseCode.UnrecoveredReadError);
        Assert.That(sense.Information, Is.EqualTo(77));
    }

    [TestCase(IoStatus.WriteError, SenseKey.MediumError, 0x0C, 0x00)]
    [TestCase(IoStatus.NoSpace, SenseKey.DataProtect, 0x27, 0x07)]
    [TestCase(IoStatus.ReadOnly, SenseKey.DataProtect, 0x27, 0x00)]
    [TestCase(IoStatus.NotReady, SenseKey.NotReady, 0x04, 0x03)]
    public void WriteFailure_MapsToSense(IoStatus status, SenseKey key, int asc, int ascq)
    {
        var f = LuFixture.Create();
        f.Disk.Fail("write", status);
        TaskAssert.Check(f.Run(Cdbs.Block(0x2A, 0, 1), new byte[512]), new SenseCode(key, (byte)asc, (byte)ascq));
    }

    [Test]
    public void BusyVDisk_IsTaskSetFull()
    {
        var f = LuFixture.Create();
        f.Disk.Fail("write", IoStatus.Busy);
        var task = f.Run(Cdbs.Block(0x2A, 0, 1), new byte[512]);
        Assert.That(task.Status, Is.EqualTo(ScsiStatus.TaskSetFull));
    }

    [Test]
    public void AsynchronousCompletion_GivesTheSameOutcome()
    {
        var f = LuFixture.Create();
        f.Disk.Asynchronous = true;
        var data = f.Pattern(4);
        TaskAssert.Good(f.Run(Cdbs.Block(0x8A, 9, 4), data));
        var task = f.Run(Cdbs.Block(0x88, 9, 4));
        TaskAssert.Good(task);
        Assert.That(task.DataIn.ToArray(), Is.EqualTo(data));
        f.Disk.Fail("read", IoStatus.MediumError);
        TaskAssert.Check(f.Run(Cdbs.Block(0x88, 9, 4)), SenseCode.UnrecoveredReadError);
    }

    [Test]
    public void ReadOnlyUnit_RefusesWritesButReads()
    {
        var f = LuFixture.Create(readOnly: true);
        TaskAssert.Check(f.Run(Cdbs.Block(0x2A, 0, 1), new byte[512]), SenseCode.WriteProtected);
        TaskAssert.Good(f.Run(Cdbs.Block(0x28, 0, 1)));
        Assert.That(f.Disk.Writes, Is.Empty);
    }

    [Test]
    public void FourKiBlocks()
    {
        var f = LuFixture.Create(blocks: 64, blockSize: 4096);
        var data = f.Pattern(2);
        TaskAssert.Good(f.Run(Cdbs.Block(0x2A, 62, 2), data));
        Assert.That(f.Memory.Bytes.Slice(62 * 4096, 8192).ToArray(), Is.EqualTo(data));
        TaskAssert.Check(f.Run(Cdbs.Block(0x28, 63, 2)), SenseCode.LbaOutOfRange);
    }

    [Test]
    public void WriteToTheVDisk_UsesTheNexusContext()
    {
        var f = LuFixture.Create();
        var vdisk = new RecordingContextVDisk();
        var unit = new LogicalUnit(vdisk, new LogicalUnitOptions { SerialNumber = "x", NaaDesignator = LuFixture.Naa }, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        unit.AddNexus(f.Nexus);
        var task = f.NewTask(Cdbs.Block(0x2A, 0, 1), new byte[512]);
        unit.ExecuteAsync(task).AsTask().Wait(); // unit attention first
        task = f.NewTask(Cdbs.Block(0x2A, 0, 1), new byte[512]);
        unit.ExecuteAsync(task).AsTask().Wait();
        TaskAssert.Good(task);
        Assert.That(vdisk.LastClient, Is.EqualTo(f.Nexus.InitiatorPortName));
    }

    private sealed class RecordingContextVDisk : IVDisk
    {
        public string? LastClient;
        public long Id => 1;
        public string Name => "ctx";
        public long CapacityBytes => 1 << 20;
        public bool SupportsUnmap => false;
        public event Action<IVDisk>? CapacityChanged { add { } remove { } }
        public ValueTask<IoStatus> ReadAsync(long offset, Memory<byte> destination, IoContext context) => new(IoStatus.Ok);
        public ValueTask<IoStatus> WriteAsync(long offset, ReadOnlyMemory<byte> source, IoFlags flags, IoContext context)
        {
            LastClient = context.Client;
            return new(IoStatus.Ok);
        }
        public ValueTask<IoStatus> UnmapAsync(long offset, long length, IoContext context) => new(IoStatus.Ok);
        public ValueTask<IoStatus> FlushAsync(IoContext context) => new(IoStatus.Ok);
        public ValueTask<AllocationRun> GetAllocationAsync(long offset, long maxLength, IoContext context) => new(new AllocationRun(IoStatus.Ok, Math.Min(maxLength, CapacityBytes - offset), true));
    }
}
